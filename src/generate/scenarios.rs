//! The three reference scenarios of `scenarios.md` as ETL files: the
//! NDIS-PacketCapture packet events and Hyper-V VmSwitch NBL events a
//! capture on Docker1 holds, with the values and times the document gives
//! (UTC, 2017-11-08, 100 ns resolution). Where it gives none (the reply of
//! scenario A, the switch hops of scenario C, IP ids and TTLs it does not
//! state), the values are plausible and fixed.
//!
//! Layout of every file:
//! - 1001 packet fragments of the host adapter "vEthernet (Ethernet 5)"
//!   (MiniportIfIndex = LowerIfIndex = 5) on CPU 0;
//! - 1003 fragments for packets seen at a switch port (LowerIfIndex 12);
//! - VmSwitch 56 receive / 57 route / 58 deliver, each followed on the same
//!   CPU 100 ns later by a 1003 fragment whose SourceNicName is the friendly
//!   name of the event's source NIC (56: the receiving NIC, 57: the `from`
//!   NIC, 58: the destination NIC), holding the packet as it was at that hop;
//! - each packet's switch events on one CPU, packets alternating between
//!   CPU 0 and CPU 1.
//!
//! Payloads are encoded here, inverse to the decoders in
//! `capture::etl::providers::{ndiscap, vmswitch}`.

use std::io::{self, Cursor, Write};

use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType, IpNumber, PacketBuilder, TcpOptionElement};

use super::etl::{EtlWriteStats, EtlWriter, EtlWriterOptions, EventRecord};
use super::frames::{
    fragment_keywords, ipv4, other, port_fragment, vxlan, Ip, Mac, Outer, NDIS_LEVEL, SYSTEM_PID, VMSWITCH_KEYWORD,
    VMSWITCH_LEVEL,
};
use crate::capture::etl::providers::{ndiscap, vmswitch};
use crate::event::Direction;
use crate::time::Timestamp;

/// Which reference trace to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    RoutingMeshNat,
    VxlanDecap,
    ArpDropVfp,
}

impl Reference {
    pub const ALL: [Reference; 3] = [Reference::RoutingMeshNat, Reference::VxlanDecap, Reference::ArpDropVfp];

