//! Fuzz target: see `pushlab_fuzz::connection_core` for what is fed and what must hold.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushlab_fuzz::connection_core(data));
