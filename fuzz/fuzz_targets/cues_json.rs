#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| warpflow_fuzz::cues_json(data));
