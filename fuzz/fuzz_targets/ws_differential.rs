#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_upgrade_fuzz::ws_differential(data));