    /// The name `generate --scenario` takes.
    pub fn name(self) -> &'static str {
        match self {
            Reference::RoutingMeshNat => "routing-mesh-nat",
            Reference::VxlanDecap => "vxlan-decap",
            Reference::ArpDropVfp => "arp-drop-vfp",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScenarioStats {
    /// Events written.
    pub events: u64,
    /// Buffers in the file, the header buffer included.
    pub buffers: u64,
    /// File length.
    pub bytes: u64,
}

/// Writes one reference trace. The file is built in memory (the ETL writer
/// patches its header at the end) and then written to `out` in one go.
/// A deliberate change to a reference trace, for testing `check` and
/// `diff`: each breaks one fact of scenario A.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    #[default]
    None,
    /// The VFP extension drops the SYN instead of the switch routing it.
    SynDropped,
    /// The switch maps the client to ingress port 65409, not 65408.
    OtherNatPort,
    /// The SYN spends 1 ms longer in the switch.
    SlowSwitch,
    /// The buffer holding the SYN-ACK's switch events is lost.
    LostBuffer,
}

pub fn write<W: Write>(which: Reference, out: W) -> io::Result<ScenarioStats> {
    write_variant(which, Variant::None, out)
}

/// Writes a reference trace, changed as `variant` says (only scenario A has
/// variants; the others ignore it).
pub fn write_variant<W: Write>(which: Reference, variant: Variant, mut out: W) -> io::Result<ScenarioStats> {
    let (bytes, stats) = match which {
        Reference::RoutingMeshNat => routing_mesh_nat(variant)?,
        _ => build(which)?,
    };
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(ScenarioStats { events: stats.events, buffers: stats.buffers, bytes: stats.bytes })
}

/// Buffer size of the reference files: small, so three buffers make a
/// small fixture.
const BUFFER_SIZE: usize = 16 << 10;
/// Windows Server 2016 1709.
const OS_BUILD: u32 = 16299;
const CPUS: u16 = 2;

/// The host adapter "vEthernet (Ethernet 5)": its 1001 events.
const HOST_IF_INDEX: u32 = 5;
/// IfIndex of the overlay switch, for its ports' 1003 events.
const SWITCH_IF_INDEX: u32 = 12;

const TID_PER_CPU: [u32; CPUS as usize] = [0x0c4c, 0x19f8];

/// A switch port and the NIC connected to it.
#[derive(Debug, Clone, Copy)]
struct Nic {
    /// The NIC id (a GUID-like string or a device path); also its port name.
    id: &'static str,
    /// Its friendly name.
    name: &'static str,
    /// SourceNicType of its 1003 events.
    kind: &'static str,
    port_id: u32,
}

const UPLINK: Nic = Nic {
    id: "/DEVICE/{DAB8937D-9AD5-460E-8652-C2E152CCE573}",
    name: "Microsoft Hyper-V Network Adapter #5",
    kind: "External",
    port_id: 1,
};
/// The ingress endpoint ("phantom" adapter) of Docker1.
const INGRESS: Nic =
    Nic { id: "533EF66B-A5F3-4926-A1EE-79AF499F85C7", name: "Ethernet 5", kind: "Internal", port_id: 2 };
/// Container web.2.
const WEB2: Nic = Nic {
    id: "F3EA5A0C-2253-472F-8FFA-3467568C6D00",
    name: "136a5e8a952b7bc3da6b395e9ff3fb138cd93c97e3fafda1299f804f9cbe2bf1",
    kind: "Synthetic",
    port_id: 3,
};
/// Container web.3.
const WEB3: Nic = Nic {
    id: "0330EF2B-74AB-4E06-A32D-86DA92145374",
    name: "b1937b9d22d2aa9881d0e45b16bc7031b2d4d07d4d0059531d64a6ade5a5242e",
    kind: "Synthetic",
    port_id: 4,
};
const SWITCH_ID: &str = "A404BC57-741B-4C79-8BA5-1D7D3FDA92C1";
const SWITCH_NAME: &str = "xio0654aj01a6x60kfnoe4r12";
const VFP_ID: &str = "{24C70E26-D4C4-42B9-854A-0A4B9BA2C286}-{E9B59CFA-2BE1-4B21-828F-B6FBDBDDC017}-0000";
const VFP_NAME: &str = "Virtual Filtering Platform VMSwitch Extension";
const VFP_DROP_REASON: &str = "Outgoing packet dropped by VFP";

const MAC_DOCKER1: Mac = [0x00, 0x22, 0x48, 0x01, 0x00, 0x03];
const MAC_DOCKER2: Mac = [0x00, 0x22, 0x48, 0x01, 0x9e, 0x11];
const MAC_CLIENT: Mac = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc];
const MAC_WEB2: Mac = [0x00, 0x15, 0x5d, 0x71, 0xaf, 0xd8];
const MAC_WEB3: Mac = [0x00, 0x15, 0x5d, 0x71, 0xa4, 0xc5];
const MAC_DOCKER2_CONTAINER: Mac = [0x00, 0x15, 0x5d, 0xbc, 0xf9, 0xaa];
/// What the switch answers for 10.255.0.3 (Docker2's ingress endpoint).
const MAC_PROXY_10_255_0_3: Mac = [0x00, 0x15, 0x5d, 0xbc, 0xf5, 0x40];
const MAC_BROADCAST: Mac = [0xff; 6];

const IP_DOCKER1: Ip = [10, 0, 0, 4];
const IP_DOCKER2: Ip = [10, 0, 0, 5];
const IP_CLIENT: Ip = [92, 234, 68, 72];
const IP_INGRESS1: Ip = [10, 255, 0, 2];
const IP_INGRESS2: Ip = [10, 255, 0, 3];
const IP_WEB2: Ip = [10, 255, 0, 6];
const IP_WEB3: Ip = [10, 255, 0, 7];
const IP_DOCKER2_CONTAINER: Ip = [10, 255, 0, 5];

const VNI: u32 = 4096;

/// 2017-11-08T00:00:00Z in Unix seconds.
const DAY: i64 = 1_510_099_200;

/// `h:m:s` on 2017-11-08 UTC plus `ticks` × 100 ns.
fn at(h: i64, m: i64, s: i64, ticks: i64) -> Timestamp {
    Timestamp(((DAY + h * 3600 + m * 60 + s) * 10_000_000 + ticks) * 100)
}

// ---------------------------------------------------------------- frames

/// A TCP segment without payload.
struct Tcp<'a> {
    src_mac: Mac,
    dst_mac: Mac,
    src: (Ip, u16),
    dst: (Ip, u16),
    ip_id: u16,
    ttl: u8,
    seq: u32,
    /// `Some` for SYN-ACK.
    ack: Option<u32>,
    window: u16,
    options: &'a [TcpOptionElement],
}

fn tcp_syn(t: &Tcp<'_>) -> io::Result<Vec<u8>> {
    let b = PacketBuilder::ethernet2(t.src_mac, t.dst_mac)
        .ip(ipv4(t.src.0, t.dst.0, t.ip_id, t.ttl, IpNumber::TCP))
        .tcp(t.src.1, t.dst.1, t.seq, t.window)
        .syn();
    let b = match t.ack {
        Some(a) => b.ack(a),
        None => b,
    };
    let b = b.options(t.options).map_err(other)?;
    let mut v = Vec::with_capacity(b.size(0));
    b.write(&mut v, &[]).map_err(other)?;
    Ok(v)
}

