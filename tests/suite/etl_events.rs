//! ETL read as events and converted to pcapng, checked against what the
//! Windows tools themselves wrote: pktmon's own text output (PktMon.txt) and
//! its pcapng (PktMon.cap), and tshark's view of a netsh trace.

use std::path::{Path, PathBuf};

use overlay_trace::capture::etl::providers::pktmon;
use overlay_trace::capture::Capture;
use overlay_trace::event::{EventKind, LinkType};
use overlay_trace::packet::{self, DecodeConfig, Proto};

use super::common::corpus;

fn pktmon_dir() -> Option<PathBuf> {
    corpus().map(|c| c.join("etl/pktmon"))
}

/// The fields pktmon prints for a packet event, as text.
#[derive(Debug, PartialEq, Eq)]
struct PktmonLine {
    group: u64,
    number: u16,
    appearance: u16,
    direction: String,
    component: u16,
    edge: u16,
    original_size: u32,
    logged_size: u32,
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let at = line.find(&format!(" {name} ")).unwrap_or_else(|| panic!("{name} missing in {line}"));
    let rest = &line[at + name.len() + 2..];
    rest.split(',').next().unwrap().trim()
}

/// Packet lines of a PktMon.txt (UTF-16LE, as `pktmon format` writes it).
fn pktmon_txt(path: &Path) -> Vec<PktmonLine> {
    let raw = std::fs::read(path).unwrap();
    let units: Vec<u16> = raw.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
    let text = String::from_utf16_lossy(&units);
    text.lines()
        .filter(|l| l.contains("[Microsoft-Windows-PktMon] PktGroupId"))
        .map(|l| PktmonLine {
            group: field(l, "PktGroupId").parse().unwrap(),
            number: field(l, "PktNumber").parse().unwrap(),
            appearance: field(l, "Appearance").parse().unwrap(),
            direction: field(l, "Direction").to_string(),
            component: field(l, "Component").parse().unwrap(),
            edge: field(l, "Edge").parse().unwrap(),
            original_size: field(l, "OriginalSize").parse().unwrap(),
            logged_size: field(l, "LoggedSize").parse().unwrap(),
        })
        .collect()
}

fn our_lines(path: &Path) -> Vec<PktmonLine> {
    let mut c = Capture::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(ev) = c.next_event().unwrap() {
        if let EventKind::Packet(p) = &ev.kind {
            let a = p.meta.pktmon.expect("pktmon packet");
            out.push(PktmonLine {
                group: a.group,
                number: a.number,
                appearance: a.appearance,
                direction: pktmon::direction_name(a.direction).to_string(),
                component: a.component,
                edge: a.edge,
                original_size: p.orig_len,
                logged_size: p.data.len() as u32,
            });
        }
    }
    out
}

#[test]
fn pktmon_events_match_pktmon_text_line_for_line() {
    let Some(dir) = pktmon_dir() else { return };
    for (etl, txt, count) in [
        (
            "nathaniel-security_microsoft-pktmon-VPN-capture-traffic__PktMon.etl",
            "nathaniel-security_microsoft-pktmon-VPN-capture-traffic__PktMon.txt",
            2705,
        ),
        (
            "nathaniel-security_microsoft-pktmon-VPN-capture-traffic__PktMon.7119f51.etl",
            "nathaniel-security_microsoft-pktmon-VPN-capture-traffic__PktMon.7119f51.txt",
            3646,
        ),
    ] {
        let theirs = pktmon_txt(&dir.join(txt));
        let ours = our_lines(&dir.join(etl));
        assert_eq!(theirs.len(), count);
        assert_eq!(ours.len(), theirs.len(), "{etl}");
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(o, t, "{etl}: packet line {}", i + 1);
        }
    }
}

/// Frames of a pcapng as (timestamp ns, bytes), through our own reader.
fn frames(path: &Path) -> Vec<(i64, Vec<u8>)> {
    let mut c = Capture::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(ev) = c.next_event().unwrap() {
        if let EventKind::Packet(p) = &ev.kind {
            out.push((ev.ts.0, p.data.to_vec()));
        }
    }
    out
}

#[test]
fn converted_pktmon_equals_pktmon_cap() {
    let Some(dir) = pktmon_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demikernel.pcapng");
    let file = std::fs::File::create(&out).unwrap();
    let (stats, _) = overlay_trace::convert::convert(&dir.join("microsoft_demikernel__PktMon.etl"), file).unwrap();
    assert_eq!((stats.packets, stats.error.clone()), (114, None));
    let ours = frames(&out);
    let theirs = frames(&dir.join("microsoft_demikernel__PktMon.cap"));
    assert_eq!(ours.len(), 114);
    assert_eq!(theirs.len(), 114);
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(o.1, t.1, "frame {} bytes", i + 1);
        assert!((o.0 - t.0).abs() <= 1_000, "frame {}: {} vs {} ns", i + 1, o.0, t.0);
    }
}

