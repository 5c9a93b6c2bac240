//! Generated captures read back to exactly their ground truth.

use std::path::Path;

use serde_json::{json, Value};

use overlay_trace::analyze::{analyze_with, AnalyzeOptions};
use overlay_trace::capture::Capture;
use overlay_trace::event::EventKind;
use overlay_trace::generate::capture::{self, CaptureOptions};
use overlay_trace::generate::mix::{self, MixOptions, Truth};
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

fn analyze_bytes(name: &str, bytes: Vec<u8>, read_size: usize) -> Report {
    let a = analyze_with(&[Path::new(name).to_path_buf()], &AnalyzeOptions::default(), |p| {
        Capture::from_reader_sized(p, Box::new(std::io::Cursor::new(bytes.clone())), read_size)
    });
    assert!(!a.has_damage(), "{name}: {:?}", a.health.warnings());
    Report::from_analysis(&a)
}

/// The report's flows are the truth's, in its order.
fn check_flows(what: &str, report: &Report, truth: &Truth) {
    assert_eq!(report.captures[0].packets, truth.packets, "{what}");
    let ours: Vec<Value> = report.flows.iter().map(|f| project(&f)).collect();
    let expected: Vec<Value> = truth.flows.iter().map(|f| serde_json::to_value(f).unwrap()).collect();
    assert_eq!(ours.len(), expected.len(), "{what}");
    for (o, e) in ours.iter().zip(&expected) {
        assert_eq!(o, e, "{what}");
    }
}

#[test]
fn mix_reads_back_to_its_truth() {
    for seed in [1, 2, 3] {
        let mut bytes = Vec::new();
        let truth = mix::write(&mut bytes, &MixOptions { seed, concurrent_flows: 50, size: 2 << 20 }).unwrap();
        let report = analyze_bytes("mix.pcapng", bytes, 1 << 16);
        check_flows(&format!("seed {seed}"), &report, &truth);
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

/// The packet-capture-only ETL analyzes to its truth, and `convert` gives
/// back every packet written (times to the ETL's 100 ns), whatever the
/// CPUs and compression.
#[test]
fn capture_etl_reads_back_to_its_truth() {
    let mix = MixOptions { seed: 4, concurrent_flows: 50, size: 2 << 20 };
    let mut converted = Vec::new();
    for (cpus, compress) in [(1, false), (4, false), (4, true)] {
        let what = format!("{cpus} CPUs, compress {compress}");
        let mut etl = std::io::Cursor::new(Vec::new());
        let opts = CaptureOptions { mix: mix.clone(), cpus, compress };
        let (truth, stats) = capture::write(&mut etl, &opts).unwrap();
        let etl = etl.into_inner();
        assert_eq!((stats.events, stats.bytes), (truth.packets, etl.len() as u64), "{what}");
        assert_eq!(stats.compressed_buffers > 0, compress, "{what}");
        check_flows(&what, &analyze_bytes("capture.etl", etl.clone(), 1 << 16), &truth);

        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("capture.etl");
        std::fs::write(&path, &etl).unwrap();
        let result = overlay_trace::convert::convert(&path, Vec::new());
        let (cstats, pcapng) = result.unwrap();
        assert_eq!((cstats.packets, cstats.interfaces, cstats.error), (truth.packets, 1, None), "{what}");
        assert_eq!(cstats.warnings, Vec::<String>::new(), "{what}");

        let mut back =
            Capture::from_reader(Path::new("converted.pcapng"), Box::new(std::io::Cursor::new(pcapng.clone())))
                .unwrap();
        let mut source = capture::packets(&mix);
        let mut n = 0u64;
        while let Some(ev) = back.next_event().unwrap() {
            let EventKind::Packet(p) = &ev.kind else { continue };
            let want = source.next_packet().unwrap_or_else(|| panic!("{what}: packet {n} was never written"));
            assert_eq!(p.data, want.frame, "{what}: packet {n}");
            assert_eq!(ev.ts.0, want.ts.0 / 100 * 100, "{what}: packet {n}");
            assert_eq!(p.meta.direction, want.direction, "{what}: packet {n}");
            n += 1;
        }
        assert!(source.next_packet().is_none(), "{what}: packets written but not read back");
        assert_eq!(n, truth.packets, "{what}");
        converted.push(pcapng);
    }
    // Compression changes the file, not what is in it.
    assert!(converted[1] == converted[2], "compressed and plain ETLs convert differently");
}
