//! The "mix" scenario: the host NIC of a container host, as pcapng. Plain
//! TCP and UDP flows next to VXLAN-carried TCP and ICMP flows between
//! overlay endpoints, interleaved, each VXLAN direction with its own outer
//! source port as Linux and Windows senders choose them. The truth lists
//! every flow with its packets and bytes per direction.

use std::collections::HashSet;
use std::io::{self, Write};
use std::net::Ipv4Addr;

use etherparse::PacketBuilder;
use serde::Serialize;

use super::Rng;
use crate::event::{Direction, LinkType};
use crate::report::pcapng::{EpbOptions, PcapNgWriter};
use crate::report::{Address, TunnelRow};
use crate::time::Timestamp;

#[derive(Debug, Clone)]
pub struct MixOptions {
    pub seed: u64,
    /// Flows open at once; finished flows are replaced until `size` is reached.
    pub concurrent_flows: usize,
    /// Approximate bytes of capture to write.
    pub size: u64,
}

/// One flow as the generator made it, in the report's terms.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TruthFlow {
    pub proto: &'static str,
    pub src: String,
    pub src_port: Option<u16>,
    pub dst: String,
    pub dst_port: Option<u16>,
    pub tunnel: Option<TunnelRow>,
    pub packets_fwd: u64,
    pub packets_rev: u64,
    pub bytes_fwd: u64,
    pub bytes_rev: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Truth {
    pub scenario: &'static str,
    pub seed: u64,
    pub packets: u64,
    pub bytes: u64,
    /// In the order of each flow's first packet, as the report lists them.
    pub flows: Vec<TruthFlow>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Tcp,
    Udp,
    VxlanTcp,
    VxlanIcmp,
}

/// One step of a flow's script: who sends, and what.
#[derive(Debug, Clone, Copy)]
struct Step {
    reverse: bool,
    syn: bool,
    ack: bool,
    fin: bool,
    payload: u16,
}

struct FlowGen {
    kind: Kind,
    client: (Ipv4Addr, u16),
    server: (Ipv4Addr, u16),
    vni: u32,
    outer: (Ipv4Addr, Ipv4Addr),
    outer_ports: [u16; 2],
    steps: Vec<Step>,
    next: usize,
    seq: [u32; 2],
    ip_id: u16,
    truth: Option<usize>,
}

const MAC_A: [u8; 6] = [0x00, 0x22, 0x48, 0x01, 0x00, 0x03];
const MAC_B: [u8; 6] = [0x00, 0x22, 0x48, 0x01, 0x9e, 0x11];
const INNER_MAC_A: [u8; 6] = [0x00, 0x15, 0x5d, 0x71, 0xaf, 0xd8];
const INNER_MAC_B: [u8; 6] = [0x00, 0x15, 0x5d, 0xbc, 0xf9, 0xaa];
const VXLAN_PORT: u16 = 4789;
/// 2026-01-01T00:00:00Z.
pub const START_NS: i64 = 1_767_225_600_000_000_000;

fn new_flow(rng: &mut Rng) -> FlowGen {
    let kind = match rng.range(0, 9) {
        0..=3 => Kind::VxlanTcp,
        4..=6 => Kind::Tcp,
        7 => Kind::VxlanIcmp,
        _ => Kind::Udp,
    };
    let overlay = matches!(kind, Kind::VxlanTcp | Kind::VxlanIcmp);
    let (client_net, server_net) = if overlay { ([10, 255, 0], [10, 255, 1]) } else { ([10, 1, 0], [172, 16, 0]) };
    let host = |rng: &mut Rng, net: [u8; 3]| Ipv4Addr::new(net[0], net[1], net[2], rng.range(2, 250) as u8);
    let client = (host(rng, client_net), rng.range(32768, 60999) as u16);
    let server_port = match kind {
        Kind::Udp => 53,
        Kind::VxlanIcmp => 0,
        _ => [80u16, 443, 8080][rng.range(0, 2) as usize],
    };
    let server = (host(rng, server_net), server_port);
    let mut steps = Vec::new();
    let step = |reverse, syn, ack, fin, payload| Step { reverse, syn, ack, fin, payload };
    match kind {
        Kind::Tcp | Kind::VxlanTcp => {
            steps.push(step(false, true, false, false, 0));
            steps.push(step(true, true, true, false, 0));
            steps.push(step(false, false, true, false, 0));
            for _ in 0..rng.range(1, 30) {
                steps.push(step(false, false, true, false, rng.range(40, 600) as u16));
                for _ in 0..rng.range(1, 4) {
                    steps.push(step(true, false, true, false, rng.range(200, 1400) as u16));
                }
            }
            steps.push(step(false, false, true, true, 0));
            steps.push(step(true, false, true, true, 0));
            steps.push(step(false, false, true, false, 0));
        }
        Kind::Udp => {
            steps.push(step(false, false, false, false, rng.range(30, 60) as u16));
            steps.push(step(true, false, false, false, rng.range(60, 400) as u16));
        }
        Kind::VxlanIcmp => {
            for _ in 0..rng.range(1, 10) {
                steps.push(step(false, false, false, false, 56));
                steps.push(step(true, false, false, false, 56));
            }
        }
    }
    FlowGen {
        kind,
        client,
        server,
        vni: [4096u32, 4097, 5001][rng.range(0, 2) as usize],
        outer: (Ipv4Addr::new(192, 168, 10, rng.range(2, 9) as u8), Ipv4Addr::new(192, 168, 20, rng.range(2, 9) as u8)),
        outer_ports: [rng.range(49152, 65535) as u16, rng.range(49152, 65535) as u16],
        steps,
        next: 0,
        seq: [rng.next_u64() as u32, rng.next_u64() as u32],
        ip_id: rng.next_u64() as u16,
        truth: None,
    }
}