#[test]
fn netsh_trace_yields_its_wifi_frame() {
    let Some(c) = corpus() else { return };
    let etl = c.join("etl/ndiscap/alilje_attackhost_v_1_0_2DEV__trace.etl");
    let mut cap = Capture::open(&etl).unwrap();
    let mut packets = Vec::new();
    while let Some(ev) = cap.next_event().unwrap() {
        if let EventKind::Packet(p) = &ev.kind {
            packets.push((p.link, p.data.to_vec()));
        }
    }
    assert_eq!(packets.len(), 1);
    let (link, data) = &packets[0];
    assert_eq!(*link, LinkType::IEEE802_11);
    let d = packet::decode(*link, data, &DecodeConfig::default());
    let t = d.inner.unwrap();
    assert_eq!(
        (t.proto, t.src.to_string(), t.dst.to_string(), t.dst_port),
        (Proto::Udp, "192.168.1.2".into(), "239.255.255.250".into(), 1900)
    );
    assert!(String::from_utf8_lossy(data).contains("M-SEARCH"));

    // And convert writes it with link type 105.
    let (stats, bytes) = overlay_trace::convert::convert(&etl, Vec::new()).unwrap();
    assert_eq!(stats.packets, 1);
    let mut back = Capture::from_reader(Path::new("wifi.pcapng"), Box::new(std::io::Cursor::new(bytes))).unwrap();
    let ev = back.next_event().unwrap().unwrap();
    let EventKind::Packet(p) = &ev.kind else { panic!() };
    assert_eq!(p.link, LinkType(105));
}

#[test]
fn pktmon_drops_carry_reasons() {
    let Some(dir) = pktmon_dir() else { return };
    let mut c = Capture::open(&dir.join("Dookisan_stmcast_server_client__PktMon.etl")).unwrap();
    let build = c.os_build();
    let mut drops = std::collections::BTreeMap::new();
    while let Some(ev) = c.next_event().unwrap() {
        if let EventKind::Packet(p) = &ev.kind {
            if p.meta.dropped {
                let a = p.meta.pktmon.unwrap();
                *drops.entry((a.drop_reason, pktmon::drop_reason(a.drop_reason, build))).or_insert(0) += 1;
            }
        }
    }
    // The catalog lists these reasons for this capture (3428 drop events).
    assert_eq!(drops.values().sum::<u32>(), 3428);
    let codes: Vec<u32> = drops.keys().map(|k| k.0).collect();
    assert_eq!(codes, vec![902, 909, 918, 922, 923, 1204, 1206, 1207, 1210, 1217, 1220]);
    assert!(drops.keys().any(|(c, r)| *c == 1217 && r == "DuplicateSegment"));
}

/// tshark reads what `convert` writes without a warning (skipped when tshark
/// is not installed).
#[test]
fn tshark_reads_converted_files_cleanly() {
    if std::process::Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("note: tshark not installed; skipped");
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = vec![root.join("fixtures/etl/microsoft_demikernel__PktMon.etl")];
    if let Some(c) = corpus() {
        inputs.push(c.join("etl/ndiscap/alilje_attackhost_v_1_0_2DEV__trace.etl"));
        inputs.push(c.join("etl/pktmon/Dookisan_stmcast_server_client__PktMon.etl"));
    }
    for input in inputs {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("converted.pcapng");
        let file = std::fs::File::create(&out).unwrap();
        let (stats, _) = overlay_trace::convert::convert(&input, file).unwrap();
        let run = std::process::Command::new("tshark").args(["-n", "-r"]).arg(&out).output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        let complaints: Vec<&str> = stderr.lines().filter(|l| !l.contains("Running as user")).collect();
        assert!(run.status.success() && complaints.is_empty(), "{}: {complaints:?}", input.display());
        let frames = String::from_utf8_lossy(&run.stdout).lines().count() as u64;
        assert_eq!(frames, stats.packets, "{}", input.display());
    }
}

/// Convert reads switch traces with their NBL events left undecoded; every
/// other event, the packets and their points above all, is the same.
#[test]
fn skipping_switch_events_changes_only_those_events() {
    let mut switch_events = 0;
    for name in ["routing-mesh-nat", "arp-drop-vfp", "vxlan-decap"] {
        let etl = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/scenarios/{name}.etl"));
        let events = |skip: bool| {
            let mut c = Capture::open(&etl).unwrap();
            if skip {
                c.skip_switch_events();
            }
            let mut out = Vec::new();
            while let Some(ev) = c.next_event().unwrap() {
                let nbl = matches!(ev.kind, EventKind::Nbl(_));
                out.push((nbl, ev.ts, ev.point, ev.offset, format!("{:?}", ev.kind)));
            }
            (out, c.points().to_vec())
        };
        let (all, all_points) = events(false);
        let (skipped, skipped_points) = events(true);
        assert_eq!(all.len(), skipped.len(), "{name}");
        for (a, s) in all.iter().zip(&skipped) {
            if a.0 {
                switch_events += 1;
                assert_eq!((s.1, s.2, s.3, s.4.as_str()), (a.1, a.2, a.3, "Other"), "{name}");
            } else {
                assert_eq!(a, s, "{name}");
            }
        }
        assert_eq!(all_points, skipped_points, "{name}");
    }
    assert!(switch_events >= 5, "the scenarios have switch events ({switch_events})");
}