/// Windows' SYN options: MSS, NOP, window scale, NOP, NOP, SACK permitted.
fn windows_syn_options(mss: u16, wscale: u8) -> [TcpOptionElement; 6] {
    use TcpOptionElement::*;
    [MaximumSegmentSize(mss), Noop, WindowScale(wscale), Noop, Noop, SelectiveAcknowledgementPermitted]
}

/// Linux's SYN options: MSS, SACK permitted, timestamps, NOP, window scale.
fn linux_syn_options(mss: u16, tsval: u32, wscale: u8) -> [TcpOptionElement; 5] {
    use TcpOptionElement::*;
    [MaximumSegmentSize(mss), SelectiveAcknowledgementPermitted, Timestamp(tsval, 0), Noop, WindowScale(wscale)]
}

/// An ICMP echo request as Windows ping sends it (32 bytes of alphabet).
fn icmp_echo(src_mac: Mac, dst_mac: Mac, src: Ip, dst: Ip, ip_id: u16, id: u16, seq: u16) -> io::Result<Vec<u8>> {
    let b = PacketBuilder::ethernet2(src_mac, dst_mac)
        .ip(ipv4(src, dst, ip_id, 128, IpNumber::ICMP))
        .icmpv4_echo_request(id, seq);
    let payload = b"abcdefghijklmnopqrstuvwabcdefghi";
    let mut v = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut v, payload).map_err(other)?;
    Ok(v)
}

/// An Ethernet ARP packet (42 bytes: no padding, as the host sees it).
fn arp(src_mac: Mac, dst_mac: Mac, op: ArpOperation, sender: (Mac, Ip), target: (Mac, Ip)) -> io::Result<Vec<u8>> {
    let packet =
        ArpPacket::new(ArpHardwareId::ETHERNET, EtherType::IPV4, op, &sender.0, &sender.1, &target.0, &target.1)
            .map_err(other)?;
    let b = PacketBuilder::ethernet2(src_mac, dst_mac).arp(packet);
    let mut v = Vec::with_capacity(b.size());
    b.write(&mut v).map_err(other)?;
    Ok(v)
}

// ---------------------------------------------------------------- payloads

/// ndiscap 1001 (build 16299 layout: no trailing GFT fields).
fn encode_fragment(if_index: u32, frame: &[u8]) -> Vec<u8> {
    ndiscap::emit_fragment(if_index, if_index, frame)
}

/// ndiscap 1003 at `nic`'s port: no destinations, then the frame and the
/// NBL's OOB slots (8 bytes each on x64).
fn encode_vmswitch_fragment(nic: &Nic, frame: &[u8]) -> Vec<u8> {
    port_fragment(SWITCH_IF_INDEX, nic.port_id, nic.id, nic.name, nic.kind, frame)
}

fn named(out: &mut Vec<u8>, id: &str, name: &str) {
    vmswitch::emit_counted(out, id);
    vmswitch::emit_counted(out, name);
}

/// VmSwitch 56 / 58: the NIC, the switch, the NBL pointer.
fn encode_nic_event(nic: &Nic, nbl: u64) -> Vec<u8> {
    let mut d = Vec::new();
    named(&mut d, nic.id, nic.name);
    named(&mut d, SWITCH_ID, SWITCH_NAME);
    d.extend_from_slice(&nbl.to_le_bytes());
    d
}

/// VmSwitch 57: from, to, the switch, the NBL pointer.
fn encode_route(from: &Nic, to: &Nic, nbl: u64) -> Vec<u8> {
    let mut d = Vec::new();
    named(&mut d, from.id, from.name);
    named(&mut d, to.id, to.name);
    named(&mut d, SWITCH_ID, SWITCH_NAME);
    d.extend_from_slice(&nbl.to_le_bytes());
    d
}

/// VmSwitch 60: source NIC, switch, extension, reason.
fn encode_extension_drop(nic: &Nic, extension: (&str, &str), reason: &str) -> Vec<u8> {
    let mut d = Vec::new();
    named(&mut d, nic.id, nic.name);
    named(&mut d, SWITCH_ID, SWITCH_NAME);
    named(&mut d, extension.0, extension.1);
    vmswitch::emit_counted(&mut d, reason);
    d
}

// ---------------------------------------------------------------- events

/// Direction of a sighting, as ndiscap's path keywords say it: on the host
/// adapter, in from the wire or out to it; at a switch port, into the
/// switch from the port's NIC (ReceivePath) or out of the switch to it
/// (SendPath).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    In,
    Out,
}

fn direction(dir: Dir) -> Direction {
    match dir {
        Dir::In => Direction::Inbound,
        Dir::Out => Direction::Outbound,
    }
}

