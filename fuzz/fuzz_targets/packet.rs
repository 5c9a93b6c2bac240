//! Packet decoding (link layers, IP, tunnels) for every link type we know.
#![no_main]
use libfuzzer_sys::fuzz_target;
use overlay_trace::event::LinkType;
use overlay_trace::packet::{decode, DecodeConfig};

const LINKS: [u32; 10] = [0, 1, 12, 14, 101, 105, 108, 113, 127, 276];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let cfg = DecodeConfig::default();
    let d = decode(LinkType(LINKS[first as usize % LINKS.len()]), rest, &cfg);
    assert!(d.tunnel_count() <= overlay_trace::packet::MAX_TUNNEL_DEPTH);
});
