//! Generated captures read back to exactly their ground truth.

use std::path::Path;

use serde_json::{json, Value};

use overlay_trace::analyze::{analyze_with, AnalyzeOptions};
use overlay_trace::capture::Capture;
use overlay_trace::generate::mix::{self, MixOptions};
use overlay_trace::report::{FlowRow, Report};

fn project(f: &FlowRow) -> Value {
    json!({
        "proto": f.proto, "src": f.src, "src_port": f.src_port, "dst": f.dst, "dst_port": f.dst_port,
        "tunnel": f.tunnel.as_ref().map(|t| json!({
            "kind": t.kind, "vni": t.vni, "outer_src": t.outer_src, "outer_src_port": t.outer_src_port,
            "outer_dst": t.outer_dst, "outer_dst_port": t.outer_dst_port,
        })),
        "packets_fwd": f.packets_fwd, "packets_rev": f.packets_rev,
        "bytes_fwd": f.bytes_fwd, "bytes_rev": f.bytes_rev,
    })
}

fn analyze_bytes(bytes: Vec<u8>, read_size: usize) -> Report {
    let a = analyze_with(&[Path::new("mix.pcapng").to_path_buf()], &AnalyzeOptions::default(), |p| {
        Capture::from_reader_sized(p, Box::new(std::io::Cursor::new(bytes.clone())), read_size)
    });
    Report::from_analysis(&a)
}

#[test]
fn mix_reads_back_to_its_truth() {
    for seed in [1, 2, 3] {
        let mut bytes = Vec::new();
        let truth = mix::write(&mut bytes, &MixOptions { seed, concurrent_flows: 50, size: 2 << 20 }).unwrap();
        let report = analyze_bytes(bytes, 1 << 16);
        assert_eq!(report.captures[0].packets, truth.packets, "seed {seed}");
        let ours: Vec<Value> = report.flows.iter().map(project).collect();
        let expected: Vec<Value> = truth.flows.iter().map(|f| serde_json::to_value(f).unwrap()).collect();
        assert_eq!(ours.len(), expected.len(), "seed {seed}");
        for (o, e) in ours.iter().zip(&expected) {
            assert_eq!(o, e, "seed {seed}");
        }
        // Every TCP flow of the mix completes its handshake and closes.
        for f in report.flows.iter().filter(|f| f.proto == "tcp") {
            let tcp = f.tcp.as_ref().unwrap();
            assert_eq!((tcp.state, tcp.retransmissions, tcp.resets), ("closed", 0, 0), "flow {}", f.id);
            assert!(tcp.handshake_us.unwrap() > 0.0);
        }
    }
}

#[test]
fn same_seed_same_bytes() {
    let opts = MixOptions { seed: 9, concurrent_flows: 10, size: 100_000 };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    mix::write(&mut a, &opts).unwrap();
    mix::write(&mut b, &opts).unwrap();
    assert_eq!(a, b);
}