struct Planned {
    ts: Timestamp,
    cpu: u16,
    ndis: bool,
    id: u16,
    keywords: u64,
    payload: Vec<u8>,
}

/// The events of one trace, in any order; written sorted by time.
#[derive(Default)]
struct Plan {
    events: Vec<Planned>,
    /// Lose this CPU's buffer at the end (its events never reach the file).
    lose_cpu_buffer: Option<u16>,
}

/// 100 ns: how long after an NBL event its 1003 fragment is logged.
const FRAGMENT_DELAY: i64 = 100;

fn later(ts: Timestamp) -> Timestamp {
    Timestamp(ts.0 + FRAGMENT_DELAY)
}

impl Plan {
    fn ndis(&mut self, ts: Timestamp, cpu: u16, id: u16, keywords: u64, payload: Vec<u8>) {
        self.events.push(Planned { ts, cpu, ndis: true, id, keywords, payload });
    }

    fn vmswitch(&mut self, ts: Timestamp, cpu: u16, id: u16, payload: Vec<u8>) {
        self.events.push(Planned { ts, cpu, ndis: false, id, keywords: VMSWITCH_KEYWORD, payload });
    }

    /// A packet on the host adapter (1001, CPU 0).
    fn host(&mut self, ts: Timestamp, dir: Dir, frame: &[u8]) {
        let kw = fragment_keywords(direction(dir), false);
        self.ndis(ts, 0, ndiscap::EVENT_FRAGMENT, kw, encode_fragment(HOST_IF_INDEX, frame));
    }

    /// A packet seen at `nic`'s switch port (1003).
    fn port(&mut self, ts: Timestamp, cpu: u16, nic: &Nic, dir: Dir, frame: &[u8]) {
        let kw = fragment_keywords(direction(dir), true);
        self.ndis(ts, cpu, ndiscap::EVENT_VMSWITCH_FRAGMENT, kw, encode_vmswitch_fragment(nic, frame));
    }

    /// 56: `nbl` received from `nic`, then its fragment at `nic`.
    fn receive(&mut self, ts: Timestamp, cpu: u16, nbl: u64, nic: &Nic, frame: &[u8]) {
        self.vmswitch(ts, cpu, vmswitch::EVENT_RECEIVE, encode_nic_event(nic, nbl));
        self.port(later(ts), cpu, nic, Dir::In, frame);
    }

    /// 57: `nbl` routed from `from` to `to`, then its fragment at `from`.
    fn route(&mut self, ts: Timestamp, cpu: u16, nbl: u64, from: &Nic, to: &Nic, frame: &[u8]) {
        self.vmswitch(ts, cpu, vmswitch::EVENT_ROUTE, encode_route(from, to, nbl));
        self.port(later(ts), cpu, from, Dir::In, frame);
    }

    /// 58: `nbl` delivered to `nic`, then its fragment at `nic`.
    fn deliver(&mut self, ts: Timestamp, cpu: u16, nbl: u64, nic: &Nic, frame: &[u8]) {
        self.vmswitch(ts, cpu, vmswitch::EVENT_DELIVER, encode_nic_event(nic, nbl));
        self.port(later(ts), cpu, nic, Dir::Out, frame);
    }

    /// 60: NBLs from `nic` dropped by the VFP extension.
    fn vfp_drop(&mut self, ts: Timestamp, cpu: u16, nic: &Nic) {
        let payload = encode_extension_drop(nic, (VFP_ID, VFP_NAME), VFP_DROP_REASON);
        self.vmswitch(ts, cpu, vmswitch::EVENT_EXTENSION_DROP, payload);
    }

    fn write(mut self, opts: EtlWriterOptions) -> io::Result<(Vec<u8>, EtlWriteStats)> {
        self.events.sort_by_key(|e| e.ts);
        let mut w = EtlWriter::new(Cursor::new(Vec::new()), opts)?;
        for e in &self.events {
            let (provider, level) = if e.ndis { (ndiscap::GUID, NDIS_LEVEL) } else { (vmswitch::GUID, VMSWITCH_LEVEL) };
            w.write_event(&EventRecord {
                ts: e.ts,
                cpu: e.cpu,
                provider,
                id: e.id,
                version: 0,
                level,
                opcode: 0,
                task: 0,
                keywords: e.keywords,
                pid: SYSTEM_PID,
                tid: TID_PER_CPU[e.cpu as usize % TID_PER_CPU.len()],
                user_data: &e.payload,
            })?;
        }
        if let Some(cpu) = self.lose_cpu_buffer {
            w.lose_buffer(cpu)?;
        }
        let (cursor, stats) = w.finish()?;
        Ok((cursor.into_inner(), stats))
    }
}

