#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| griddispatch::fuzz::mqtt_broker(data));
