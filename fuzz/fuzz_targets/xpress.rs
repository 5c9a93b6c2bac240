//! The MS-XCA decompressor, bounded output; and compress/decompress round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use overlay_trace::capture::etl::xpress;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let _ = xpress::decompress_into(data, &mut out, 1 << 16);
    let packed = xpress::compress(data);
    let mut back = Vec::new();
    xpress::decompress_into(&packed, &mut back, data.len()).expect("round trip");
    assert_eq!(back, data);
});