fn options(which: Reference, start: Timestamp) -> EtlWriterOptions {
    EtlWriterOptions {
        start,
        cpus: CPUS,
        buffer_size: BUFFER_SIZE,
        compress: false,
        provider_version: OS_BUILD,
        logger_name: "overlay-trace reference".to_string(),
        log_file_name: format!("C:\\overlay-trace\\{}.etl", which.name()),
        ..Default::default()
    }
}

/// The file bytes of one reference trace.
fn build(which: Reference) -> io::Result<(Vec<u8>, EtlWriteStats)> {
    match which {
        Reference::RoutingMeshNat => routing_mesh_nat(Variant::None),
        Reference::VxlanDecap => vxlan_decap(),
        Reference::ArpDropVfp => arp_drop_vfp(),
    }
}

/// Scenario A: an HTTP SYN from the internet is NATed by the switch to
/// web.2 on the same host (DNAT + SNAT), and the SYN-ACK is rewritten back.
fn routing_mesh_nat(variant: Variant) -> io::Result<(Vec<u8>, EtlWriteStats)> {
    let t = |ticks| at(17, 2, 15, ticks);
    // The slow-switch variant delays everything after the receive by 1 ms.
    let slow = if variant == Variant::SlowSwitch { 10_000 } else { 0 };
    let t2 = |ticks: i64| at(17, 2, 15, ticks + slow);
    let ingress_port = if variant == Variant::OtherNatPort { 65409 } else { 65408 };
    let syn_seq = 1_862_583_515;
    let syn_opts = windows_syn_options(1460, 3);
    let syn = |src_mac, dst_mac, src, dst| Tcp {
        src_mac,
        dst_mac,
        src,
        dst,
        ip_id: 27438,
        ttl: 109,
        seq: syn_seq,
        ack: None,
        window: 65535,
        options: &syn_opts,
    };
    let public_syn = tcp_syn(&syn(MAC_CLIENT, MAC_DOCKER1, (IP_CLIENT, 53711), (IP_DOCKER1, 80)))?;
    let private_syn = tcp_syn(&syn(MAC_DOCKER1, MAC_WEB2, (IP_INGRESS1, ingress_port), (IP_WEB2, 80)))?;

    let synack_opts = windows_syn_options(1410, 8);
    let synack = |src_mac, dst_mac, src, dst| Tcp {
        src_mac,
        dst_mac,
        src,
        dst,
        ip_id: 3017,
        ttl: 128,
        seq: 2_094_327_617,
        ack: Some(syn_seq + 1),
        window: 65535,
        options: &synack_opts,
    };
    let private_synack = tcp_syn(&synack(MAC_WEB2, MAC_DOCKER1, (IP_WEB2, 80), (IP_INGRESS1, ingress_port)))?;
    let public_synack = tcp_syn(&synack(MAC_DOCKER1, MAC_CLIENT, (IP_DOCKER1, 80), (IP_CLIENT, 53711)))?;

    let mut p = Plan::default();
    // The SYN, on CPU 0.
    p.host(t(9_863_839), Dir::In, &public_syn); // 3526
    p.receive(t(9_863_920), 0, 0xFFFF_880A_4600_B370, &UPLINK, &public_syn); // 3527
    if variant == Variant::SynDropped {
        p.vfp_drop(t(9_865_906), 0, &UPLINK);
        return p.write(options(Reference::RoutingMeshNat, at(17, 2, 12, 4_718_350)));
    }
    p.route(t2(9_865_906), 0, 0xFFFF_880A_492B_1030, &INGRESS, &WEB2, &private_syn); // 3591
    p.deliver(t2(9_865_932), 0, 0xFFFF_880A_492B_1030, &WEB2, &private_syn); // 3592
    p.port(t2(9_866_168), 0, &WEB2, Dir::Out, &private_syn); // 3593
                                                             // The SYN-ACK, on CPU 1, leaving through the host adapter (CPU 0).
    p.port(t2(9_867_015), 1, &WEB2, Dir::In, &private_synack);
    p.receive(t2(9_867_061), 1, 0xFFFF_880A_48F0_E4F0, &WEB2, &private_synack);
    p.route(t2(9_867_398), 1, 0xFFFF_880A_4A1C_2860, &WEB2, &UPLINK, &public_synack);
    p.deliver(t2(9_867_424), 1, 0xFFFF_880A_4A1C_2860, &UPLINK, &public_synack);
    p.host(t2(9_867_503), Dir::Out, &public_synack);
    if variant == Variant::LostBuffer {
        p.lose_cpu_buffer = Some(1);
    }
    p.write(options(Reference::RoutingMeshNat, at(17, 2, 12, 4_718_350)))
}