/// Builds the next frame of `f` into `frame`; returns the step it sent.
fn build_frame(f: &mut FlowGen, frame: &mut Vec<u8>, scratch: &mut Vec<u8>, zeros: &[u8]) -> Step {
    let s = f.steps[f.next];
    f.next += 1;
    let d = s.reverse as usize;
    let (src, dst) = if s.reverse { (f.server, f.client) } else { (f.client, f.server) };
    let payload = &zeros[..s.payload as usize];
    f.ip_id = f.ip_id.wrapping_add(1);
    let overlay = matches!(f.kind, Kind::VxlanTcp | Kind::VxlanIcmp);
    let inner_out: &mut Vec<u8> = if overlay { scratch } else { &mut *frame };
    inner_out.clear();
    let (smac, dmac) = match (overlay, s.reverse) {
        (true, false) => (INNER_MAC_A, INNER_MAC_B),
        (true, true) => (INNER_MAC_B, INNER_MAC_A),
        (false, false) => (MAC_A, MAC_B),
        (false, true) => (MAC_B, MAC_A),
    };
    let ip = PacketBuilder::ethernet2(smac, dmac).ipv4(src.0.octets(), dst.0.octets(), 64);
    let written = match f.kind {
        Kind::Tcp | Kind::VxlanTcp => {
            let ack_no = f.seq[1 - d];
            let mut b = ip.tcp(src.1, dst.1, f.seq[d], 65535);
            if s.syn {
                b = b.syn();
            }
            if s.ack {
                b = b.ack(ack_no);
            }
            if s.fin {
                b = b.fin();
            }
            f.seq[d] = f.seq[d].wrapping_add(s.payload as u32 + s.syn as u32 + s.fin as u32);
            b.write(inner_out, payload)
        }
        Kind::Udp => ip.udp(src.1, dst.1).write(inner_out, payload),
        Kind::VxlanIcmp => {
            let seq = (f.next / 2) as u16;
            let b = if s.reverse { ip.icmpv4_echo_reply(7, seq) } else { ip.icmpv4_echo_request(7, seq) };
            b.write(inner_out, payload)
        }
    };
    debug_assert!(written.is_ok());
    if overlay {
        let mut vx = Vec::with_capacity(8 + scratch.len());
        vx.extend_from_slice(&[0x08, 0, 0, 0]);
        vx.extend_from_slice(&(f.vni << 8).to_be_bytes());
        vx.extend_from_slice(scratch);
        let (osrc, odst) = if s.reverse { (f.outer.1, f.outer.0) } else { (f.outer.0, f.outer.1) };
        let (omac_s, omac_d) = if s.reverse { (MAC_B, MAC_A) } else { (MAC_A, MAC_B) };
        frame.clear();
        let outer = PacketBuilder::ethernet2(omac_s, omac_d)
            .ipv4(osrc.octets(), odst.octets(), 64)
            .udp(f.outer_ports[d], VXLAN_PORT);
        let _ = outer.write(frame, &vx);
    }
    s
}

fn truth_of(f: &FlowGen) -> TruthFlow {
    let overlay = matches!(f.kind, Kind::VxlanTcp | Kind::VxlanIcmp);
    let has_ports = !matches!(f.kind, Kind::VxlanIcmp);
    TruthFlow {
        proto: match f.kind {
            Kind::Tcp | Kind::VxlanTcp => "tcp",
            Kind::Udp => "udp",
            Kind::VxlanIcmp => "icmp",
        },
        src: f.client.0.to_string(),
        src_port: has_ports.then_some(f.client.1),
        dst: f.server.0.to_string(),
        dst_port: has_ports.then_some(f.server.1),
        tunnel: overlay.then(|| TunnelRow {
            kind: "vxlan",
            vni: f.vni,
            outer_src: Address(f.outer.0.into()),
            outer_src_port: f.outer_ports[0],
            outer_dst: Address(f.outer.1.into()),
            outer_dst_port: VXLAN_PORT,
        }),
        packets_fwd: 0,
        packets_rev: 0,
        bytes_fwd: 0,
        bytes_rev: 0,
    }
}

