//! Flows of every VXLAN/Geneve corpus capture equal what tshark decodes.
//! The goldens in tests/golden/tshark were made by
//! `sh tests/golden/make_tshark_goldens.sh ../shared/corpus` (TShark 4.0.17).

use serde_json::{json, Value};

use overlay_trace::analyze::{analyze, AnalyzeOptions};
use overlay_trace::report::Report;

use super::common::{crate_root, find_capture, walk};

/// Our flow in the golden's shape.
fn project(f: &overlay_trace::report::FlowRow) -> Value {
    json!({
        "proto": f.proto, "src": f.src, "src_port": f.src_port, "dst": f.dst, "dst_port": f.dst_port,
        "tunnel": f.tunnel.as_ref().map(|t| json!({
            "kind": t.kind, "vni": t.vni, "outer_src": t.outer_src, "outer_src_port": t.outer_src_port,
            "outer_dst": t.outer_dst, "outer_dst_port": t.outer_dst_port,
        })),
        "tunnel_depth": f.tunnels.len(),
        "packets_fwd": f.packets_fwd, "packets_rev": f.packets_rev,
        "bytes_fwd": f.bytes_fwd, "bytes_rev": f.bytes_rev,
    })
}

/// tshark's `-d udp.port==N,vxlan` arguments become our extra VXLAN ports.
fn options_for(golden: &Value) -> AnalyzeOptions {
    let mut opts = AnalyzeOptions::default();
    for a in golden["tshark_args"].as_array().into_iter().flatten() {
        if let Some(port) = a.as_str().and_then(|s| s.strip_prefix("udp.port==")).and_then(|s| s.strip_suffix(",vxlan"))
        {
            opts.decode.vxlan_ports.push(port.parse().unwrap());
        }
    }
    opts
}

#[test]
fn flows_equal_tshark() {
    let goldens: Vec<_> = walk(&crate_root().join("tests/golden/tshark"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".flows.json"))
        .collect();
    assert!(goldens.len() >= 30, "goldens missing: {}", goldens.len());
    let (mut checked, mut failures) = (0, Vec::new());
    for g in &goldens {
        let name = g.file_name().unwrap().to_string_lossy().trim_end_matches(".flows.json").to_string();
        let Some(capture) = find_capture(&name) else {
            eprintln!("note: {name} is neither in fixtures/ nor in ../shared/corpus; skipped");
            continue;
        };
        let golden: Value = serde_json::from_str(&std::fs::read_to_string(g).unwrap()).unwrap();
        let analysis = analyze(std::slice::from_ref(&capture), &options_for(&golden));
        let report = Report::from_analysis(&analysis);
        let ours: Vec<Value> = report.flows.iter().map(|f| project(&f)).collect();
        let theirs = golden["flows"].as_array().unwrap();
        if &ours != theirs {
            let diff: Vec<String> = (0..ours.len().max(theirs.len()))
                .filter(|&i| ours.get(i) != theirs.get(i))
                .take(3)
                .map(|i| {
                    format!(
                        "  flow #{}:\n    ours:   {}\n    tshark: {}",
                        i + 1,
                        ours.get(i).map(|v| v.to_string()).unwrap_or("-".into()),
                        theirs.get(i).map(|v| v.to_string()).unwrap_or("-".into())
                    )
                })
                .collect();
            failures.push(format!("{name}: {} flows vs tshark's {}\n{}", ours.len(), theirs.len(), diff.join("\n")));
        }
        checked += 1;
    }
    eprintln!("compared {checked} captures with tshark");
    assert!(failures.is_empty(), "{} of {checked} differ:\n{}", failures.len(), failures.join("\n"));
}

/// CESNET FlowTest's expectation for its vxlan.pcap: 10.0.0.1 <-> 10.0.0.2
/// ICMP in VNI 123, 4 + 4 packets, 336/336 inner IP bytes, 536/536 outer IP bytes.
#[test]
fn cesnet_vxlan_expectation() {
    let Some(capture) = find_capture("CESNET_FlowTest__vxlan.pcap") else {
        return;
    };
    let report = Report::from_analysis(&analyze(&[capture], &AnalyzeOptions::default()));
    assert_eq!(report.flows.len(), 1);
    let f = &report.flows.to_vec()[0];
    assert_eq!(
        (f.src.to_string().as_str(), f.dst.to_string().as_str(), f.proto.to_string().as_str()),
        ("10.0.0.1", "10.0.0.2", "icmp")
    );
    assert_eq!(f.tunnel.as_ref().unwrap().vni, 123);
    assert_eq!((f.packets_fwd, f.packets_rev), (4, 4));
    // Outer IP bytes = frame bytes less one untagged Ethernet header per packet.
    assert_eq!((f.bytes_fwd - 4 * 14, f.bytes_rev - 4 * 14), (536, 536));
    assert_eq!((f.inner_ip_bytes_fwd, f.inner_ip_bytes_rev), (336, 336));
}
