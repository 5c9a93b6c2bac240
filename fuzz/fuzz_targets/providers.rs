//! Each provider decoder on arbitrary payloads: the first two bytes pick
//! the event id, the third the pointer size.
#![no_main]
use libfuzzer_sys::fuzz_target;
use overlay_trace::capture::etl::providers::{ndiscap, pktmon, rasndiswan, vmswitch};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let id = u16::from_le_bytes([data[0], data[1]]);
    let ptr = if data[2] & 1 == 0 { 4 } else { 8 };
    let payload = &data[3..];
    let _ = ndiscap::fragment(payload);
    let _ = ndiscap::metadata(payload);
    let _ = ndiscap::vmswitch_fragment(payload, ptr);
    let _ = ndiscap::original_length(overlay_trace::event::LinkType::ETHERNET, payload);
    let _ = vmswitch::decode(53 + id % 8, payload, ptr);
    let _ = pktmon::decode(id % 200, payload);
    let _ = rasndiswan::decode(payload);
    let mut r = ndiscap::Reassembler::default();
    for (i, chunk) in payload.chunks(7).enumerate() {
        let _ = r.push(i as u32 % 2, 1, (chunk[0] as u64) << 30, chunk);
    }
});