/// One packet of the mix.
#[derive(Debug, Clone, Copy)]
pub struct MixPacket<'a> {
    pub ts: Timestamp,
    /// Outbound from the client side, inbound from the server side.
    pub direction: Direction,
    pub frame: &'a [u8],
}

/// The mix's packets in time order, adding up their truth as they go. The
/// one source of the traffic whatever container it is written to (pcapng
/// here, ndiscap ETL in `capture`), so both carry the same flows for a seed.
pub struct MixSource {
    rng: Rng,
    /// Client and server of every flow made so far.
    used: HashSet<((Ipv4Addr, u16), (Ipv4Addr, u16))>,
    open: Vec<FlowGen>,
    ts: i64,
    /// What the output has grown to, by `cost`.
    written: u64,
    size: u64,
    /// What one frame adds to the output (record header and padding
    /// included), so `size` means the size of the file written.
    cost: fn(usize) -> u64,
    zeros: Vec<u8>,
    frame: Vec<u8>,
    scratch: Vec<u8>,
    truth: Truth,
}

impl MixSource {
    pub fn new(opts: &MixOptions, scenario: &'static str, cost: fn(usize) -> u64) -> Self {
        let mut s = MixSource {
            rng: Rng::new(opts.seed),
            used: HashSet::new(),
            open: Vec::new(),
            ts: START_NS,
            written: 0,
            size: opts.size,
            cost,
            zeros: vec![0u8; 1500],
            frame: Vec::with_capacity(2048),
            scratch: Vec::with_capacity(2048),
            truth: Truth { scenario, seed: opts.seed, packets: 0, bytes: 0, flows: Vec::new() },
        };
        s.open = (0..opts.concurrent_flows.max(1)).map(|_| s.fresh()).collect();
        s
    }

    /// Client ports are random; a repeated tuple would merge two flows of
    /// the truth into one, so each flow gets a tuple no earlier flow had.
    fn fresh(&mut self) -> FlowGen {
        loop {
            let f = new_flow(&mut self.rng);
            if self.used.insert((f.client, f.server)) {
                return f;
            }
        }
    }

    /// The next packet; `None` once the size is reached and every open
    /// flow has finished.
    pub fn next_packet(&mut self) -> Option<MixPacket<'_>> {
        if self.open.is_empty() {
            return None;
        }
        let i = self.rng.range(0, self.open.len() as u64 - 1) as usize;
        let f = &mut self.open[i];
        let step = build_frame(f, &mut self.frame, &mut self.scratch, &self.zeros);
        self.ts += self.rng.range(1_000, 40_000) as i64;
        let len = self.frame.len() as u64;
        self.written += (self.cost)(self.frame.len());
        let truth = &mut self.truth;
        let t = match f.truth {
            Some(t) => t,
            None => {
                truth.flows.push(truth_of(f));
                f.truth = Some(truth.flows.len() - 1);
                truth.flows.len() - 1
            }
        };
        let tf = &mut truth.flows[t];
        if step.reverse {
            tf.packets_rev += 1;
            tf.bytes_rev += len;
        } else {
            tf.packets_fwd += 1;
            tf.bytes_fwd += len;
        }
        truth.packets += 1;
        truth.bytes += len;
        if f.next == f.steps.len() {
            if self.written < self.size {
                self.open[i] = self.fresh();
            } else {
                self.open.swap_remove(i);
            }
        }
        let direction = if step.reverse { Direction::Inbound } else { Direction::Outbound };
        Some(MixPacket { ts: Timestamp(self.ts), direction, frame: &self.frame })
    }

    /// The truth of the packets given so far.
    pub fn into_truth(self) -> Truth {
        self.truth
    }
}

/// What an enhanced packet block holding the frame adds to the file
/// (padding aside).
fn epb_cost(frame_len: usize) -> u64 {
    32 + frame_len as u64
}

/// Writes the scenario as pcapng to `out` and returns its truth.
pub fn write<W: Write>(out: W, opts: &MixOptions) -> io::Result<Truth> {
    let mut w = PcapNgWriter::new(out, concat!("overlay-trace ", env!("CARGO_PKG_VERSION"), " generate mix"))?;
    let iface = w.add_interface("host-nic", LinkType::ETHERNET, 65535)?;
    let mut source = MixSource::new(opts, "mix", epb_cost);
    while let Some(p) = source.next_packet() {
        let epb = EpbOptions { direction: p.direction, ..Default::default() };
        w.write_packet(iface, p.ts, p.frame, p.frame.len() as u32, &epb)?;
    }
    w.finish()?;
    Ok(source.into_truth())
}
