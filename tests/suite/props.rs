//! Property tests: random generated captures read back to exactly their
//! truth; random damage to real captures never panics and never reports
//! more than the undamaged file holds.

use std::path::Path;

use proptest::prelude::*;

use overlay_trace::analyze::{analyze_with, AnalyzeOptions};
use overlay_trace::capture::Capture;
use overlay_trace::generate::mix::{self, MixOptions};
use overlay_trace::report::Report;

use super::common::fixtures;

fn analyze_bytes(bytes: Vec<u8>, read_size: usize) -> Report {
    let a = analyze_with(&[Path::new("prop.pcapng").to_path_buf()], &AnalyzeOptions::default(), |p| {
        Capture::from_reader_sized(p, Box::new(std::io::Cursor::new(bytes.clone())), read_size)
    });
    Report::from_analysis(&a)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn generated_mix_reads_back_to_its_truth(seed in any::<u64>(), flows in 1usize..40, size in 1_000u64..120_000, read in 7usize..5000) {
        let mut bytes = Vec::new();
        let truth = mix::write(&mut bytes, &MixOptions { seed, concurrent_flows: flows, size }).unwrap();
        let r = analyze_bytes(bytes, read);
        prop_assert_eq!(r.captures[0].packets, truth.packets);
        prop_assert_eq!(r.flows.len(), truth.flows.len());
        for (f, t) in r.flows.iter().zip(&truth.flows) {
            prop_assert_eq!((f.src.to_string(), f.src_port, f.dst.to_string(), f.dst_port), (t.src.clone(), t.src_port, t.dst.clone(), t.dst_port));
            prop_assert_eq!((f.packets_fwd, f.packets_rev, f.bytes_fwd, f.bytes_rev), (t.packets_fwd, t.packets_rev, t.bytes_fwd, t.bytes_rev));
            prop_assert_eq!(f.tunnel.as_ref().map(|x| x.vni), t.tunnel.as_ref().map(|x| x.vni));
        }
    }

    #[test]
    fn damage_never_panics(which in 0usize..4, edits in proptest::collection::vec((any::<u32>(), any::<u8>()), 1..12), cut in any::<u32>()) {
        let files = [
            "vxlan/the-tcpdump-group_tcpdump__vxlan.pcap",
            "pcap/mozillazg_ptcpdump__tcp.pcapng",
            "scenarios/arp-drop-vfp.etl",
            "etl/microsoft_demikernel__PktMon.etl",
        ];
        let whole = std::fs::read(fixtures().join(files[which])).unwrap();
        let clean = analyze_bytes(whole.clone(), 1 << 16).captures[0].packets;
        let mut b = whole;
        for (at, x) in edits {
            let i = at as usize % b.len();
            b[i] ^= x | 1;
        }
        b.truncate(cut as usize % (b.len() + 1));
        let len = b.len();
        let r = analyze_bytes(b, 4096);
        if let Some(e) = &r.captures[0].error {
            prop_assert!(e.contains("@0x") || e.contains("first bytes") || e.contains("is empty"), "{}", e);
        }
        // A changed length in a classic pcap record can split one record
        // into several, but never into more than the bytes can hold.
        prop_assert!(r.captures[0].packets as usize <= len / 16 + 1, "{} packets from {} bytes (clean: {})", r.captures[0].packets, len, clean);
    }
}
