//! A randomised Docker-swarm host as ETL plus the host NIC's pcapng, with
//! the ground truth of every packet's path.
//!
//! One Hyper-V switch ("swarm-sw") with the host's uplink, the ingress
//! endpoint and a few container NICs. Traffic, `SwarmOptions::flows` flows
//! open at a time until about `SwarmOptions::size` bytes of (uncompressed)
//! ETL:
//! - routing-mesh TCP from external clients, NATed by the switch to a
//!   container as in scenario A of `scenarios.md` (new NBL pointer at the
//!   route, tuple rewritten; replies rewritten back);
//! - TCP, UDP and ICMP between remote and local containers in VXLAN,
//!   decapsulated at the route on the way in and encapsulated on the way out
//!   as in scenarios B and C (one NBL pointer throughout);
//! - some packets dropped by the VFP extension (event 60, reason text) or by
//!   the switch with a numeric reason (54 incoming, 55 outgoing).
//!
//! The event layout is the reference scenarios' (`scenarios.rs`): every
//! NBL event (56/57/58) is followed on its CPU 100 ns later by an ndiscap
//! 1003 fragment at the event's source NIC (56: receiving NIC, 57: `from`,
//! 58: destination) holding the packet as it was at that hop; 1001 events
//! are the host adapter; other 1003 events are captures at a container's
//! port. Each packet's events are on one CPU, CPUs drawn at random, so the
//! file order of events is not their time order.
//!
//! Timing rules that keep the truth unambiguous for a correlator that
//! follows `design.md`:
//! - every event has its own 100 ns tick (no two events share a time);
//! - NBL pointers come from a small pool and are reused once their
//!   lifecycle ended: by any packet starting after the delivery or drop
//!   (as a receive, or as the fresh pointer of a NAT copy), and 300 ms
//!   (longer than the 200 ms correlation window plus its sweep interval)
//!   after the last event of a pointer a NAT rewrite left behind;
//! - drop events carry no NBL pointer and belong to the newest open
//!   lifecycle last seen at the drop's NIC, so between a dropped packet's
//!   last event at that NIC and its drop no other packet is received at, or
//!   routed from, that NIC;
//! - no two packets alive within 2 s share the NAT-invariant fingerprint.
//!
//! The same seed and size give the same traffic whatever the CPU count and
//! compression (a separate random stream picks the CPUs, and the size counts
//! uncompressed records); `--compress` only makes the file smaller.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use etherparse::{IpNumber, PacketBuilder, TcpOptionElement};
use serde::Serialize;

use super::etl::{EtlWriter, EtlWriterOptions, EventRecord};
use super::frames::{
    fragment_keywords, ipv4, other, port_fragment, vxlan, Ip, Mac, Outer, NDIS_LEVEL, SYSTEM_PID, VMSWITCH_KEYWORD,
    VMSWITCH_LEVEL, VXLAN_PORT,
};
use super::mix::TruthFlow;
use super::Rng;
use crate::capture::etl::providers::{ndiscap, vmswitch};
use crate::capture::etl::raw::EVENT_HEADER_LEN;
use crate::capture::etl::record::aligned;
use crate::event::{Direction, LinkType};
use crate::packet::DecodeConfig;
use crate::packet::Proto;
use crate::report::pcapng::{EpbOptions, PcapNgWriter};
use crate::report::{Address, ProtoName, TunnelRow, TupleRow};
use crate::time::Timestamp;

#[derive(Debug, Clone)]
pub struct SwarmOptions {
    pub seed: u64,
    pub flows: usize,
    pub size: u64,
    pub cpus: u16,
    pub compress: bool,
}

// ---------------------------------------------------------------- truth

/// One hop of a packet, in the report's terms (`report-schema.md`, Path).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthHop {
    pub ts: Timestamp,
    pub kind: &'static str,
    pub point: String,
    pub nbl: Option<String>,
    pub switch: Option<String>,
    pub to: Option<String>,
    pub tuple: Option<TupleRow>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthNat {
    pub before: TupleRow,
    pub after: TupleRow,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthPacket {
    /// "nat" (routing mesh) or "vxlan".
    pub kind: &'static str,
    /// "in" from the uplink to a container, "out" the other way.
    pub direction: &'static str,
    pub cpu: u16,
    /// "delivered" or "dropped".
    pub verdict: &'static str,
    pub hops: Vec<TruthHop>,
    /// The rewrite the switch made, if it made one.
    pub nat: Option<TruthNat>,
}

/// One distinct NAT mapping and the packets rewritten by it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthRewrite {
    pub before: TupleRow,
    pub after: TupleRow,
    pub point: String,
    pub packets: u64,
}

/// One dropped packet.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthDrop {
    pub ts: Timestamp,
    pub point: String,
    pub by: String,
    pub reason: String,
    pub reason_code: Option<u32>,
}

/// Hop latency per (from, to) key, nearest-rank percentiles, rounded to the
/// nanosecond as the report rounds them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthLatency {
    pub from: String,
    pub to: String,
    pub count: u64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SwarmTruth {
    pub scenario: &'static str,
    pub seed: u64,
    pub cpus: u16,
    pub compress: bool,
    /// The switch's friendly name and id.
    pub switch: String,
    pub switch_id: String,
    /// Capture point name of the host adapter's 1001 events.
    pub host_point: String,
    pub etl_events: u64,
    pub etl_bytes: u64,
    pub pcapng_packets: u64,
    pub pcapng_bytes: u64,
    pub delivered: u64,
    pub dropped: u64,
    /// Every packet, in the order of its first hop.
    pub packets: Vec<TruthPacket>,
    /// The host NIC's view (the pcapng, outer frames), in the order of each
    /// flow's first packet there.
    pub flows: Vec<TruthFlow>,
    /// Distinct NAT mappings, in the order first used.
    pub nat: Vec<TruthRewrite>,
    /// Every drop, in time order.
    pub drops: Vec<TruthDrop>,
    /// Sorted by (from, to), as the report lists them.
    pub latency: Vec<TruthLatency>,
}

// ---------------------------------------------------------------- constants

/// 2017-11-08T09:00:00Z: the session start. Traffic starts a second later.
const START_NS: i64 = (1_510_099_200 + 9 * 3600) * 1_000_000_000;
/// Times are counted in ETL ticks of 100 ns from `START_NS`.
const TICK_NS: i64 = 100;
const TICKS_PER_US: i64 = 10;
const FIRST_TICK: i64 = 10_000_000;
/// How long a pointer left behind by a NAT copy stays out of the pool.
const ABANDONED_QUARANTINE: i64 = 300_000 * TICKS_PER_US;
/// How long a NAT-invariant fingerprint is kept unique.
const INVARIANT_HORIZON: i64 = 2_000_000 * TICKS_PER_US;
/// Pointers the pool starts with; it grows only when all are busy.
const POOL_START: usize = 24;

const BUFFER_SIZE: usize = 16 << 10;
const OS_BUILD: u32 = 17763;
const HOST_IF_INDEX: u32 = 7;
const SWITCH_IF_INDEX: u32 = 14;