/// Scenario B: a ping from the container on Docker2 to web.3 arrives in
/// VXLAN and is decapsulated by the switch; one NBL throughout.
fn vxlan_decap() -> io::Result<(Vec<u8>, EtlWriteStats)> {
    let t = |ticks| at(18, 34, 34, ticks);
    let inner = icmp_echo(MAC_DOCKER2_CONTAINER, MAC_WEB3, IP_DOCKER2_CONTAINER, IP_WEB3, 29796, 1, 46)?;
    let outer = Outer {
        src_mac: MAC_DOCKER2,
        dst_mac: MAC_DOCKER1,
        src: IP_DOCKER2,
        dst: IP_DOCKER1,
        ip_id: 30052,
        src_port: 1085,
        vni: VNI,
    };
    let outer = vxlan(&outer, &inner)?;
    let nbl = 0xFFFF_880A_4626_D6A0;
    let mut p = Plan::default();
    p.host(t(8_066_887), Dir::In, &outer); // 8852
    p.receive(t(8_066_930), 0, nbl, &UPLINK, &outer); // 8853
    p.route(t(8_067_246), 0, nbl, &UPLINK, &WEB3, &inner); // 8867
    p.deliver(t(8_067_269), 0, nbl, &WEB3, &inner); // 8868
    p.port(t(8_067_296), 0, &WEB3, Dir::Out, &inner); // 8869
    p.write(options(Reference::VxlanDecap, at(18, 34, 31, 2_207_410)))
}

