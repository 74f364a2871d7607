//! Fuzz target: see `pushlab_fuzz::push_encoders` for what is fed and what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushlab_fuzz::push_encoders(data));
