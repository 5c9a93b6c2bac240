//! The packet decoder's fast path gives what the general decoder gives: on
//! every packet of the fixtures and the corpus, and on those packets with
//! header bytes changed at random (lengths, versions, flags, ports).

use std::path::PathBuf;

use overlay_trace::capture::Capture;
use overlay_trace::event::EventKind;
use overlay_trace::packet::{decode, decode_general, DecodeConfig};

use super::common::{corpus, fixtures, walk};

fn packets() -> Vec<(PathBuf, overlay_trace::event::LinkType, Vec<u8>)> {
    let mut files = walk(&fixtures());
    if let Some(c) = corpus() {
        files.extend(walk(&c));
    }
    let mut out = Vec::new();
    for path in files {
        let Ok(mut capture) = Capture::open(&path) else { continue };
        while let Ok(Some(ev)) = capture.next_event() {
            if let EventKind::Packet(p) = &ev.kind {
                out.push((path.clone(), p.link, p.data.to_vec()));
            }
        }
    }
    out
}

#[test]
fn fast_path_equals_general_decoder() {
    let all = packets();
    for hashes in [false, true] {
        compare(&all, &DecodeConfig { hashes, ..DecodeConfig::default() });
    }
}

fn compare(all: &[(PathBuf, overlay_trace::event::LinkType, Vec<u8>)], cfg: &DecodeConfig) {
    // The fixtures alone hold some 700 packets; with the corpus, 45 000.
    let least = if corpus().is_some() { 10_000 } else { 500 };
    assert!(all.len() > least, "only {} packets", all.len());
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut mutated = 0;
    for (path, link, data) in all {
        assert_eq!(decode(*link, data, cfg), decode_general(*link, data, cfg), "{}", path.display());
        // Header bytes of every layer up to a VXLAN inner TCP header.
        for _ in 0..4 {
            let mut d = data.to_vec();
            if d.is_empty() {
                break;
            }
            let r = next();
            let at = (r as usize >> 8) % d.len().min(110);
            d[at] = match r % 4 {
                0 => 0,
                1 => 0xff,
                2 => d[at] ^ (1 << (r >> 5 & 7)),
                _ => (r >> 16) as u8,
            };
            if r >> 40 & 7 == 0 {
                d.truncate(at);
            }
            mutated += 1;
            assert_eq!(
                decode(*link, &d, cfg),
                decode_general(*link, &d, cfg),
                "{} with byte {at} changed",
                path.display()
            );
        }
    }
    eprintln!("{} packets, {mutated} mutated, equal with hashes {}", all.len(), cfg.hashes);
}
