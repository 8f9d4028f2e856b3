#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warpflow_fuzz::pipeline_file(data));
