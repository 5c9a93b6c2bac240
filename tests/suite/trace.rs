//! The facts scenarios.md says an analysis must report, checked on the
//! reference scenario ETLs (fixtures/scenarios, written by `generate`), and
//! path following on real captures.

use std::path::PathBuf;

use overlay_trace::analyze::{analyze, AnalyzeOptions};
use overlay_trace::report::{PathRow, Report, TupleRow};

use super::common::{corpus, fixtures};

fn report(paths: &[PathBuf]) -> Report {
    Report::from_analysis(&analyze(paths, &AnalyzeOptions::default()))
}

fn scenario(name: &str) -> Report {
    report(&[fixtures().join("scenarios").join(format!("{name}.etl"))])
}

fn tuple(t: &TupleRow) -> String {
    format!("{} {}:{} -> {}:{}", t.proto, t.src, t.src_port.unwrap_or(0), t.dst, t.dst_port.unwrap_or(0))
}

fn kinds(p: &PathRow) -> Vec<&str> {
    p.hops.iter().map(|h| h.kind).collect()
}

#[test]
fn scenario_a_nat_in_the_switch() {
    let r = scenario("routing-mesh-nat");
    let sw = "xio0654aj01a6x60kfnoe4r12";
    let rewrites: Vec<(String, String, String)> =
        r.nat.iter().map(|n| (tuple(&n.before), tuple(&n.after), n.point)).collect();
    assert!(rewrites.contains(&(
        "tcp 92.234.68.72:53711 -> 10.0.0.4:80".into(),
        "tcp 10.255.0.2:65408 -> 10.255.0.6:80".into(),
        sw.to_string()
    )));
    assert!(rewrites.contains(&(
        "tcp 10.255.0.6:80 -> 10.255.0.2:65408".into(),
        "tcp 10.0.0.4:80 -> 92.234.68.72:53711".into(),
        sw.to_string()
    )));
    // The SYN: captured, received, routed (new NBL), delivered, captured.
    let syn = &r.paths[0];
    assert_eq!(kinds(syn), ["capture", "received", "routed", "delivered", "capture"]);
    assert_eq!(syn.verdict, "delivered");
    assert_eq!(syn.hops[1].nbl.as_deref(), Some("0xFFFF880A4600B370"));
    assert_eq!(syn.hops[2].nbl.as_deref(), Some("0xFFFF880A492B1030"));
    assert_eq!(syn.latency_us, 232.9);
    let in_switch = syn.hops[3].ts.micros_since(syn.hops[1].ts);
    assert!((in_switch - 201.2).abs() < 1e-6, "{in_switch}");
    let transit =
        r.latency.iter().find(|l| l.from == format!("received@{sw}") && l.to == format!("delivered@{sw}")).unwrap();
    assert_eq!(transit.max_us, 201.2);
}

#[test]
fn scenario_b_vxlan_decapsulated() {
    let r = scenario("vxlan-decap");
    assert_eq!(r.flows.len(), 1, "decapsulated copies belong to the tunnel's flow");
    let f = &r.flows.to_vec()[0];
    assert_eq!(
        (f.proto.to_string().as_str(), f.src.to_string().as_str(), f.dst.to_string().as_str()),
        ("icmp", "10.255.0.5", "10.255.0.7")
    );
    let t = f.tunnel.as_ref().unwrap();
    assert_eq!(
        (t.vni, t.outer_src.to_string().as_str(), t.outer_src_port, t.outer_dst.to_string().as_str(), t.outer_dst_port),
        (4096, "10.0.0.5", 1085, "10.0.0.4", 4789)
    );
    assert_eq!(f.packets_fwd, 1);
    let p = &r.paths[0];
    assert_eq!(kinds(p), ["capture", "received", "routed", "delivered", "capture"]);
    assert!(p.hops[3].point.starts_with("b1937b9d"));
    assert_eq!(p.hops[0].vni, Some(4096));
    assert_eq!(p.hops[4].vni, None, "delivered without the outer headers");
    assert_eq!(p.latency_us, 40.9);
}