const SWITCH_NAME: &str = "swarm-sw";
const HOST_ADAPTER: &str = "vEthernet (Ethernet 3)";
const VFP_ID: &str = "{24C70E26-D4C4-42B9-854A-0A4B9BA2C286}-{E9B59CFA-2BE1-4B21-828F-B6FBDBDDC017}-0000";
const VFP_NAME: &str = "Virtual Filtering Platform VMSwitch Extension";
const VFP_REASONS_IN: [&str; 2] = ["Incoming packet dropped by VFP", "Dropped by VFP: no matching load balancer rule"];
const VFP_REASONS_OUT: [&str; 2] = ["Outgoing packet dropped by VFP", "Dropped by VFP: blocked by ACL"];
/// DropReason codes of 54 (incoming) and 55 (outgoing) drops.
const SWITCH_CODES_IN: [u32; 5] = [8, 11, 16, 20, 23];
const SWITCH_CODES_OUT: [u32; 4] = [14, 30, 33, 34];

/// Chance a packet is dropped, percent.
const DROP_PERCENT: u64 = 4;
/// Chance a container-side packet is also captured at the container's port.
const PORT_CAPTURE_PERCENT: u64 = 70;

const VNIS: [u32; 3] = [4096, 4097, 4113];

const HOST_MAC: Mac = [0x00, 0x22, 0x48, 0x01, 0x00, 0x03];
const HOST_IP: Ip = [10, 0, 0, 4];
const GATEWAY_MAC: Mac = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc];
const INGRESS_IP: Ip = [10, 255, 0, 2];
const PUBLISHED: [(u16, u16); 3] = [(80, 80), (443, 443), (8080, 80)];

// ---------------------------------------------------------------- helpers

fn ts(tick: i64) -> Timestamp {
    Timestamp(START_NS + tick * TICK_NS)
}

fn address(ip: Ip) -> Address {
    Address(std::net::Ipv4Addr::from(ip).into())
}

fn nbl_text(p: u64) -> String {
    format!("{p:#018X}").replacen("0X", "0x", 1)
}

fn guid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFFF,
        b >> 48,
        b & 0xFFFF_FFFF_FFFF
    )
}

/// A transport tuple as the report writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Tuple {
    proto: u8,
    src: Ip,
    sport: u16,
    dst: Ip,
    dport: u16,
}

impl Tuple {
    fn row(&self) -> TupleRow {
        let ports = self.proto != 1;
        TupleRow {
            proto: ProtoName(match self.proto {
                6 => Proto::Tcp,
                17 => Proto::Udp,
                _ => Proto::Icmp,
            }),
            src: address(self.src),
            src_port: ports.then_some(self.sport),
            dst: address(self.dst),
            dst_port: ports.then_some(self.dport),
        }
    }

    fn reversed(&self) -> Tuple {
        Tuple { proto: self.proto, src: self.dst, sport: self.dport, dst: self.src, dport: self.sport }
    }

    fn canonical(&self) -> Tuple {
        if (self.src, self.sport) <= (self.dst, self.dport) {
            *self
        } else {
            self.reversed()
        }
    }
}

/// A NIC on the switch.
#[derive(Debug, Clone)]
struct Nic {
    id: String,
    name: String,
    kind: &'static str,
    port_id: u32,
    mac: Mac,
    ip: Ip,
    vni: u32,
}

const UPLINK: usize = 0;
const INGRESS: usize = 1;

impl Nic {
    /// Its capture point name as the ETL reader names switch ports.
    fn point(&self) -> String {
        format!("vNIC:{}:{}:{SWITCH_IF_INDEX}:0", self.kind, self.id)
    }
}

// ---------------------------------------------------------------- frames

/// What a packet carries, whatever its addresses.
#[derive(Debug, Clone)]
enum Body {
    Tcp { seq: u32, ack: Option<u32>, syn: bool, fin: bool, window: u16, options: Vec<TcpOptionElement> },
    Udp,
    Icmp { request: bool, id: u16, seq: u16 },
}

fn frame(
    src_mac: Mac,
    dst_mac: Mac,
    t: &Tuple,
    ip_id: u16,
    ttl: u8,
    body: &Body,
    payload: &[u8],
) -> io::Result<Vec<u8>> {
    let b = PacketBuilder::ethernet2(src_mac, dst_mac);
    let mut v = Vec::with_capacity(64 + payload.len());
    match body {
        Body::Tcp { seq, ack, syn, fin, window, options } => {
            let mut b = b.ip(ipv4(t.src, t.dst, ip_id, ttl, IpNumber::TCP)).tcp(t.sport, t.dport, *seq, *window);
            if *syn {
                b = b.syn();
            }
            if *fin {
                b = b.fin();
            }
            if let Some(a) = ack {
                b = b.ack(*a);
            }
            if !payload.is_empty() {
                b = b.psh();
            }
            let b = b.options(options).map_err(other)?;
            b.write(&mut v, payload).map_err(other)?;
        }
        Body::Udp => {
            let b = b.ip(ipv4(t.src, t.dst, ip_id, ttl, IpNumber::UDP)).udp(t.sport, t.dport);
            b.write(&mut v, payload).map_err(other)?;
        }
        Body::Icmp { request, id, seq } => {
            let b = b.ip(ipv4(t.src, t.dst, ip_id, ttl, IpNumber::ICMP));
            let b = if *request { b.icmpv4_echo_request(*id, *seq) } else { b.icmpv4_echo_reply(*id, *seq) };
            b.write(&mut v, payload).map_err(other)?;
        }
    }
    Ok(v)
}

// ---------------------------------------------------------------- payloads

/// ndiscap 1001 at the host adapter.
fn encode_fragment(frame: &[u8]) -> Vec<u8> {
    ndiscap::emit_fragment(HOST_IF_INDEX, HOST_IF_INDEX, frame)
}

/// ndiscap 1003 at `nic`'s port.
fn encode_port_fragment(nic: &Nic, frame: &[u8]) -> Vec<u8> {
    port_fragment(SWITCH_IF_INDEX, nic.port_id, &nic.id, &nic.name, nic.kind, frame)
}

fn named(out: &mut Vec<u8>, id: &str, name: &str) {
    vmswitch::emit_counted(out, id);
    vmswitch::emit_counted(out, name);
}

/// How a packet is dropped.
#[derive(Debug, Clone, Copy)]
enum DropHow {
    /// Event 60 by VFP with this reason text.
    Extension(&'static str),
    /// Event 54 with this DropReason.
    Incoming(u32),
    /// Event 55 with this DropReason.
    Outgoing(u32),
}

impl DropHow {
    fn by(self) -> &'static str {
        match self {
            DropHow::Extension(_) => VFP_NAME,
            DropHow::Incoming(_) | DropHow::Outgoing(_) => SWITCH_NAME,
        }
    }

    fn reason(self) -> String {
        match self {
            DropHow::Extension(r) => r.to_string(),
            DropHow::Incoming(c) | DropHow::Outgoing(c) => vmswitch::drop_reason(c).to_string(),
        }
    }

