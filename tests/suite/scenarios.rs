//! The reference traces of scenarios.md, written by `generate::scenarios`
//! and read back through the whole ETL path: every event at the time the
//! document gives, NBL events with their pointers and names, packets with
//! their tuples, and the VXLAN flow of scenario B as `analyze` reports it.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use overlay_trace::analyze::{analyze_with, AnalyzeOptions};
use overlay_trace::capture::Capture;
use overlay_trace::event::{Direction, EventKind, LinkType, NblEvent};
use overlay_trace::generate::scenarios::{self, Reference};
use overlay_trace::packet::{self, DecodeConfig, Decoded, Proto, TunnelKind};

const UPLINK: (&str, &str) = ("/DEVICE/{DAB8937D-9AD5-460E-8652-C2E152CCE573}", "Microsoft Hyper-V Network Adapter #5");
const INGRESS: (&str, &str) = ("533EF66B-A5F3-4926-A1EE-79AF499F85C7", "Ethernet 5");
const WEB2: (&str, &str) =
    ("F3EA5A0C-2253-472F-8FFA-3467568C6D00", "136a5e8a952b7bc3da6b395e9ff3fb138cd93c97e3fafda1299f804f9cbe2bf1");
const WEB3: (&str, &str) =
    ("0330EF2B-74AB-4E06-A32D-86DA92145374", "b1937b9d22d2aa9881d0e45b16bc7031b2d4d07d4d0059531d64a6ade5a5242e");
const SWITCH: (&str, &str) = ("A404BC57-741B-4C79-8BA5-1D7D3FDA92C1", "xio0654aj01a6x60kfnoe4r12");

/// Where a packet was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
enum At {
    /// The host adapter (ndiscap 1001).
    Host,
    /// A switch port (ndiscap 1003): the SourceNicName.
    Port(String),
}

#[derive(Debug, Clone)]
enum What {
    Packet { at: At, dir: Direction, bytes: Vec<u8> },
    Nbl(NblEvent),
}

#[derive(Debug, Clone)]
struct Seen {
    ts: String,
    ns: i64,
    cpu: u32,
    what: What,
}

impl Seen {
    fn packet(&self) -> (&At, Direction, &[u8]) {
        match &self.what {
            What::Packet { at, dir, bytes } => (at, *dir, bytes),
            other => panic!("{}: expected a packet, got {other:?}", self.ts),
        }
    }

    fn nbl(&self) -> &NblEvent {
        match &self.what {
            What::Nbl(n) => n,
            other => panic!("{}: expected an NBL event, got {other:?}", self.ts),
        }
    }

    fn decoded(&self) -> Decoded {
        packet::decode(LinkType::ETHERNET, self.packet().2, &DecodeConfig::default())
    }

    /// The innermost tuple as text, with the tunnels around it.
    fn tuple(&self) -> String {
        let d = self.decoded();
        let mut s = d.inner.map(|t| t.to_string()).unwrap_or_default();
        for t in d.tunnels() {
            s.push_str(&format!(" in {} {} {}", t.kind.name(), t.vni, t.outer));
        }
        s
    }
}

fn bytes_of(which: Reference) -> Vec<u8> {
    let mut out = Vec::new();
    let stats = scenarios::write(which, &mut out).unwrap();
    assert_eq!(stats.bytes, out.len() as u64);
    out
}

fn open(bytes: &[u8]) -> Capture {
    Capture::from_reader(Path::new("x.etl"), Box::new(Cursor::new(bytes.to_vec()))).unwrap()
}

/// Every provider event of a scenario (the logfile-header record left
/// out), checking there are no warnings, no losses and time order.
fn read(which: Reference) -> Vec<Seen> {
    let bytes = bytes_of(which);
    let mut c = open(&bytes);
    let mut out: Vec<Seen> = Vec::new();
    while let Some(ev) = c.next_event().unwrap() {
        let rec = ev.etw.expect("an ETL event");
        if rec.provider.is_none() {
            assert_eq!(rec.kernel_group_type, Some((0, 0)), "only the logfile header is a kernel record");
            continue;
        }
        let what = match &ev.kind {
            EventKind::Packet(p) => {
                assert_eq!(p.link, LinkType::ETHERNET);
                assert_eq!(p.orig_len as usize, p.data.len());
                let at = match &p.meta.switch_port {
                    Some(port) => At::Port(port.source_nic_name.to_string()),
                    None => At::Host,
                };
                What::Packet { at, dir: p.meta.direction, bytes: p.data.to_vec() }
            }
            EventKind::Nbl(n) => What::Nbl(n.clone()),
            other => panic!("{which:?}: undecoded event {other:?} at {}", ev.ts),
        };
        out.push(Seen { ts: ev.ts.to_string(), ns: ev.ts.0, cpu: rec.cpu, what });
    }
    assert_eq!(c.take_warnings(), Vec::<String>::new(), "{which:?}");
    let l = c.losses();
    assert_eq!((l.events_lost, l.buffers_lost, l.bytes_skipped), (0, 0, 0));
    assert!(out.windows(2).all(|w| w[0].ns < w[1].ns), "{which:?}: not in time order");
    out
}