#[test]
fn scenario_c_arp_dropped_by_vfp() {
    let r = scenario("arp-drop-vfp");
    assert_eq!(r.drops.len(), 1);
    let d = &r.drops.to_vec()[0];
    assert_eq!(d.by, "Virtual Filtering Platform VMSwitch Extension");
    assert_eq!(d.reason, "Outgoing packet dropped by VFP");
    let arp = r.flows.iter().find(|f| f.proto == "arp").unwrap();
    assert_eq!(d.flow_id, Some(arp.id));
    assert_eq!(
        (arp.src.to_string().as_str(), arp.dst.to_string().as_str(), arp.packets_fwd, arp.packets_rev),
        ("10.255.0.7", "10.255.0.3", 1, 1)
    );
    // The proxied reply: delivered by the switch, never received from a NIC.
    assert!(r.paths.iter().any(|p| kinds(p) == ["delivered", "capture"] && p.flow_id == Some(arp.id)));
    let tcp = r.flows.iter().find(|f| f.proto == "tcp").unwrap();
    assert_eq!(
        (tcp.src.to_string().as_str(), tcp.src_port, tcp.dst.to_string().as_str(), tcp.dst_port),
        ("10.255.0.3", Some(65408), "10.255.0.7", Some(80))
    );
    assert_eq!((tcp.packets_fwd, tcp.packets_rev), (1, 1));
    let (fwd, rev) = (tcp.tunnel.as_ref().unwrap(), tcp.tunnel_rev.as_ref().unwrap());
    assert_eq!((fwd.outer_src_port, fwd.outer_dst_port), (40558, 4789));
    assert_eq!((rev.outer_src.to_string().as_str(), rev.outer_src_port), ("10.0.0.4", 37734));
    assert_eq!(tcp.tcp.as_ref().unwrap().handshake_us, Some(277.0));
}

#[test]
fn pktmon_paths_cross_components() {
    let r = report(&[fixtures().join("etl/microsoft_demikernel__PktMon.etl")]);
    assert_eq!(r.paths.len(), 38);
    let points = |p: &PathRow| p.hops.iter().map(|h| h.point.clone()).collect::<Vec<_>>().join(" > ");
    let inbound = r.paths.iter().filter(|p| points(p) == "netvsc.sys > xdp.sys").count();
    let outbound = r.paths.iter().filter(|p| points(p) == "xdp.sys > netvsc.sys > NULL > mlx5.sys").count();
    assert_eq!((inbound, outbound), (19, 19));
}

/// The Kurose-Ross NAT lab's two sides: the home LAN (192.168.1.100) and
/// the ISP side (71.192.34.104), captured on clocks that disagree.
#[test]
fn two_captures_of_a_nat_merged() {
    let Some(c) = corpus() else { return };
    let home = c.join("nat/hamimbinkabir_nyupentest__nat.pcapng");
    let isp = c.join("nat/ph2303_CS-GY-6843__nat.pcapng");
    let r = report(&[home, isp]);
    // The SYN of 192.168.1.100:4335 is at 1253479387.344792 at home and at
    // 1253479387.766539 on the ISP side (tshark frame.time_epoch): the ISP
    // clock runs 0.42 s ahead. (In time since each capture's first frame the
    // SYN is at 7.0757 s and 6.0355 s, 1.04 s apart, because the captures
    // started 1.46 s apart.)
    let offset = r.captures[1].clock_offset_us.unwrap();
    assert!((offset - 421_000.0).abs() < 2_000.0, "{offset}");
    let snat: Vec<_> = r
        .nat
        .iter()
        .filter(|n| n.before.proto == "tcp" && n.before.src == "192.168.1.100" && n.after.src == "71.192.34.104")
        .collect();
    assert!(snat.len() >= 6, "{} TCP source NAT mappings", snat.len());
    assert!(snat.iter().all(|n| n.before.src_port == n.after.src_port && n.before.dst == n.after.dst));
    assert!(snat.iter().any(|n| n.before.src_port == Some(4335) && n.packets >= 20));
}
