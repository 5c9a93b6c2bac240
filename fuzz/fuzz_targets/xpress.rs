//! The MS-XCA decompressor, bounded output; and compress/decompress round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use overlay_trace::capture::etl::xpress;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let r = xpress::decompress_into(data, &mut out, 1 << 16);
    assert!(out.len() <= 1 << 16);
    // A reused vector is scratch: its old bytes must not show through.
    let mut dirty = vec![0xA5; (1 << 16) + 100];
    assert_eq!(xpress::decompress_into(data, &mut dirty, 1 << 16), r);
    assert_eq!(dirty, out);
    let packed = xpress::compress(data);
    let mut back = Vec::new();
    xpress::decompress_into(&packed, &mut back, data.len()).expect("round trip");
    assert_eq!(back, data);
});
