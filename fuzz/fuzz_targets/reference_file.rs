#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warpflow_fuzz::reference_file(data));
