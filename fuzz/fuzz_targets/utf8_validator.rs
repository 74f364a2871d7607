//! Fuzz target: see `pushlab_fuzz::utf8_validator` for what is fed and what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushlab_fuzz::utf8_validator(data));
