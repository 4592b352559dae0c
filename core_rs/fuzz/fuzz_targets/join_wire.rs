//! libFuzzer entry of the `join_wire` harness (see `src/lib.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zone_opt_core_fuzz::join_wire(data));