/// The event at exactly `time` (HH:MM:SS.fffffff on the day, 100 ns).
fn at<'a>(events: &'a [Seen], time: &str) -> &'a Seen {
    let want = format!("2017-11-08T{time}00Z");
    events.iter().find(|e| e.ts == want).unwrap_or_else(|| panic!("no event at {want}"))
}

fn named(n: &overlay_trace::capture::etl::providers::vmswitch::Named, want: (&str, &str)) {
    assert_eq!((n.id.as_str(), n.name.as_str()), want);
}

fn micros(a: &Seen, b: &Seen) -> f64 {
    (b.ns - a.ns) as f64 / 1000.0
}

fn mac(b: &[u8], at: usize) -> String {
    b[at..at + 6].iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

/// (source MAC, destination MAC) of an Ethernet frame.
fn macs(b: &[u8]) -> (String, String) {
    (mac(b, 6), mac(b, 0))
}

fn ipv4_id_len(b: &[u8], ip_at: usize) -> (u16, u16) {
    (u16::from_be_bytes([b[ip_at + 4], b[ip_at + 5]]), u16::from_be_bytes([b[ip_at + 2], b[ip_at + 3]]))
}

/// Every NBL event is followed on its CPU, 100 ns later, by a fragment at
/// the NBL event's source NIC (56: receiving, 57: from, 58: destination).
fn check_binding(events: &[Seen]) -> usize {
    let mut bound = 0;
    for (i, e) in events.iter().enumerate() {
        let What::Nbl(n) = &e.what else { continue };
        let source = match n {
            NblEvent::Receive { nic, .. } | NblEvent::Deliver { nic, .. } => &nic.name,
            NblEvent::Route { from, .. } => &from.name,
            _ => continue,
        };
        let next = events[i + 1..].iter().find(|x| x.cpu == e.cpu).expect("a fragment after the NBL event");
        assert_eq!(next.ns - e.ns, 100, "{}", e.ts);
        assert_eq!(next.packet().0, &At::Port(source.to_string()), "{}", e.ts);
        bound += 1;
    }
    bound
}

#[test]
fn routing_mesh_nat() {
    let ev = read(Reference::RoutingMeshNat);
    assert_eq!(ev[0].ts, "2017-11-08T17:02:15.986383900Z");
    assert_eq!(check_binding(&ev), 6);

    // 3526: the public SYN on the host adapter.
    let first = at(&ev, "17:02:15.9863839");
    let (where_, dir, b) = first.packet();
    assert_eq!((where_, dir, first.cpu), (&At::Host, Direction::Inbound, 0));
    assert_eq!(first.tuple(), "92.234.68.72:53711 -> 10.0.0.4:80 TCP");
    assert_eq!(macs(b), ("12:34:56:78:9a:bc".into(), "00:22:48:01:00:03".into()));
    let syn = first.decoded().tcp.unwrap();
    assert!(syn.flags.syn && !syn.flags.ack);
    assert_eq!((syn.seq, syn.window), (1_862_583_515, 65535));
    // Options: MSS 1460, NOP, window scale 3, NOP, NOP, SACK permitted.
    assert_eq!(&b[14 + 20 + 20..14 + 20 + 32], &[2, 4, 0x05, 0xb4, 1, 3, 3, 3, 1, 1, 4, 2]);

    // 3527: received from the uplink, with its fragment.
    let recv = at(&ev, "17:02:15.9863920");
    match recv.nbl() {
        NblEvent::Receive { nic, switch, nbl } => {
            named(nic, UPLINK);
            named(switch, SWITCH);
            assert_eq!(*nbl, Some(0xFFFF_880A_4600_B370));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(at(&ev, "17:02:15.9863921").tuple(), "92.234.68.72:53711 -> 10.0.0.4:80 TCP");

    // 3591: routed under a new NBL pointer, rewritten.
    match at(&ev, "17:02:15.9865906").nbl() {
        NblEvent::Route { from, to, switch, nbl } => {
            named(from, INGRESS);
            named(to, WEB2);
            named(switch, SWITCH);
            assert_eq!(*nbl, Some(0xFFFF_880A_492B_1030));
        }
        other => panic!("{other:?}"),
    }
    let routed = at(&ev, "17:02:15.9865907");
    assert_eq!(routed.tuple(), "10.255.0.2:65408 -> 10.255.0.6:80 TCP");
    assert_eq!(routed.decoded().tcp.unwrap().seq, 1_862_583_515);
    assert_eq!(macs(routed.packet().2), ("00:22:48:01:00:03".into(), "00:15:5d:71:af:d8".into()));

    // 3592: delivered to web.2.
    let delivered = at(&ev, "17:02:15.9865932");
    match delivered.nbl() {
        NblEvent::Deliver { nic, switch, nbl } => {
            named(nic, WEB2);
            named(switch, SWITCH);
            assert_eq!(*nbl, Some(0xFFFF_880A_492B_1030));
        }
        other => panic!("{other:?}"),
    }
    // 3593: the rewritten SYN at the container's port.
    let last = at(&ev, "17:02:15.9866168");
    assert_eq!(last.packet().0, &At::Port(WEB2.1.into()));
    assert_eq!(last.tuple(), "10.255.0.2:65408 -> 10.255.0.6:80 TCP");
    assert_eq!(last.decoded().tcp.unwrap().seq, 1_862_583_515);
    assert_eq!(format!("{:.1}", micros(recv, delivered)), "201.2");
    assert_eq!(format!("{:.1}", micros(first, last)), "232.9");
    assert!(ev.iter().filter(|e| e.ns <= last.ns).all(|e| e.cpu == 0));

    // The SYN-ACK: web.2 -> switch (rewritten back) -> uplink -> host adapter.
    let reply: Vec<&Seen> = ev.iter().filter(|e| e.ns > last.ns).collect();
    assert!(reply.iter().all(|e| e.ns - last.ns < 300_000), "within 300 µs");
    let kinds: Vec<String> = reply
        .iter()
        .map(|e| match &e.what {
            What::Nbl(NblEvent::Receive { nic, nbl, .. }) => format!("56 {} {:?}", nic.name, nbl.is_some()),
            What::Nbl(NblEvent::Route { from, to, .. }) => format!("57 {} -> {}", from.name, to.name),
            What::Nbl(NblEvent::Deliver { nic, .. }) => format!("58 {}", nic.name),
            What::Packet { at: At::Port(nic), .. } => format!("1003 {nic} {}", e.tuple()),
            What::Packet { at: At::Host, dir, .. } => format!("1001 {dir:?} {}", e.tuple()),
            other => panic!("{other:?}"),
        })
        .collect();
    let private = "10.255.0.6:80 -> 10.255.0.2:65408 TCP";
    let public = "10.0.0.4:80 -> 92.234.68.72:53711 TCP";
    assert_eq!(
        kinds,
        vec![
            format!("1003 {} {private}", WEB2.1),
            format!("56 {} true", WEB2.1),
            format!("1003 {} {private}", WEB2.1),
            format!("57 {} -> {}", WEB2.1, UPLINK.1),
            format!("1003 {} {public}", WEB2.1),
            format!("58 {}", UPLINK.1),
            format!("1003 {} {public}", UPLINK.1),
            format!("1001 Outbound {public}"),
        ]
    );
    let (recv_nbl, route_nbl) = (reply[1].nbl().nbl().unwrap(), reply[3].nbl().nbl().unwrap());
    assert_ne!(recv_nbl, route_nbl, "the NBL is copied when rewritten");
    assert_eq!(reply[5].nbl().nbl(), Some(route_nbl));
    let synack = reply[7].decoded().tcp.unwrap();
    assert!(synack.flags.syn && synack.flags.ack);
    assert_eq!(synack.ack, 1_862_583_516);
    assert_eq!(reply[2].decoded().tcp.unwrap().seq, synack.seq);
    assert!(reply.iter().all(|e| e.cpu == if matches!(e.packet_at(), Some(At::Host)) { 0 } else { 1 }));
}

impl Seen {
    fn packet_at(&self) -> Option<&At> {
        match &self.what {
            What::Packet { at, .. } => Some(at),
            What::Nbl(_) => None,
        }
    }
}

#[test]
fn vxlan_decap() {
    let ev = read(Reference::VxlanDecap);
    assert_eq!(ev.len(), 8);
    assert_eq!(check_binding(&ev), 3);
    assert!(ev.iter().all(|e| e.cpu == 0));

    // 8852: the outer frame on the host adapter.
    let first = at(&ev, "18:34:34.8066887");
    assert_eq!(first.ts, ev[0].ts);
    let (where_, dir, b) = first.packet();
    assert_eq!((where_, dir), (&At::Host, Direction::Inbound));
    assert_eq!(first.tuple(), "10.255.0.5 -> 10.255.0.7 ICMP in vxlan 4096 10.0.0.5:1085 -> 10.0.0.4:4789 UDP");
    assert_eq!(macs(b), ("00:22:48:01:9e:11".into(), "00:22:48:01:00:03".into()));
    assert_eq!(ipv4_id_len(b, 14), (30052, 110));
    assert_eq!(u16::from_be_bytes([b[38], b[39]]), 90);
    let inner = &b[50..];
    assert_eq!(macs(inner), ("00:15:5d:bc:f9:aa".into(), "00:15:5d:71:a4:c5".into()));
    assert_eq!(ipv4_id_len(inner, 14), (29796, 60));
    assert_eq!(inner[14 + 20], 8, "ICMP echo request");

    // 8853, 8867, 8868: one NBL pointer throughout.
    let nbl = Some(0xFFFF_880A_4626_D6A0);
    match at(&ev, "18:34:34.8066930").nbl() {
        NblEvent::Receive { nic, switch, nbl: p } => {
            named(nic, UPLINK);
            named(switch, SWITCH);
            assert_eq!(*p, nbl);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(at(&ev, "18:34:34.8066931").packet().2, b, "the outer frame at the uplink");
    match at(&ev, "18:34:34.8067246").nbl() {
        NblEvent::Route { from, to, nbl: p, .. } => {
            named(from, UPLINK);
            named(to, WEB3);
            assert_eq!(*p, nbl);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(at(&ev, "18:34:34.8067247").packet().2, inner, "decapsulated at the route");
    match at(&ev, "18:34:34.8067269").nbl() {
        NblEvent::Deliver { nic, nbl: p, .. } => {
            named(nic, WEB3);
            assert_eq!(*p, nbl);
        }
        other => panic!("{other:?}"),
    }
    // 8869: the inner frame at web.3's port.
    let last = at(&ev, "18:34:34.8067296");
    assert_eq!(last.packet().0, &At::Port(WEB3.1.into()));
    assert_eq!(last.packet().2, inner);
    assert_eq!(last.tuple(), "10.255.0.5 -> 10.255.0.7 ICMP");
    assert_eq!(format!("{:.1}", micros(first, last)), "40.9");
}

#[test]
fn vxlan_decap_analyzed() {
    let bytes = bytes_of(Reference::VxlanDecap);
    let analysis = analyze_with(&[PathBuf::from("b.etl")], &AnalyzeOptions::default(), |p| {
        Capture::from_reader(p, Box::new(Cursor::new(bytes.clone())))
    });
    assert!(!analysis.has_damage(), "{:?}", analysis.health.warnings());
    let flows = analysis.flows.store().to_vec();
    let tunneled =
        flows.iter().find(|f| !f.tunnels_fwd.is_empty()).unwrap_or_else(|| panic!("no tunneled flow in {flows:?}"));
    assert_eq!(tunneled.fwd.proto, Proto::Icmp);
    assert_eq!(tunneled.fwd.src.to_string(), "10.255.0.5");
    assert_eq!(tunneled.fwd.dst.to_string(), "10.255.0.7");
    let hop = tunneled.tunnels_fwd[0];
    assert_eq!((hop.kind, hop.vni), (TunnelKind::Vxlan, 4096));
    assert_eq!(hop.outer.to_string(), "10.0.0.5:1085 -> 10.0.0.4:4789 UDP");
    assert_eq!(tunneled.packets, [1, 0], "seen twice (host adapter, uplink port), counted once");
}

#[test]
fn arp_drop_vfp() {
    let ev = read(Reference::ArpDropVfp);
    assert_eq!(check_binding(&ev), 8);

    // 11165: the encapsulated SYN on the host adapter.
    let first = at(&ev, "17:02:50.3348890");
    assert_eq!(first.ts, ev[0].ts);
    let (where_, dir, b) = first.packet();
    assert_eq!((where_, dir), (&At::Host, Direction::Inbound));
    assert_eq!(
        first.tuple(),
        "10.255.0.3:65408 -> 10.255.0.7:80 TCP in vxlan 4096 10.0.0.5:40558 -> 10.0.0.4:4789 UDP"
    );
    assert_eq!(ipv4_id_len(b, 14), (41865, 110));
    assert_eq!(u16::from_be_bytes([b[38], b[39]]), 90);
    let inner = &b[50..];
    assert_eq!(macs(inner), ("00:22:48:01:9e:11".into(), "00:15:5d:71:a4:c5".into()));
    assert_eq!(ipv4_id_len(inner, 14), (41609, 60));
    let syn = first.decoded().tcp.unwrap();
    assert!(syn.flags.syn && !syn.flags.ack);
    assert_eq!((syn.seq, syn.window), (4_237_068_666, 29200));
    let opts = &inner[14 + 20 + 20..14 + 20 + 40];
    assert_eq!(&opts[opts.len() - 3..], &[3, 3, 7], "window scale 7");

    // Its hops, all between the capture and the delivery.
    let delivered = at(&ev, "17:02:50.3349520");
    let hops: Vec<&Seen> = ev.iter().filter(|e| e.ns > first.ns && e.ns < delivered.ns).collect();
    assert_eq!(hops.len(), 6);
    let nbls: Vec<u64> = hops.iter().filter(|e| e.packet_at().is_none()).map(|e| e.nbl().nbl().unwrap()).collect();
    assert_eq!(nbls.len(), 3);
    assert!(nbls.iter().all(|n| *n == nbls[0]));
    assert_eq!(delivered.packet().0, &At::Port(WEB3.1.into()));
    assert_eq!(delivered.packet().2, inner);

    // 11187: the ARP request from web.3, received and then dropped by VFP.
    let request = at(&ev, "17:02:50.3350373");
    assert_eq!(request.packet().0, &At::Port(WEB3.1.into()));
    let rb = request.packet().2;
    assert_eq!(macs(rb), ("00:15:5d:71:a4:c5".into(), "ff:ff:ff:ff:ff:ff".into()));
    assert_eq!(&rb[12..14], &[0x08, 0x06]);
    assert_eq!(&rb[20..22], &[0, 1], "request");
    assert_eq!((&rb[28..32], &rb[38..42]), (&[10, 255, 0, 7][..], &[10, 255, 0, 3][..]));
    let d = request.decoded().inner.unwrap();
    assert_eq!((d.proto, d.src.to_string(), d.dst.to_string()), (Proto::Arp, "10.255.0.7".into(), "10.255.0.3".into()));
    let i = ev.iter().position(|e| e.ns == request.ns).unwrap();
    match ev[i + 1].nbl() {
        NblEvent::Receive { nic, .. } => named(nic, WEB3),
        other => panic!("{other:?}"),
    }
    match at(&ev, "17:02:50.3350578").nbl() {
        NblEvent::ExtensionDrop { nic, switch, extension, reason } => {
            named(nic, WEB3);
            named(switch, SWITCH);
            named(
                extension,
                (
                    "{24C70E26-D4C4-42B9-854A-0A4B9BA2C286}-{E9B59CFA-2BE1-4B21-828F-B6FBDBDDC017}-0000",
                    "Virtual Filtering Platform VMSwitch Extension",
                ),
            );
            assert_eq!(reason, "Outgoing packet dropped by VFP");
        }
        other => panic!("{other:?}"),
    }

    // 11200: the proxied reply, delivered by the switch.
    let reply = at(&ev, "17:02:50.3352219");
    let pb = reply.packet().2;
    assert_eq!(reply.packet().0, &At::Port(WEB3.1.into()));
    assert_eq!(&pb[20..22], &[0, 2], "reply");
    assert_eq!(mac(pb, 22), "00:15:5d:bc:f5:40");
    assert_eq!((&pb[28..32], &pb[38..42]), (&[10, 255, 0, 3][..], &[10, 255, 0, 7][..]));
    let j = ev.iter().position(|e| e.ns == reply.ns).unwrap();
    assert!(matches!(ev[j - 2].nbl(), NblEvent::Deliver { nic, .. } if nic.id == WEB3.0));

    // 11201: the SYN-ACK at web.3's port.
    let synack = at(&ev, "17:02:50.3352290");
    let sb = synack.packet().2;
    assert_eq!(synack.tuple(), "10.255.0.7:80 -> 10.255.0.3:65408 TCP");
    assert_eq!(macs(sb), ("00:15:5d:71:a4:c5".into(), "00:15:5d:bc:f5:40".into()));
    assert_eq!(ipv4_id_len(sb, 14), (17960, 52));
    let t = synack.decoded().tcp.unwrap();
    assert!(t.flags.syn && t.flags.ack);
    assert_eq!((t.seq, t.ack, t.window), (3_626_128_581, 4_237_068_667, 65535));
    assert!(sb[14 + 20 + 20..].windows(3).any(|w| w == [3, 3, 8]), "window scale 8");
    assert_eq!(format!("{:.1}", micros(delivered, synack)), "277.0");

    // Its route: the fragment is already encapsulated.
    let k = ev.iter().position(|e| e.ns == synack.ns).unwrap();
    let route = ev[k..].iter().find(|e| matches!(e.what, What::Nbl(NblEvent::Route { .. }))).unwrap();
    match route.nbl() {
        NblEvent::Route { from, to, .. } => {
            named(from, WEB3);
            named(to, UPLINK);
        }
        other => panic!("{other:?}"),
    }
    let encapsulated = ev.iter().find(|e| e.ns == route.ns + 100).unwrap();
    let eb = encapsulated.packet().2;
    assert_eq!(
        encapsulated.tuple(),
        "10.255.0.7:80 -> 10.255.0.3:65408 TCP in vxlan 4096 10.0.0.4:37734 -> 10.0.0.5:4789 UDP"
    );
    assert_eq!(ipv4_id_len(eb, 14), (18216, 102));
    assert_eq!(u16::from_be_bytes([eb[38], eb[39]]), 82);
    assert_eq!(&eb[50..], sb);

    // 11217: the encapsulated SYN-ACK leaves the host adapter.
    let out = at(&ev, "17:02:50.3352851");
    assert_eq!(out.ts, ev[ev.len() - 1].ts);
    assert_eq!((out.packet().0, out.packet().1, out.cpu), (&At::Host, Direction::Outbound, 0));
    assert_eq!(out.packet().2, eb);
}

#[test]
fn packets_alternate_between_cpus() {
    // Scenario C: SYN on CPU 0, ARP request on 1, ARP reply on 0, SYN-ACK on
    // 1; the host adapter's events on CPU 0.
    let ev = read(Reference::ArpDropVfp);
    let cpu_at = |t: &str| at(&ev, t).cpu;
    assert_eq!([cpu_at("17:02:50.3349520"), cpu_at("17:02:50.3350373"), cpu_at("17:02:50.3352219")], [0, 1, 0]);
    assert_eq!((cpu_at("17:02:50.3352290"), cpu_at("17:02:50.3350578")), (1, 1));
    assert!(ev.iter().filter(|e| e.packet_at() == Some(&At::Host)).all(|e| e.cpu == 0));
}

#[test]
fn fixture_files_are_what_generate_writes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios");
    for which in Reference::ALL {
        let path = dir.join(format!("{}.etl", which.name()));
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            on_disk == bytes_of(which),
            "{} is stale: regenerate with `overlay-trace generate --scenario {}`",
            path.display(),
            which.name()
        );
        // And it opens as a file too.
        let mut c = Capture::open(&path).unwrap();
        let mut n = 0;
        while c.next_event().unwrap().is_some() {
            n += 1;
        }
        assert!(n > 5);
    }
}

#[test]
fn cli_writes_the_scenario() {
    // Removed when the test ends, passed or failed.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = dir.join("a.etl");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_overlay-trace"))
        .args(["generate", "--scenario", "routing-mesh-nat", "-o"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(std::fs::read(&path).unwrap() == bytes_of(Reference::RoutingMeshNat));
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_overlay-trace")).arg("events").arg(&path).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // The logfile header, then one line per event.
    assert_eq!(text.lines().count(), 1 + read(Reference::RoutingMeshNat).len());
    assert!(text.contains("NBL 0xFFFF880A4600B370 received from Nic /DEVICE/{DAB8937D"), "{text}");
}