    fn code(self) -> Option<u32> {
        match self {
            DropHow::Extension(_) => None,
            DropHow::Incoming(c) | DropHow::Outgoing(c) => Some(c),
        }
    }
}

// ---------------------------------------------------------------- events

/// An event placed on the timeline, written once nothing can come before it.
enum Planned {
    /// A 1001 fragment at the host adapter, also written to the pcapng.
    Host {
        cpu: u16,
        dir: Direction,
        frame: Vec<u8>,
    },
    Etw {
        cpu: u16,
        ndis: bool,
        id: u16,
        keywords: u64,
        data: Vec<u8>,
    },
}

/// One packet as the container sees it and as the host adapter sees it.
struct Frames {
    inside: Vec<u8>,
    outside: Vec<u8>,
    /// The outer VXLAN tuple and VNI of `outside`, if it is encapsulated.
    outer: Option<(Tuple, u32)>,
}

/// A frame and its innermost tuple.
#[derive(Clone, Copy)]
struct Seen<'a> {
    frame: &'a [u8],
    tuple: Tuple,
}

/// One step of a packet's way through the host.
enum Op<'a> {
    Host(Direction, Seen<'a>),
    Port(usize, Direction, Seen<'a>),
    Receive(usize, Seen<'a>),
    /// From, to, a fresh pointer (a NAT copy) or the same, the frame.
    Route(usize, usize, bool, Seen<'a>),
    Deliver(usize, Seen<'a>),
    Drop(usize, DropHow),
}

/// Which way a flow's packet goes, and what it is.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// Sent by the side that opened the flow.
    forward: bool,
    syn: bool,
    fin: bool,
    payload: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlowKind {
    Nat,
    VxlanTcp,
    VxlanUdp,
    VxlanIcmp,
}

struct Flow {
    kind: FlowKind,
    container: usize,
    /// The opener came in through the uplink.
    remote_opens: bool,
    /// The outside end: client (NAT) or remote container (VXLAN).
    remote: (Ip, u16),
    remote_mac: Mac,
    /// NAT: the published port on the host, the ingress endpoint's port.
    public_port: u16,
    snat_port: u16,
    /// The container's port.
    local_port: u16,
    /// VXLAN: the remote host, and the outer source ports (in, out).
    peer: (Ip, Mac),
    outer_ports: [u16; 2],
    vni: u32,
    steps: Vec<Step>,
    next: usize,
    /// [remote side, local side]
    seq: [u32; 2],
    ip_id: [u16; 2],
    ttl_in: u8,
    window: [u16; 2],
    icmp_id: u16,
    icmp_seq: u16,
    /// Index of its row in the host's flows and the tuple of that row's fwd direction.
    truth_flow: Option<(usize, Tuple)>,
}

struct Gen {
    rng: Rng,
    cpu_rng: Rng,
    cpus: u16,
    nics: Vec<Nic>,
    switch_id: String,
    pending: BTreeMap<i64, Planned>,
    /// Per NIC: ticks of receives at it and routes from it.
    marks: Vec<BTreeSet<i64>>,
    /// Per NIC: (last event, drop) of dropped packets; no other mark inside.
    reserved: Vec<Vec<(i64, i64)>>,
    /// NBL pointers; those free for any packet from now on; those that will
    /// be free from a tick on.
    pointers: Vec<u64>,
    known_pointers: HashSet<u64>,
    free_pointers: Vec<usize>,
    waiting_pointers: BinaryHeap<Reverse<(i64, usize)>>,
    invariants: HashMap<u64, i64>,
    used_tuples: HashSet<Tuple>,
    nonce: u64,
    truth: SwarmTruth,
    nat_index: HashMap<(Tuple, Tuple), usize>,
    /// When each of the host's flows was first seen there.
    flow_first: Vec<i64>,
    latency: BTreeMap<(String, String), Vec<f64>>,
    etl: EtlWriter<BufWriter<File>>,
    pcap: PcapNgWriter<BufWriter<File>>,
    host_iface: u32,
    estimate: u64,
}

impl Gen {
    // ------------------------------------------------------------ timeline

    /// The first tick at or after `t` that is free (with the next one, for
    /// an NBL event and its fragment) and, for an event that marks `mark`'s
    /// NIC, outside the NIC's reserved intervals.
    fn free_tick(&self, mut t: i64, pair: bool, mark: Option<usize>) -> i64 {
        loop {
            if self.pending.contains_key(&t) || (pair && self.pending.contains_key(&(t + 1))) {
                t += 1;
                continue;
            }
            if let Some(n) = mark {
                if let Some(&(_, b)) = self.reserved[n].iter().find(|(a, b)| t > *a && t <= *b) {
                    t = b + 1;
                    continue;
                }
            }
            return t;
        }
    }

    /// Writes every event before `tick` (nothing can be placed there any more).
    fn flush(&mut self, tick: i64) -> io::Result<()> {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() >= tick {
                break;
            }
            let (t, ev) = entry.remove_entry();
            let (cpu, ndis, id, keywords, data) = match ev {
                Planned::Host { cpu, dir, frame } => {
                    let opts = EpbOptions { direction: dir, ..Default::default() };
                    self.pcap.write_packet(self.host_iface, ts(t), &frame, frame.len() as u32, &opts)?;
                    self.truth.pcapng_packets += 1;
                    self.truth.pcapng_bytes += frame.len() as u64;
                    let kw = fragment_keywords(dir, false);
                    (cpu, true, ndiscap::EVENT_FRAGMENT, kw, encode_fragment(&frame))
                }
                Planned::Etw { cpu, ndis, id, keywords, data } => (cpu, ndis, id, keywords, data),
            };
            let (provider, level) = if ndis { (ndiscap::GUID, NDIS_LEVEL) } else { (vmswitch::GUID, VMSWITCH_LEVEL) };
            self.etl.write_event(&EventRecord {
                ts: ts(t),
                cpu,
                provider,
                id,
                version: 0,
                level,
                opcode: 0,
                task: 0,
                keywords,
                pid: SYSTEM_PID,
                tid: 0x0c4c + 0x34 * cpu as u32,
                user_data: &data,
            })?;
        }
        // What lies before `tick` no longer constrains anything.
        for m in &mut self.marks {
            while m.first().is_some_and(|f| *f < tick) {
                m.pop_first();
            }
        }
        for r in &mut self.reserved {
            r.retain(|(_, b)| *b >= tick);
        }
        // Packets from now on start at `tick` or later.
        while let Some(&Reverse((from, i))) = self.waiting_pointers.peek() {
            if from > tick {
                break;
            }
            self.waiting_pointers.pop();
            self.free_pointers.push(i);
        }
        Ok(())
    }

    fn place(&mut self, tick: i64, ev: Planned) {
        let len = match &ev {
            Planned::Host { frame, .. } => 12 + frame.len(),
            Planned::Etw { data, .. } => data.len(),
        };
        self.estimate += aligned(EVENT_HEADER_LEN + len) as u64;
        self.pending.insert(tick, ev);
    }

    fn vmswitch(&mut self, tick: i64, cpu: u16, id: u16, data: Vec<u8>) {
        self.place(tick, Planned::Etw { cpu, ndis: false, id, keywords: VMSWITCH_KEYWORD, data });
    }

    fn port(&mut self, tick: i64, cpu: u16, nic: usize, dir: Direction, frame: &[u8]) {
        let kw = fragment_keywords(dir, true);
        let data = encode_port_fragment(&self.nics[nic], frame);
        self.place(tick, Planned::Etw { cpu, ndis: true, id: ndiscap::EVENT_VMSWITCH_FRAGMENT, keywords: kw, data });
    }

    fn switch_named(&self, d: &mut Vec<u8>) {
        named(d, &self.switch_id, SWITCH_NAME);
    }

    // ------------------------------------------------------------ pointers

    /// A free pointer, at random; a new one when none is free.
    fn take_pointer(&mut self) -> usize {
        if self.free_pointers.is_empty() {
            self.new_pointer();
        }
        let k = self.rng.range(0, self.free_pointers.len() as u64 - 1) as usize;
        self.free_pointers.swap_remove(k)
    }

    /// Adds a pointer to the free ones.
    fn new_pointer(&mut self) {
        loop {
            let p = 0xFFFF_880A_4000_0000 | (self.rng.next_u64() & 0x0FFF_FFF0);
            if self.known_pointers.insert(p) {
                self.pointers.push(p);
                self.free_pointers.push(self.pointers.len() - 1);
                return;
            }
        }
    }

    /// Pointer `i` can be used again from `tick` on.
    fn release_pointer(&mut self, i: usize, tick: i64) {
        self.waiting_pointers.push(Reverse((tick, i)));
    }

    // ------------------------------------------------------------ flows

    fn new_flow(&mut self) -> Flow {
        let rng = &mut self.rng;
        let kind = match rng.range(0, 9) {
            0..=4 => FlowKind::Nat,
            5..=7 => FlowKind::VxlanTcp,
            8 => FlowKind::VxlanUdp,
            _ => FlowKind::VxlanIcmp,
        };
        let containers = self.nics.len() - 2;
        let container = 2 + rng.range(0, containers as u64 - 1) as usize;
        let (public_port, local_port) = match kind {
            FlowKind::Nat => PUBLISHED[rng.range(0, PUBLISHED.len() as u64 - 1) as usize],
            FlowKind::VxlanTcp => (0, [80u16, 6379, 5432][rng.range(0, 2) as usize]),
            FlowKind::VxlanUdp => (0, [53u16, 8125][rng.range(0, 1) as usize]),
            FlowKind::VxlanIcmp => (0, 0),
        };
        let remote_opens = kind == FlowKind::Nat || rng.chance(60);
        let peer_index = rng.range(5, 9) as u8;
        let peer = ([10, 0, 0, peer_index], [0x00, 0x22, 0x48, 0x01, 0x9e, peer_index]);
        let tcp_steps = |rng: &mut Rng| {
            let mut s = vec![
                Step { forward: true, syn: true, fin: false, payload: 0 },
                Step { forward: false, syn: true, fin: false, payload: 0 },
                Step { forward: true, syn: false, fin: false, payload: 0 },
            ];
            for _ in 0..rng.range(1, 5) {
                s.push(Step { forward: true, syn: false, fin: false, payload: rng.range(40, 600) as u16 });
                for _ in 0..rng.range(1, 3) {
                    s.push(Step { forward: false, syn: false, fin: false, payload: rng.range(100, 1400) as u16 });
                }
            }
            s.push(Step { forward: true, syn: false, fin: true, payload: 0 });
            s.push(Step { forward: false, syn: false, fin: true, payload: 0 });
            s.push(Step { forward: true, syn: false, fin: false, payload: 0 });
            s
        };
        let steps = match kind {
            FlowKind::Nat | FlowKind::VxlanTcp => tcp_steps(rng),
            FlowKind::VxlanUdp => (0..rng.range(1, 4))
                .flat_map(|_| {
                    let q = rng.range(30, 120) as u16;
                    let r = rng.range(60, 900) as u16;
                    [
                        Step { forward: true, syn: false, fin: false, payload: q },
                        Step { forward: false, syn: false, fin: false, payload: r },
                    ]
                })
                .collect(),
            FlowKind::VxlanIcmp => (0..rng.range(1, 6))
                .flat_map(|_| {
                    [
                        Step { forward: true, syn: false, fin: false, payload: 32 },
                        Step { forward: false, syn: false, fin: false, payload: 32 },
                    ]
                })
                .collect(),
        };
        let mut f = Flow {
            kind,
            container,
            remote_opens,
            remote: ([0; 4], 0),
            remote_mac: GATEWAY_MAC,
            public_port,
            snat_port: 0,
            local_port,
            peer,
            outer_ports: [rng.range(1024, 65000) as u16, rng.range(1024, 65000) as u16],
            vni: self.nics[container].vni,
            steps,
            next: 0,
            seq: [rng.next_u64() as u32, rng.next_u64() as u32],
            ip_id: [rng.next_u64() as u16, rng.next_u64() as u16],
            ttl_in: rng.range(40, 120) as u8,
            window: [rng.range(8192, 65535) as u16, rng.range(8192, 65535) as u16],
            icmp_id: rng.range(1, 0xFFFF) as u16,
            icmp_seq: rng.range(1, 1000) as u16,
            truth_flow: None,
        };
        // Endpoints no earlier flow had, so that the flows of the truth are
        // the flows of the report.
        loop {
            let rng = &mut self.rng;
            if kind == FlowKind::Nat {
                f.remote = (
                    [rng.range(11, 223) as u8, rng.next_u64() as u8, rng.next_u64() as u8, rng.range(1, 254) as u8],
                    rng.range(1024, 65535) as u16,
                );
                f.snat_port = rng.range(49152, 65535) as u16;
            } else {
                let net = 1 + rng.range(0, 7) as u8;
                f.remote = ([10, 255, net, rng.range(2, 250) as u8], rng.range(32768, 60999) as u16);
                f.remote_mac = [0x00, 0x15, 0x5d, 0xbc, net, f.remote.0[3]];
                if kind == FlowKind::VxlanIcmp {
                    f.remote.1 = 0;
                }
            }
            let keys = [self.outside_tuple(&f, true).canonical(), self.inside_tuple(&f, true).canonical()];
            if keys.iter().all(|k| !self.used_tuples.contains(k)) {
                self.used_tuples.extend(keys);
                return f;
            }
        }
    }

    /// The tuple as the container sees it, in the direction of a packet.
    fn inside_tuple(&self, f: &Flow, inbound: bool) -> Tuple {
        let c = &self.nics[f.container];
        let proto = match f.kind {
            FlowKind::Nat | FlowKind::VxlanTcp => 6,
            FlowKind::VxlanUdp => 17,
            FlowKind::VxlanIcmp => 1,
        };
        let t = match f.kind {
            FlowKind::Nat => Tuple { proto, src: INGRESS_IP, sport: f.snat_port, dst: c.ip, dport: f.local_port },
            _ => Tuple { proto, src: f.remote.0, sport: f.remote.1, dst: c.ip, dport: f.local_port },
        };
        if inbound {
            t
        } else {
            t.reversed()
        }
    }

    /// The innermost tuple as the host adapter sees it.
    fn outside_tuple(&self, f: &Flow, inbound: bool) -> Tuple {
        match f.kind {
            FlowKind::Nat => {
                let t = Tuple { proto: 6, src: f.remote.0, sport: f.remote.1, dst: HOST_IP, dport: f.public_port };
                if inbound {
                    t
                } else {
                    t.reversed()
                }
            }
            _ => self.inside_tuple(f, inbound),
        }
    }

    /// The packet of `step` as the container sees it and as the host adapter
    /// sees it, with its outer VXLAN tuple.
    fn frames(&mut self, f: &mut Flow, step: Step, start: i64) -> io::Result<Frames> {
        let inbound = step.forward == f.remote_opens;
        let side = if inbound { 0 } else { 1 };
        let c = self.nics[f.container].clone();
        let body = match f.kind {
            FlowKind::Nat | FlowKind::VxlanTcp => {
                let seq = f.seq[side];
                let ack = (!(step.syn && step.forward)).then_some(f.seq[1 - side]);
                let options = if step.syn {
                    use TcpOptionElement::*;
                    if inbound {
                        vec![
                            MaximumSegmentSize(1410),
                            Noop,
                            WindowScale(7),
                            Noop,
                            Noop,
                            SelectiveAcknowledgementPermitted,
                        ]
                    } else {
                        vec![
                            MaximumSegmentSize(1460),
                            Noop,
                            WindowScale(8),
                            Noop,
                            Noop,
                            SelectiveAcknowledgementPermitted,
                        ]
                    }
                } else {
                    Vec::new()
                };
                Body::Tcp { seq, ack, syn: step.syn, fin: step.fin, window: f.window[side], options }
            }
            FlowKind::VxlanUdp => Body::Udp,
            FlowKind::VxlanIcmp => Body::Icmp { request: step.forward, id: f.icmp_id, seq: f.icmp_seq },
        };
        let ip_id = f.ip_id[side];
        let ttl = if inbound { f.ttl_in } else { 128 };
        let inside_t = self.inside_tuple(f, inbound);
        let outside_t = self.outside_tuple(f, inbound);
        let (in_src_mac, in_dst_mac) = match (f.kind, inbound) {
            (FlowKind::Nat, true) => (HOST_MAC, c.mac),
            (FlowKind::Nat, false) => (c.mac, HOST_MAC),
            (_, true) => (f.remote_mac, c.mac),
            (_, false) => (c.mac, f.remote_mac),
        };
        let mut body = body;
        let mut tries = 0;
        let (inside, outside) = loop {
            self.nonce = self.nonce.wrapping_add(1);
            let mut payload = vec![0u8; step.payload as usize];
            let tag = (self.nonce ^ self.truth.seed.rotate_left(32)).to_be_bytes();
            for (i, b) in payload.iter_mut().enumerate() {
                *b = if i < 8 { tag[i] } else { b"swarm overlay payload "[i % 22] };
            }
            let inside = frame(in_src_mac, in_dst_mac, &inside_t, ip_id, ttl, &body, &payload)?;
            let inv = crate::packet::decode(LinkType::ETHERNET, &inside, &DecodeConfig::default()).invariant;
            let clash = self.invariants.get(&inv).is_some_and(|_| tries < 64);
            if clash {
                tries += 1;
                if let Body::Tcp { window, .. } = &mut body {
                    *window = window.wrapping_sub(1);
                }
                continue;
            }
            self.invariants.insert(inv, start);
            let outside = match f.kind {
                FlowKind::Nat => {
                    let (m1, m2) = if inbound { (f.remote_mac, HOST_MAC) } else { (HOST_MAC, f.remote_mac) };
                    frame(m1, m2, &outside_t, ip_id, ttl, &body, &payload)?
                }
                _ => {
                    let o = if inbound {
                        Outer {
                            src_mac: f.peer.1,
                            dst_mac: HOST_MAC,
                            src: f.peer.0,
                            dst: HOST_IP,
                            ip_id: ip_id ^ 0x5a5a,
                            src_port: f.outer_ports[0],
                            vni: f.vni,
                        }
                    } else {
                        Outer {
                            src_mac: HOST_MAC,
                            dst_mac: f.peer.1,
                            src: HOST_IP,
                            dst: f.peer.0,
                            ip_id: ip_id ^ 0x5a5a,
                            src_port: f.outer_ports[1],
                            vni: f.vni,
                        }
                    };
                    vxlan(&o, &inside)?
                }
            };
            break (inside, outside);
        };
        // Advance the flow.
        f.ip_id[side] = f.ip_id[side].wrapping_add(1);
        if matches!(f.kind, FlowKind::Nat | FlowKind::VxlanTcp) {
            f.seq[side] = f.seq[side].wrapping_add(step.payload as u32 + step.syn as u32 + step.fin as u32);
        }
        if f.kind == FlowKind::VxlanIcmp && !step.forward {
            f.icmp_seq = f.icmp_seq.wrapping_add(1);
        }
        let outer = match f.kind {
            FlowKind::Nat => None,
            _ => {
                let t = if inbound {
                    Tuple { proto: 17, src: f.peer.0, sport: f.outer_ports[0], dst: HOST_IP, dport: VXLAN_PORT }
                } else {
                    Tuple { proto: 17, src: HOST_IP, sport: f.outer_ports[1], dst: f.peer.0, dport: VXLAN_PORT }
                };
                Some((t, f.vni))
            }
        };
        Ok(Frames { inside, outside, outer })
    }

    // ------------------------------------------------------------ packets

    /// Places one packet of flow `f` starting at `start`; returns its last tick.
    fn packet(&mut self, f: &mut Flow, step: Step, start: i64) -> io::Result<i64> {
        let inbound = step.forward == f.remote_opens;
        let frames = self.frames(f, step, start)?;
        let outer = frames.outer;
        let inside = Seen { frame: &frames.inside, tuple: self.inside_tuple(f, inbound) };
        let outside = Seen { frame: &frames.outside, tuple: self.outside_tuple(f, inbound) };
        let cpu = self.cpu_rng.range(0, self.cpus as u64 - 1) as u16;
        let nat = f.kind == FlowKind::Nat;
        let c = f.container;
        let rng = &mut self.rng;
        // Where it ends: delivered, or dropped after the receive or the route.
        let drop = rng.chance(DROP_PERCENT).then(|| {
            let after_route = rng.chance(40);
            let how = match rng.range(0, 2) {
                0 => {
                    let reasons = if inbound { &VFP_REASONS_IN } else { &VFP_REASONS_OUT };
                    DropHow::Extension(reasons[rng.range(0, 1) as usize])
                }
                1 => DropHow::Incoming(SWITCH_CODES_IN[rng.range(0, SWITCH_CODES_IN.len() as u64 - 1) as usize]),
                _ => DropHow::Outgoing(SWITCH_CODES_OUT[rng.range(0, SWITCH_CODES_OUT.len() as u64 - 1) as usize]),
            };
            (after_route, how)
        });
        let port_capture = rng.chance(PORT_CAPTURE_PERCENT);
        let mut ops: Vec<Op<'_>> = Vec::with_capacity(6);
        if inbound {
            ops.push(Op::Host(Direction::Inbound, outside));
            ops.push(Op::Receive(UPLINK, outside));
            let from = if nat { INGRESS } else { UPLINK };
            match drop {
                Some((false, how)) => ops.push(Op::Drop(UPLINK, how)),
                Some((true, how)) => {
                    ops.push(Op::Route(from, c, nat, inside));
                    ops.push(Op::Drop(from, how));
                }
                None => {
                    ops.push(Op::Route(from, c, nat, inside));
                    ops.push(Op::Deliver(c, inside));
                    if port_capture {
                        ops.push(Op::Port(c, Direction::Outbound, inside));
                    }
                }
            }
        } else {
            if port_capture {
                ops.push(Op::Port(c, Direction::Inbound, inside));
            }
            ops.push(Op::Receive(c, inside));
            match drop {
                Some((false, how)) => ops.push(Op::Drop(c, how)),
                Some((true, how)) => {
                    ops.push(Op::Route(c, UPLINK, nat, outside));
                    ops.push(Op::Drop(c, how));
                }
                None => {
                    ops.push(Op::Route(c, UPLINK, nat, outside));
                    ops.push(Op::Deliver(UPLINK, outside));
                    ops.push(Op::Host(Direction::Outbound, outside));
                }
            }
        }

        let mut hops: Vec<TruthHop> = Vec::with_capacity(ops.len());
        let mut pointer: Option<usize> = None;
        let mut last = start;
        let mut at = start;
        let mut drop_tick: Option<i64> = None;
        for (i, op) in ops.iter().enumerate() {
            let gap = self.gap(op, i == 0);
            let desired = at + gap;
            let hop = match *op {
                Op::Host(dir, fr) => {
                    let t = self.free_tick(desired, false, None);
                    self.place(t, Planned::Host { cpu, dir, frame: fr.frame.to_vec() });
                    self.host_flow(f, t, fr.frame, fr.tuple, outer);
                    at = t;
                    self.hop(t, "capture", format!("eth:{HOST_IF_INDEX}:0"), None, false, None, Some(fr.tuple))
                }
                Op::Port(nic, dir, fr) => {
                    let t = self.free_tick(desired, false, None);
                    self.port(t, cpu, nic, dir, fr.frame);
                    at = t;
                    self.hop(t, "capture", self.nics[nic].point(), None, false, None, Some(fr.tuple))
                }
                Op::Receive(nic, fr) | Op::Route(nic, _, _, fr) => {
                    let fresh = matches!(op, Op::Receive(..) | Op::Route(_, _, true, _));
                    // The last event before a drop at this NIC: no other
                    // lifecycle may be seen there until the drop.
                    let t = match ops.get(i + 1) {
                        Some(Op::Drop(..)) => {
                            let (t, d) = self.before_drop(desired, nic);
                            drop_tick = Some(d);
                            t
                        }
                        _ => self.free_tick(desired, true, Some(nic)),
                    };
                    if fresh {
                        if let Some(old) = pointer.take() {
                            // Left behind by the NAT copy.
                            self.release_pointer(old, last.saturating_add(ABANDONED_QUARANTINE));
                        }
                        pointer = Some(self.take_pointer());
                    }
                    let p = pointer.map(|i| self.pointers[i]).unwrap_or(0);
                    let mut d = Vec::new();
                    let (kind, to, id) = match *op {
                        Op::Route(_, to, _, _) => {
                            named(&mut d, &self.nics[nic].id, &self.nics[nic].name);
                            named(&mut d, &self.nics[to].id, &self.nics[to].name);
                            ("routed", Some(self.nics[to].name.clone()), vmswitch::EVENT_ROUTE)
                        }
                        _ => {
                            named(&mut d, &self.nics[nic].id, &self.nics[nic].name);
                            ("received", None, vmswitch::EVENT_RECEIVE)
                        }
                    };
                    self.switch_named(&mut d);
                    d.extend_from_slice(&p.to_le_bytes());
                    self.vmswitch(t, cpu, id, d);
                    self.port(t + 1, cpu, nic, Direction::Inbound, fr.frame);
                    self.marks[nic].insert(t);
                    if let Some(dt) = drop_tick {
                        self.reserved[nic].push((t, dt));
                    }
                    at = t + 1;
                    last = t;
                    let point = self.nics[nic].name.clone();
                    self.hop(t, kind, point, Some(p), true, to, Some(fr.tuple))
                }
                Op::Deliver(nic, fr) => {
                    let t = self.free_tick(desired, true, None);
                    let p = pointer.map(|i| self.pointers[i]).unwrap_or(0);
                    let mut d = Vec::new();
                    named(&mut d, &self.nics[nic].id, &self.nics[nic].name);
                    self.switch_named(&mut d);
                    d.extend_from_slice(&p.to_le_bytes());
                    self.vmswitch(t, cpu, vmswitch::EVENT_DELIVER, d);
                    self.port(t + 1, cpu, nic, Direction::Outbound, fr.frame);
                    if let Some(i) = pointer.take() {
                        self.release_pointer(i, t + 2);
                    }
                    at = t + 1;
                    let point = self.nics[nic].name.clone();
                    self.hop(t, "delivered", point, Some(p), true, None, Some(fr.tuple))
                }
                Op::Drop(nic, how) => {
                    let t = drop_tick.unwrap_or_else(|| self.free_tick(desired, false, None));
                    let mut d = Vec::new();
                    let n = &self.nics[nic];
                    named(&mut d, &n.id, &n.name);
                    named(&mut d, &self.switch_id, SWITCH_NAME);
                    let id = match how {
                        DropHow::Extension(reason) => {
                            named(&mut d, VFP_ID, VFP_NAME);
                            vmswitch::emit_counted(&mut d, reason);
                            vmswitch::EVENT_EXTENSION_DROP
                        }
                        DropHow::Incoming(code) => {
                            d.extend_from_slice(&code.to_le_bytes());
                            vmswitch::EVENT_INCOMING_DROP
                        }
                        DropHow::Outgoing(code) => {
                            d.extend_from_slice(&code.to_le_bytes());
                            vmswitch::EVENT_OUTGOING_DROP
                        }
                    };
                    self.vmswitch(t, cpu, id, d);
                    if let Some(i) = pointer.take() {
                        self.release_pointer(i, t + 1);
                    }
                    at = t;
                    self.truth.drops.push(TruthDrop {
                        ts: ts(t),
                        point: self.nics[nic].name.clone(),
                        by: how.by().to_string(),
                        reason: how.reason(),
                        reason_code: how.code(),
                    });
                    let point = self.nics[nic].name.clone();
                    self.hop(t, "dropped", point, None, true, None, None)
                }
            };
            hops.push(hop);
        }
        if let Some(i) = pointer.take() {
            self.release_pointer(i, last.saturating_add(ABANDONED_QUARANTINE));
        }
        self.finish_packet(f, inbound, cpu, drop.is_some(), hops);
        Ok(at)
    }

    /// Time before an op, in ticks.
    fn gap(&mut self, op: &Op<'_>, first: bool) -> i64 {
        if first {
            return 0;
        }
        let us = |rng: &mut Rng, lo: u64, hi: u64| rng.range(lo * 10, hi * 10) as i64;
        let rng = &mut self.rng;
        match op {
            Op::Host(..) => us(rng, 3, 15),
            Op::Port(..) => us(rng, 2, 30),
            Op::Receive(..) => us(rng, 3, 15),
            // Mostly quick; now and then the switch holds a packet for long.
            Op::Route(..) => {
                if rng.chance(10) {
                    us(rng, 100, 400)
                } else {
                    us(rng, 2, 40)
                }
            }
            Op::Deliver(..) => us(rng, 1, 10),
            Op::Drop(..) => us(rng, 1, 20),
        }
    }

    /// The tick of the last NBL event at `nic` before a drop there, and the
    /// drop's tick: no other packet is received at or routed from `nic` in
    /// between (the drop names no pointer, only the NIC).
    fn before_drop(&mut self, mut desired: i64, nic: usize) -> (i64, i64) {
        let gap = self.rng.range(10, 200) as i64;
        loop {
            let t = self.free_tick(desired, true, Some(nic));
            let d = self.free_tick(t + 2 + gap, false, None);
            match self.marks[nic].range(t + 1..=d).next() {
                Some(&m) => desired = m + 1,
                None => return (t, d),
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn hop(
        &self,
        tick: i64,
        kind: &'static str,
        point: String,
        nbl: Option<u64>,
        switch: bool,
        to: Option<String>,
        tuple: Option<Tuple>,
    ) -> TruthHop {
        TruthHop {
            ts: ts(tick),
            kind,
            point,
            nbl: nbl.map(nbl_text),
            switch: switch.then(|| SWITCH_NAME.to_string()),
            to,
            tuple: tuple.map(|t| t.row()),
        }
    }

    /// Counts a packet seen at the host adapter in the host's flows.
    fn host_flow(&mut self, f: &mut Flow, tick: i64, fr: &[u8], inner: Tuple, outer: Option<(Tuple, u32)>) {
        let (i, fwd) = match f.truth_flow {
            Some(v) => v,
            None => {
                let r = inner.row();
                let tunnel = outer.map(|(o, vni)| TunnelRow {
                    kind: "vxlan",
                    vni,
                    outer_src: address(o.src),
                    outer_src_port: o.sport,
                    outer_dst: address(o.dst),
                    outer_dst_port: o.dport,
                });
                self.truth.flows.push(TruthFlow {
                    proto: match inner.proto {
                        6 => "tcp",
                        17 => "udp",
                        _ => "icmp",
                    },
                    src: r.src.to_string(),
                    src_port: r.src_port,
                    dst: r.dst.to_string(),
                    dst_port: r.dst_port,
                    tunnel,
                    packets_fwd: 0,
                    packets_rev: 0,
                    bytes_fwd: 0,
                    bytes_rev: 0,
                });
                self.flow_first.push(tick);
                f.truth_flow = Some((self.truth.flows.len() - 1, inner));
                (self.truth.flows.len() - 1, inner)
            }
        };
        let tf = &mut self.truth.flows[i];
        if inner == fwd {
            tf.packets_fwd += 1;
            tf.bytes_fwd += fr.len() as u64;
        } else {
            tf.packets_rev += 1;
            tf.bytes_rev += fr.len() as u64;
        }
    }

    /// The packet's truth: verdict, NAT, and the hop latency samples, by the
    /// rules of `trace::summary`.
    fn finish_packet(&mut self, f: &Flow, inbound: bool, cpu: u16, dropped: bool, hops: Vec<TruthHop>) {
        let place = |h: &TruthHop| match &h.switch {
            Some(s) => format!("{}@{s}", h.kind),
            None => format!("{}@{}", h.kind, h.point),
        };
        for w in hops.windows(2) {
            let us = (w[1].ts.0 - w[0].ts.0) as f64 / 1000.0;
            self.latency.entry((place(&w[0]), place(&w[1]))).or_default().push(us);
        }
        let received = hops.iter().position(|h| h.kind == "received");
        let delivered = hops.iter().rposition(|h| h.kind == "delivered");
        if let (Some(a), Some(b)) = (received, delivered) {
            if b > a + 1 {
                let us = (hops[b].ts.0 - hops[a].ts.0) as f64 / 1000.0;
                self.latency.entry((place(&hops[a]), place(&hops[b]))).or_default().push(us);
            }
        }
        let mut nat = None;
        if f.kind == FlowKind::Nat && hops.iter().any(|h| h.kind == "routed") {
            let (before, after) = if inbound {
                (self.outside_tuple(f, true), self.inside_tuple(f, true))
            } else {
                (self.inside_tuple(f, false), self.outside_tuple(f, false))
            };
            nat = Some(TruthNat { before: before.row(), after: after.row() });
            match self.nat_index.get(&(before, after)) {
                Some(&i) => self.truth.nat[i].packets += 1,
                None => {
                    self.nat_index.insert((before, after), self.truth.nat.len());
                    self.truth.nat.push(TruthRewrite {
                        before: before.row(),
                        after: after.row(),
                        point: SWITCH_NAME.to_string(),
                        packets: 1,
                    });
                }
            }
        }
        if dropped {
            self.truth.dropped += 1;
        } else {
            self.truth.delivered += 1;
        }
        self.truth.packets.push(TruthPacket {
            kind: if f.kind == FlowKind::Nat { "nat" } else { "vxlan" },
            direction: if inbound { "in" } else { "out" },
            cpu,
            verdict: if dropped { "dropped" } else { "delivered" },
            hops,
            nat,
        });
    }
}

/// Nearest-rank percentile of sorted samples (as `trace::summary`).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds rounded to the nanosecond, as the report rounds them.
fn round_us(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn create(path: &Path) -> io::Result<BufWriter<File>> {
    let f =
        File::create(path).map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display())))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

/// Writes `etl` (and the host NIC's view next to it, with the extension
/// `.pcapng`) and the truth; returns a one-line summary.
pub fn write(etl: &Path, truth: &Path, opts: &SwarmOptions) -> std::io::Result<String> {
    if opts.cpus == 0 || opts.cpus > super::etl::MAX_CPUS {
        let msg = format!("cpus must be 1..={}, not {}", super::etl::MAX_CPUS, opts.cpus);
        return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
    }
    let pcapng_path = etl.with_extension("pcapng");
    let etl_opts = EtlWriterOptions {
        start: Timestamp(START_NS),
        cpus: opts.cpus,
        buffer_size: BUFFER_SIZE,
        compress: opts.compress,
        provider_version: OS_BUILD,
        logger_name: "overlay-trace swarm".to_string(),
        log_file_name: "C:\\overlay-trace\\swarm.etl".to_string(),
        ..Default::default()
    };
    let writer = EtlWriter::new(create(etl)?, etl_opts)?;
    let mut pcap = PcapNgWriter::new(
        create(&pcapng_path)?,
        concat!("overlay-trace ", env!("CARGO_PKG_VERSION"), " generate swarm"),
    )?;
    let host_iface = pcap.add_interface_described(
        HOST_ADAPTER,
        Some("Hyper-V Virtual Ethernet Adapter #3"),
        LinkType::ETHERNET,
        65535,
    )?;

    let mut rng = Rng::new(opts.seed);
    let switch_id = guid(&mut rng);
    let mut nics = vec![
        Nic {
            id: format!("/DEVICE/{{{}}}", guid(&mut rng)),
            name: "Microsoft Hyper-V Network Adapter #3".to_string(),
            kind: "External",
            port_id: 1,
            mac: HOST_MAC,
            ip: HOST_IP,
            vni: 0,
        },
        Nic {
            id: guid(&mut rng),
            name: "Ethernet 3".to_string(),
            kind: "Internal",
            port_id: 2,
            mac: HOST_MAC,
            ip: INGRESS_IP,
            vni: VNIS[0],
        },
    ];
    for i in 0..rng.range(3, 8) as u8 {
        let endpoint: String = (0..4).map(|_| format!("{:016x}", rng.next_u64())).collect();
        nics.push(Nic {
            id: guid(&mut rng),
            name: endpoint,
            kind: "Synthetic",
            port_id: 3 + i as u32,
            mac: [0x00, 0x15, 0x5d, 0x71, rng.next_u64() as u8, 0x10 + i],
            ip: [10, 255, 0, 10 + i],
            vni: VNIS[rng.range(0, VNIS.len() as u64 - 1) as usize],
        });
    }
    let n = nics.len();
    let mut g = Gen {
        rng,
        cpu_rng: Rng::new(opts.seed ^ 0x6370_7573_6370_7573),
        cpus: opts.cpus.max(1),
        nics,
        switch_id: switch_id.clone(),
        pending: BTreeMap::new(),
        marks: vec![BTreeSet::new(); n],
        reserved: vec![Vec::new(); n],
        pointers: Vec::new(),
        known_pointers: HashSet::new(),
        free_pointers: Vec::new(),
        waiting_pointers: BinaryHeap::new(),
        invariants: HashMap::new(),
        used_tuples: HashSet::new(),
        nonce: 0,
        truth: SwarmTruth {
            scenario: "swarm",
            seed: opts.seed,
            cpus: opts.cpus,
            compress: opts.compress,
            switch: SWITCH_NAME.to_string(),
            switch_id,
            host_point: format!("eth:{HOST_IF_INDEX}:0"),
            etl_events: 0,
            etl_bytes: 0,
            pcapng_packets: 0,
            pcapng_bytes: 0,
            delivered: 0,
            dropped: 0,
            packets: Vec::new(),
            flows: Vec::new(),
            nat: Vec::new(),
            drops: Vec::new(),
            latency: Vec::new(),
        },
        nat_index: HashMap::new(),
        flow_first: Vec::new(),
        latency: BTreeMap::new(),
        etl: writer,
        pcap,
        host_iface,
        estimate: 0,
    };
    for _ in 0..POOL_START {
        g.new_pointer();
    }

    // Flows open at once, each sending its packets one after the other;
    // the flow due first goes next, so packets start in time order.
    let mut flows: Vec<Option<Flow>> = Vec::new();
    let mut due: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
    for i in 0..opts.flows.max(1) {
        flows.push(Some(g.new_flow()));
        due.push(Reverse((FIRST_TICK + g.rng.range(0, 2_000) as i64 * (i as i64 + 1), i)));
    }
    let mut last_prune = FIRST_TICK;
    while let Some(Reverse((t, slot))) = due.pop() {
        g.flush(t)?;
        if t - last_prune > INVARIANT_HORIZON {
            // Fingerprints older than the horizon may come back.
            g.invariants.retain(|_, seen| *seen >= t - INVARIANT_HORIZON);
            last_prune = t;
        }
        let Some(mut f) = flows[slot].take() else { continue };
        if g.estimate >= opts.size {
            // Big enough: the flows still open end here.
            continue;
        }
        let step = f.steps[f.next];
        f.next += 1;
        let end = g.packet(&mut f, step, t)?;
        if f.next < f.steps.len() {
            // The other side thinks, or the network carries it.
            let pause = if g.rng.chance(20) { g.rng.range(500, 5_000) } else { g.rng.range(50, 800) };
            due.push(Reverse((end + pause as i64 * TICKS_PER_US, slot)));
            flows[slot] = Some(f);
        } else if g.estimate < opts.size {
            flows[slot] = Some(g.new_flow());
            due.push(Reverse((end + g.rng.range(10, 3_000) as i64 * TICKS_PER_US, slot)));
        }
    }
    g.flush(i64::MAX)?;

    let Gen { etl: writer, pcap, truth: mut facts, latency, flow_first, .. } = g;
    let (mut out, stats) = writer.finish()?;
    out.flush()?;
    pcap.finish()?.flush()?;
    facts.etl_events = stats.events;
    facts.etl_bytes = stats.bytes;
    facts.latency = latency
        .into_iter()
        .map(|((from, to), mut s)| {
            s.sort_by(|a, b| a.total_cmp(b));
            TruthLatency {
                from,
                to,
                count: s.len() as u64,
                p50_us: round_us(percentile(&s, 50.0)),
                p90_us: round_us(percentile(&s, 90.0)),
                p99_us: round_us(percentile(&s, 99.0)),
                max_us: round_us(s.last().copied().unwrap_or(0.0)),
            }
        })
        .collect();
    facts.packets.sort_by_key(|p| p.hops.first().map(|h| h.ts));
    facts.drops.sort_by_key(|d| d.ts);
    let mut flows: Vec<(i64, TruthFlow)> = flow_first.into_iter().zip(std::mem::take(&mut facts.flows)).collect();
    flows.sort_by_key(|(t, _)| *t);
    facts.flows = flows.into_iter().map(|(_, f)| f).collect();
    let truth_out = &facts;

    let mut out = create(truth)?;
    serde_json::to_writer_pretty(&mut out, truth_out).map_err(other)?;
    out.write_all(b"\n")?;
    out.flush()?;

    Ok(format!(
        "{} packets ({} delivered, {} dropped), {} flows, {} NAT mappings, {} drops; ETL {} bytes, {} events on {} CPU{}{}; pcapng {} packets, {} bytes",
        facts.packets.len(),
        facts.delivered,
        facts.dropped,
        facts.flows.len(),
        facts.nat.len(),
        facts.drops.len(),
        facts.etl_bytes,
        facts.etl_events,
        opts.cpus,
        if opts.cpus == 1 { "" } else { "s" },
        if opts.compress { ", compressed" } else { "" },
        facts.pcapng_packets,
        facts.pcapng_bytes,
    ))
}
