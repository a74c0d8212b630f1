#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_upgrade_fuzz::h2c_preface(data));
