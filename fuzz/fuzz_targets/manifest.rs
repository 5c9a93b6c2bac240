//! Manifest XML parsing, and decoding arbitrary payloads with a fixed
//! manifest.
#![no_main]
use libfuzzer_sys::fuzz_target;
use overlay_trace::capture::etl::manifest::{Manifest, RawEvent};
use overlay_trace::capture::etl::Guid;

const XML: &str = include_str!("../../tests/data/manifests/ndiscap-wevtutil-shape.xml");

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Manifest::parse(text);
    }
    let m = Manifest::parse(XML).expect("test manifest parses");
    let Some((&id, payload)) = data.split_first() else { return };
    let provider = Guid::parse("2ed6006e-4729-4609-b423-3ee7bcd678ef").expect("guid");
    for id in [1001u16, 1012, 1013, 1016, 1000 + id as u16] {
        let _ = m.decode_raw(&RawEvent { provider, id, version: 0, flags: 0, pointer_size: 8, user_data: payload });
    }
});