/// Scenario C: a SYN balanced by Docker2 to web.3 arrives in VXLAN; web.3
/// asks for 10.255.0.3 by ARP, VFP drops the request and the switch
/// answers it; the SYN-ACK leaves encapsulated.
fn arp_drop_vfp() -> io::Result<(Vec<u8>, EtlWriteStats)> {
    let t = |ticks| at(17, 2, 50, ticks);
    let syn_opts = linux_syn_options(1410, 1_207_339_018, 7);
    let syn = tcp_syn(&Tcp {
        src_mac: MAC_DOCKER2,
        dst_mac: MAC_WEB3,
        src: (IP_INGRESS2, 65408),
        dst: (IP_WEB3, 80),
        ip_id: 41609,
        ttl: 64,
        seq: 4_237_068_666,
        ack: None,
        window: 29200,
        options: &syn_opts,
    })?;
    let syn_outer = vxlan(
        &Outer {
            src_mac: MAC_DOCKER2,
            dst_mac: MAC_DOCKER1,
            src: IP_DOCKER2,
            dst: IP_DOCKER1,
            ip_id: 41865,
            src_port: 40558,
            vni: VNI,
        },
        &syn,
    )?;
    let arp_request = arp(MAC_WEB3, MAC_BROADCAST, ArpOperation::REQUEST, (MAC_WEB3, IP_WEB3), ([0; 6], IP_INGRESS2))?;
    let arp_reply = arp(
        MAC_PROXY_10_255_0_3,
        MAC_WEB3,
        ArpOperation::REPLY,
        (MAC_PROXY_10_255_0_3, IP_INGRESS2),
        (MAC_WEB3, IP_WEB3),
    )?;
    let synack_opts = windows_syn_options(1410, 8);
    let synack = tcp_syn(&Tcp {
        src_mac: MAC_WEB3,
        dst_mac: MAC_PROXY_10_255_0_3,
        src: (IP_WEB3, 80),
        dst: (IP_INGRESS2, 65408),
        ip_id: 17960,
        ttl: 128,
        seq: 3_626_128_581,
        ack: Some(4_237_068_667),
        window: 65535,
        options: &synack_opts,
    })?;
    let synack_outer = vxlan(
        &Outer {
            src_mac: MAC_DOCKER1,
            dst_mac: MAC_DOCKER2,
            src: IP_DOCKER1,
            dst: IP_DOCKER2,
            ip_id: 18216,
            src_port: 37734,
            vni: VNI,
        },
        &synack,
    )?;

    let mut p = Plan::default();
    // The SYN (CPU 0): in through the host adapter, decapsulated to web.3.
    let nbl = 0xFFFF_880A_4711_C2A0;
    p.host(t(3_348_890), Dir::In, &syn_outer); // 11165
    p.receive(t(3_348_947), 0, nbl, &UPLINK, &syn_outer);
    p.route(t(3_349_389), 0, nbl, &UPLINK, &WEB3, &syn);
    p.deliver(t(3_349_468), 0, nbl, &WEB3, &syn);
    p.port(t(3_349_520), 0, &WEB3, Dir::Out, &syn); // 11186
                                                    // The ARP request (CPU 1), dropped by VFP.
    p.port(t(3_350_373), 1, &WEB3, Dir::In, &arp_request); // 11187
    p.receive(t(3_350_431), 1, 0xFFFF_880A_46E9_B8A0, &WEB3, &arp_request);
    p.vfp_drop(t(3_350_578), 1, &WEB3); // 11192
                                        // The switch's proxy ARP reply (CPU 0).
    p.deliver(t(3_352_167), 0, 0xFFFF_880A_4722_E5D0, &WEB3, &arp_reply);
    p.port(t(3_352_219), 0, &WEB3, Dir::Out, &arp_reply); // 11200
                                                          // The SYN-ACK (CPU 1), encapsulated on its way to the uplink.
    let nbl = 0xFFFF_880A_4A3F_71E0;
    p.port(t(3_352_290), 1, &WEB3, Dir::In, &synack); // 11201
    p.receive(t(3_352_338), 1, nbl, &WEB3, &synack);
    p.route(t(3_352_703), 1, nbl, &WEB3, &UPLINK, &synack_outer);
    p.deliver(t(3_352_771), 1, nbl, &UPLINK, &synack_outer);
    p.host(t(3_352_851), Dir::Out, &synack_outer); // 11217
    p.write(options(Reference::ArpDropVfp, at(17, 2, 47, 918_423)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::etl::events::EtlEvents;
    use crate::capture::etl::EtlReader;
    use crate::event::EventKind;
    use vmswitch::NblEvent;

    #[test]
    fn times_are_utc_on_the_day() {
        assert_eq!(at(17, 2, 15, 9_863_839).to_string(), "2017-11-08T17:02:15.986383900Z");
        assert_eq!(at(18, 34, 34, 8_067_296).to_string(), "2017-11-08T18:34:34.806729600Z");
    }

    #[test]
    fn frames_have_the_lengths_of_the_document() {
        let outer = |f: &[u8]| (u16::from_be_bytes([f[18], f[19]]), u16::from_be_bytes([f[16], f[17]])); // (id, len)
        let (bytes, _) = build(Reference::VxlanDecap).unwrap();
        let mut r = EtlReader::new(&bytes[..]).unwrap();
        let first = loop {
            let rec = r.next_record().unwrap().unwrap();
            if rec.provider == Some(ndiscap::GUID) {
                break rec;
            }
        };
        let frag = ndiscap::fragment(&first.user_data).unwrap();
        let f = frag.bytes;
        assert_eq!(f.len(), 14 + 110);
        assert_eq!(outer(f), (30052, 110));
        assert_eq!(u16::from_be_bytes([f[38], f[39]]), 90); // UDP length
        assert_eq!(&f[42..50], &[0x08, 0, 0, 0, 0x00, 0x10, 0x00, 0]); // VNI 4096
        let inner = &f[50..];
        assert_eq!(outer(inner), (29796, 60));
        assert_eq!(inner[14 + 20], 8); // echo request

        let syn_opts = linux_syn_options(1410, 1, 7);
        let syn = tcp_syn(&Tcp {
            src_mac: MAC_DOCKER2,
            dst_mac: MAC_WEB3,
            src: (IP_INGRESS2, 65408),
            dst: (IP_WEB3, 80),
            ip_id: 41609,
            ttl: 64,
            seq: 4_237_068_666,
            ack: None,
            window: 29200,
            options: &syn_opts,
        })
        .unwrap();
        assert_eq!(outer(&syn), (41609, 60));
        let o =
            Outer { src_mac: [0; 6], dst_mac: [0; 6], src: [0; 4], dst: [0; 4], ip_id: 18216, src_port: 1, vni: VNI };
        let opts = windows_syn_options(1460, 8);
        let synack = tcp_syn(&Tcp {
            src_mac: [0; 6],
            dst_mac: [0; 6],
            src: ([0; 4], 80),
            dst: ([0; 4], 1),
            ip_id: 17960,
            ttl: 128,
            seq: 1,
            ack: Some(2),
            window: 65535,
            options: &opts,
        })
        .unwrap();
        assert_eq!(outer(&synack), (17960, 52));
        let enc = vxlan(&o, &synack).unwrap();
        assert_eq!(outer(&enc), (18216, 102));
        assert_eq!(u16::from_be_bytes([enc[38], enc[39]]), 82);
        let a =
            arp(MAC_WEB3, MAC_BROADCAST, ArpOperation::REQUEST, (MAC_WEB3, IP_WEB3), ([0; 6], IP_INGRESS2)).unwrap();
        assert_eq!(a.len(), 42);
    }

    #[test]
    fn payloads_decode_with_the_readers_decoders() {
        let frame = [1u8, 2, 3, 4, 5];
        let d = encode_fragment(5, &frame);
        let f = ndiscap::fragment(&d).unwrap();
        assert_eq!((f.miniport_if_index, f.lower_if_index, f.bytes), (5, 5, &frame[..]));
        let d = encode_vmswitch_fragment(&WEB3, &frame);
        let f = ndiscap::vmswitch_fragment(&d, 8).unwrap();
        let port = f.vmswitch.unwrap();
        assert_eq!((f.lower_if_index, f.bytes), (SWITCH_IF_INDEX, &frame[..]));
        assert_eq!((port.source_port_id, port.source_port_name.as_str()), (4, WEB3.id));
        assert_eq!((port.source_nic_name.as_str(), port.source_nic_type.as_str()), (WEB3.name, "Synthetic"));
        assert_eq!(
            (port.destination_count, port.vlan_id, port.hash_value),
            (0, 0, crate::generate::frames::rss_hash(&frame))
        );

        let nbl = 0xFFFF_880A_4600_B370;
        match vmswitch::decode(vmswitch::EVENT_RECEIVE, &encode_nic_event(&UPLINK, nbl), 8) {
            Some(NblEvent::Receive { nic, switch, nbl: Some(p) }) => {
                assert_eq!((nic.id.as_str(), nic.name.as_str(), p), (UPLINK.id, UPLINK.name, nbl));
                assert_eq!((switch.id.as_str(), switch.name.as_str()), (SWITCH_ID, SWITCH_NAME));
            }
            other => panic!("{other:?}"),
        }
        match vmswitch::decode(vmswitch::EVENT_ROUTE, &encode_route(&INGRESS, &WEB2, 7), 8) {
            Some(NblEvent::Route { from, to, nbl: Some(7), .. }) => {
                assert_eq!((from.name.as_str(), to.id.as_str()), ("Ethernet 5", WEB2.id));
            }
            other => panic!("{other:?}"),
        }
        let d = encode_extension_drop(&WEB3, (VFP_ID, VFP_NAME), VFP_DROP_REASON);
        match vmswitch::decode(vmswitch::EVENT_EXTENSION_DROP, &d, 8) {
            Some(NblEvent::ExtensionDrop { nic, extension, reason, .. }) => {
                assert_eq!((nic.id.as_str(), extension.id.as_str()), (WEB3.id, VFP_ID));
                assert_eq!((extension.name.as_str(), reason.as_str()), (VFP_NAME, VFP_DROP_REASON));
            }
            other => panic!("{other:?}"),
        }
    }

    /// Every NBL event is followed on its CPU, 100 ns later, by a 1003
    /// fragment at the NBL event's source NIC.
    #[test]
    fn every_nbl_event_is_bound_to_the_next_fragment_on_its_cpu() {
        for which in Reference::ALL {
            let (bytes, stats) = build(which).unwrap();
            let mut ev = EtlEvents::new(EtlReader::new(&bytes[..]).unwrap());
            // Per CPU: (time, the NBL event's source NIC, the fragment's NIC).
            type Row = (i64, Option<String>, Option<String>);
            let mut per_cpu: Vec<Vec<Row>> = vec![Vec::new(); CPUS as usize];
            let mut n = 0;
            while let Some(e) = ev.next_event().unwrap() {
                let Some(rec) = e.etw else { continue };
                if rec.provider.is_none() {
                    continue; // the logfile header
                }
                n += 1;
                let cpu = rec.cpu as usize;
                match &e.kind {
                    EventKind::Nbl(nbl) => {
                        let source = match nbl {
                            NblEvent::Receive { nic, .. } | NblEvent::Deliver { nic, .. } => Some(nic.name.to_string()),
                            NblEvent::Route { from, .. } => Some(from.name.to_string()),
                            _ => None,
                        };
                        per_cpu[cpu].push((e.ts.0, source, None));
                    }
                    EventKind::Packet(p) => {
                        let nic = p.meta.switch_port.as_ref().map(|s| s.source_nic_name.to_string());
                        per_cpu[cpu].push((e.ts.0, None, nic));
                    }
                    other => panic!("{which:?}: {other:?}"),
                }
            }
            assert_eq!(n, stats.events, "{which:?}");
            assert!(ev.take_warnings().is_empty());
            let mut bound = 0;
            for events in &per_cpu {
                for (i, (ts, source, _)) in events.iter().enumerate() {
                    let Some(source) = source else { continue };
                    let (next_ts, _, nic) = &events[i + 1];
                    assert_eq!(next_ts - ts, 100, "{which:?}");
                    assert_eq!(nic.as_ref(), Some(source), "{which:?}");
                    bound += 1;
                }
            }
            assert!(bound >= 3, "{which:?}");
        }
    }

    #[test]
    fn write_reports_what_it_wrote() {
        for which in Reference::ALL {
            let mut out = Vec::new();
            let stats = write(which, &mut out).unwrap();
            assert_eq!(stats.bytes, out.len() as u64);
            // A header buffer and one per CPU used (scenario B's one packet
            // stays on CPU 0).
            let cpus_used = if which == Reference::VxlanDecap { 1 } else { 2 };
            assert_eq!(stats.buffers, 1 + cpus_used, "{which:?}");
            assert_eq!(out, build(which).unwrap().0, "deterministic");
        }
    }
}
