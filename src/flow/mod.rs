//! The flow table: every decoded packet folded into its bidirectional
//! conversation, keyed by the innermost tuple plus the tunnels around it.

mod encode;
pub mod tcp;

use std::net::IpAddr;

use crate::packet::{Decoded, TunnelHop, TunnelKind, Tuple, MAX_TUNNEL_DEPTH};
use crate::spill::{ChunkStore, TagIndex};
use crate::time::Timestamp;

/// Where the flows are kept: see [`crate::spill`].
pub type FlowStore = ChunkStore<Flow>;

pub use tcp::{TcpState, TcpTracker};

/// A tunnel level as it identifies a flow: kind, VNI and the outer address
/// pair in either order. Outer ports are left out on purpose: VXLAN senders
/// pick a source port per inner flow and direction, so the two directions of
/// one conversation arrive with different outer tuples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TunnelKey {
    kind: TunnelKind,
    vni: u32,
    a: IpAddr,
    b: IpAddr,
}

impl TunnelKey {
    fn of(hop: &TunnelHop) -> Self {
        let (a, b) = if hop.outer.src <= hop.outer.dst {
            (hop.outer.src, hop.outer.dst)
        } else {
            (hop.outer.dst, hop.outer.src)
        };
        // VXLAN-GPE and VXLAN report as one kind; keep them distinct here.
        TunnelKey { kind: hop.kind, vni: hop.vni, a, b }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    inner: Tuple,
    tunnels: [Option<TunnelKey>; MAX_TUNNEL_DEPTH],
}

/// A flow key with its hash, computed once: by the decoding threads when
/// there are several, so the thread that owns the table only compares.
#[derive(Debug, Clone, Copy)]
pub struct HashedKey {
    hash: u64,
    key: FlowKey,
}

impl HashedKey {
    /// The key of a packet with innermost tuple `inner` and the tunnels of
    /// `packet`.
    pub fn of(packet: &Decoded, inner: Tuple) -> Self {
        Self::from_parts(inner, packet.tunnels())
    }

    /// The key of a flow, as its first packet gave it.
    fn of_flow(flow: &Flow) -> Self {
        Self::from_parts(flow.fwd, flow.tunnels_fwd.iter())
    }

    /// Is this the key of `flow`? What [`of_flow`](Self::of_flow) would
    /// say, without making the key: by equality alone, since ordering
    /// addresses (to put a tuple or a tunnel's ends in canonical order) is
    /// what made this the costliest part of a look-up.
    fn is_of(&self, flow: &Flow) -> bool {
        let key = &self.key;
        // The key's tuple is in canonical order; the flow's first packet
        // went one way or the other.
        let (k, f) = (&key.inner, &flow.fwd);
        let inner = *k == *f
            || (k.proto == f.proto
                && k.src == f.dst
                && k.dst == f.src
                && k.src_port == f.dst_port
                && k.dst_port == f.src_port);
        let same_end = |t: &Option<TunnelKey>, hop: &TunnelHop| {
            t.is_some_and(|t| {
                t.kind == hop.kind
                    && t.vni == hop.vni
                    && ((t.a == hop.outer.src && t.b == hop.outer.dst)
                        || (t.a == hop.outer.dst && t.b == hop.outer.src))
            })
        };
        inner
            && key.tunnels.get(flow.tunnels_fwd.len()).is_none_or(|t| t.is_none())
            && flow.tunnels_fwd.iter().zip(&key.tunnels).all(|(hop, t)| same_end(t, hop))
    }

    fn from_parts<'a>(inner: Tuple, hops: impl Iterator<Item = &'a TunnelHop>) -> Self {
        let (canonical, _) = inner.canonical();
        let mut tunnels = [None; MAX_TUNNEL_DEPTH];
        for (slot, hop) in tunnels.iter_mut().zip(hops) {
            *slot = Some(TunnelKey::of(hop));
        }
        let key = FlowKey { inner: canonical, tunnels };
        use std::hash::BuildHasher;
        HashedKey { hash: rustc_hash::FxBuildHasher.hash_one(key), key }
    }
}

/// Identifies a capture point across all inputs: (capture index, point id).
pub type PointKey = (u32, u32);

/// Recent packets of a flow, to recognise one packet captured at several
/// points.
const RECENT_SIGHTINGS: usize = 8;

#[derive(Debug, Clone, Copy, Default)]
struct Sighting {
    fingerprint: u64,
    point: PointKey,
    ts: Timestamp,
}

/// One bidirectional conversation. "fwd" is the direction of its first packet.
#[derive(Debug, Clone)]
pub struct Flow {
    pub id: u64,
    pub fwd: Tuple,
    /// Tunnels of the first fwd packet, outermost first.
    pub tunnels_fwd: Vec<TunnelHop>,
    /// Tunnels of the first rev packet, outermost first.
    pub tunnels_rev: Option<Vec<TunnelHop>>,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
    /// Bytes of the innermost IP packets, by their IP length fields.
    pub inner_ip_bytes: [u64; 2],
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub tcp: Option<TcpTracker>,
    /// Every capture of every packet, duplicates at other points included.
    pub sightings: u64,
    /// A ring of the last sightings; `None` while all of them had no
    /// fingerprint (as in every single-point capture, which is not
    /// fingerprinted), since such sightings never match one. That saves a
    /// quarter of a kilobyte per flow.
    recent: Option<Box<[Sighting; RECENT_SIGHTINGS]>>,
    recent_next: usize,
}

impl Flow {
    fn recent(&self) -> &[Sighting] {
        self.recent.as_deref().map_or(&[], |r| &r[..])
    }

    /// Is this packet one we already counted, seen again at another point?
    fn is_duplicate(&self, s: &Sighting, window_ns: i64) -> bool {
        s.fingerprint != 0
            && self.recent().iter().any(|r| {
                r.fingerprint == s.fingerprint
                    && r.point != s.point
                    && s.ts.nanos_since(r.ts).saturating_abs() <= window_ns
            })
    }

    fn remember(&mut self, s: Sighting) {
        if s.fingerprint != 0 || self.recent.is_some() {
            self.recent.get_or_insert_with(Default::default)[self.recent_next] = s;
        }
        self.recent_next = (self.recent_next + 1) % RECENT_SIGHTINGS;
    }
}

/// Counts one packet (first seen at `ts`, its `packet` as it travelled the
/// wire) in its flow, in the direction its innermost tuple says.
fn count(flow: &mut Flow, ts: Timestamp, packet: &Decoded, inner: Tuple, frame_len: u32) {
    let reverse = !(inner.src == flow.fwd.src && inner.src_port == flow.fwd.src_port && inner.dst == flow.fwd.dst);
    let dir = reverse as usize;
    if reverse && flow.tunnels_rev.is_none() && packet.tunnel_count() > 0 {
        flow.tunnels_rev = Some(packet.tunnels().copied().collect());
    }
    flow.packets[dir] += 1;
    flow.bytes[dir] += frame_len as u64;
    flow.inner_ip_bytes[dir] += packet.inner_ip_len as u64;
    flow.first_seen = flow.first_seen.min(ts);
    flow.last_seen = flow.last_seen.max(ts);
    if let Some(seg) = &packet.tcp {
        flow.tcp.get_or_insert_with(TcpTracker::new).segment(ts, seg, reverse);
    }
}

/// Flows a table lists by default: a capture of millions of one-packet
/// flows (a SYN flood, a scan) stops adding to the index (8 bytes a flow
/// in memory, [`crate::spill::index`]) and to the temporary file (about
/// 0.2 KB a flow, [`crate::spill::store`]) here, its other packets counted
/// past the limit.
pub const DEFAULT_MAX_FLOWS: usize = 1 << 20;

/// Packets (and their bytes on the wire) that belonged to flows past the
/// table's limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BeyondLimit {
    pub packets: u64,
    pub bytes: u64,
}

/// How far apart two captures of one packet may be (in time) and still be
/// counted once.
pub const DEFAULT_DEDUP_WINDOW_NS: i64 = 100_000_000;

pub struct FlowTable {
    /// Keys to positions in `flows`. Fx hashing: the keys are not
    /// attacker-chosen in a way that matters (a crafted capture can only slow
    /// its own analysis), and SipHash cost a tenth of the whole run.
    index: TagIndex,
    flows: FlowStore,
    /// Flows listed at most (0: no limit); packets of new flows past it are
    /// only counted in `beyond_limit`.
    max_flows: usize,
    beyond_limit: BeyondLimit,
    dedup_window_ns: i64,
    /// Frames that carried no IP or ARP packet.
    pub without_flow: u64,
    /// The flow keys of the path being observed (kept for the next one).
    scratch_keys: Vec<Option<Tuple>>,
}

/// A mark for each sighting of a path: a word for the usual few dozen, a
/// list past that. Folding a path allocated two lists before.
enum Marks {
    Word(u64),
    List(Vec<bool>),
}

impl Marks {
    fn new(n: usize) -> Marks {
        if n <= 64 {
            Marks::Word(0)
        } else {
            Marks::List(vec![false; n])
        }
    }

    fn get(&self, i: usize) -> bool {
        match self {
            Marks::Word(w) => w >> i & 1 == 1,
            Marks::List(v) => v[i],
        }
    }

    fn set(&mut self, i: usize) {
        match self {
            Marks::Word(w) => *w |= 1 << i,
            Marks::List(v) => v[i] = true,
        }
    }
}

impl Default for FlowTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FlowTable {
    pub fn new() -> Self {
        FlowTable {
            index: TagIndex::new(),
            flows: FlowStore::new(crate::spill::DEFAULT_IN_MEMORY),
            max_flows: 0,
            beyond_limit: BeyondLimit::default(),
            dedup_window_ns: DEFAULT_DEDUP_WINDOW_NS,
            without_flow: 0,
            scratch_keys: Vec::new(),
        }
    }

    /// Adds one captured frame. `frame_len` is its original length on the
    /// wire, outer headers included. `same_packet` is an id the capture gives
    /// every sighting of one packet (pktmon's group and number); without it,
    /// sightings at different points are recognised by their fingerprint.
    pub fn observe(
        &mut self,
        ts: Timestamp,
        point: PointKey,
        packet: &Decoded,
        frame_len: u32,
        same_packet: Option<u64>,
    ) {
        let key = packet.inner.map(|inner| HashedKey::of(packet, inner));
        self.observe_keyed(ts, point, packet, key, frame_len, same_packet)
    }

    /// [`observe`](Self::observe) with the packet's key already computed
    /// (`HashedKey::of`; `None` when the packet has no inner tuple).
    pub fn observe_keyed(
        &mut self,
        ts: Timestamp,
        point: PointKey,
        packet: &Decoded,
        key: Option<HashedKey>,
        frame_len: u32,
        same_packet: Option<u64>,
    ) {
        let (Some(inner), Some(key)) = (packet.inner, key) else {
            self.without_flow += 1;
            return;
        };
        let Some(idx) = self.flow_for(ts, packet, inner, key, frame_len) else { return };
        let window = self.dedup_window_ns;
        let flow = self.flows.get_mut(idx);
        flow.sightings += 1;
        let sighting = match same_packet {
            // Any point, including this one at another edge, counts once.
            Some(id) => Sighting { fingerprint: id | 1, point: (u32::MAX, u32::MAX), ts },
            None => Sighting { fingerprint: packet.fingerprint, point, ts },
        };
        let duplicate = match same_packet {
            Some(_) => flow.recent().iter().any(|r| {
                r.fingerprint == sighting.fingerprint
                    && r.point == sighting.point
                    && ts.nanos_since(r.ts).saturating_abs() <= window
            }),
            None => flow.is_duplicate(&sighting, window),
        };
        if duplicate {
            return;
        }
        flow.remember(sighting);
        count(flow, ts, packet, inner, frame_len);
    }

    /// Adds one packet seen at one or more points (a path's sightings, in
    /// time order). It counts once in each flow it was seen in: once before
    /// and once after a NAT rewrite, once for a tunnelled packet and its
    /// decapsulated copy (which belong to the tunnel's flow). Returns the ids
    /// of those flows.
    pub fn observe_packet(&mut self, sightings: &[crate::trace::Sighting]) -> Vec<(Tuple, u64)> {
        let mut ids = Vec::new();
        self.observe_packet_into(sightings, &mut ids);
        ids
    }

    /// [`observe_packet`](Self::observe_packet) into `ids` (cleared first),
    /// so that a caller folding many paths reuses one list.
    pub fn observe_packet_into(&mut self, sightings: &[crate::trace::Sighting], ids: &mut Vec<(Tuple, u64)>) {
        ids.clear();
        let n = sightings.len();
        // Each sighting's flow key, worked out once: the grouping below
        // compares every pair.
        let mut keys = std::mem::take(&mut self.scratch_keys);
        keys.clear();
        keys.extend(sightings.iter().map(|s| s.decoded.inner.map(|t| t.canonical().0)));
        let mut done = Marks::new(n);
        for first in 0..n {
            if done.get(first) {
                continue;
            }
            let (Some(inner), Some(canonical)) = (sightings[first].decoded.inner, keys[first]) else {
                done.set(first);
                self.without_flow += 1;
                continue;
            };
            let mut same = Marks::new(n);
            let mut count = 0;
            for (i, key) in keys.iter().enumerate().skip(first) {
                if !done.get(i) && *key == Some(canonical) {
                    same.set(i);
                    done.set(i);
                    count += 1;
                }
            }
            // The packet as it travelled the wire: its tunnelled form if any.
            let rep = (first..n).find(|&i| same.get(i) && sightings[i].decoded.tunnel_count() > 0).unwrap_or(first);
            let r = &sightings[rep];
            let Some(id) = self.count_packet(sightings[first].ts, &r.decoded, inner, r.frame_len, count) else {
                continue;
            };
            if let Some(tcp) = self.flows.get_mut(id as usize - 1).tcp.as_mut() {
                for i in (first..n).filter(|&i| same.get(i)) {
                    if let Some(seg) = &sightings[i].decoded.tcp {
                        tcp.note_handshake(sightings[i].point, sightings[i].ts, seg);
                    }
                }
            }
            ids.push((canonical, id));
        }
        self.scratch_keys = keys;
    }

    /// Counts one packet whose first sighting had tuple `inner` at `ts`;
    /// `rep` supplies the tunnels and the TCP header.
    fn count_packet(
        &mut self,
        ts: Timestamp,
        rep: &Decoded,
        inner: Tuple,
        frame_len: u32,
        sightings: u64,
    ) -> Option<u64> {
        let idx = self.flow_for(ts, rep, inner, HashedKey::of(rep, inner), frame_len)?;
        let flow = self.flows.get_mut(idx);
        flow.sightings += sightings;
        count(flow, ts, rep, inner, frame_len);
        Some(flow.id)
    }

    /// The index of the flow of a packet with innermost tuple `inner` and
    /// the tunnels of `packet`, created (first packet at `ts`) if new;
    /// `None` for a new flow past `max_flows` (the packet is counted as
    /// beyond the limit).
    fn flow_for(
        &mut self,
        ts: Timestamp,
        packet: &Decoded,
        inner: Tuple,
        key: HashedKey,
        frame_len: u32,
    ) -> Option<usize> {
        if self.index.len() < self.flows.len() {
            self.reindex();
        }
        let room = self.max_flows == 0 || self.flows.len() < self.max_flows;
        let found = self.index.find_or_push(
            &mut self.flows,
            key.hash,
            |flow| key.is_of(flow),
            |n| {
                room.then(|| Flow {
                    id: n as u64 + 1,
                    fwd: inner,
                    tunnels_fwd: packet.tunnels().copied().collect(),
                    tunnels_rev: None,
                    packets: [0; 2],
                    bytes: [0; 2],
                    inner_ip_bytes: [0; 2],
                    first_seen: ts,
                    last_seen: ts,
                    tcp: packet.tcp.map(|_| TcpTracker::new()),
                    sightings: 0,
                    recent: None,
                    recent_next: 0,
                })
            },
        );
        if found.is_none() {
            self.beyond_limit.packets += 1;
            self.beyond_limit.bytes += frame_len as u64;
        }
        found
    }

    /// A table that lists at most `max_flows` flows (0: no limit) and
    /// keeps about `in_memory` of them in memory (0: all), the rest in a
    /// temporary file ([`crate::spill`]).
    pub fn with_limits(max_flows: usize, in_memory: usize) -> Self {
        FlowTable { max_flows, flows: FlowStore::new(in_memory), ..Self::new() }
    }

    /// Why flows meant for the temporary file are in memory, if they are.
    pub fn spill_error(&self) -> Option<&str> {
        self.flows.file_error()
    }

    /// Packets of flows past the limit, which no flow counts.
    pub fn beyond_limit(&self) -> BeyondLimit {
        self.beyond_limit
    }

    /// Frees what only counting more packets needs (the index, about a
    /// quarter of the table), before the flows are turned into a report.
    /// Packets counted afterwards still find their flows: the index is
    /// built again from the flows first.
    pub fn finish_counting(&mut self) {
        self.index = TagIndex::new();
    }

    fn reindex(&mut self) {
        let mut index = TagIndex::new();
        // Every flow has its own key, so none is found: no key is compared.
        self.flows.for_each(|flow| {
            let key = HashedKey::of_flow(flow);
            if let Err(vacant) = index.find(key.hash, |_| false) {
                index.insert(vacant, key.hash);
            }
        });
        self.index = index;
    }

    /// Starts loading the index slot of `key`: for a packet a few
    /// places before [`prefetch_flow`](Self::prefetch_flow) is called for it.
    pub fn prefetch_slot(&self, key: &HashedKey) {
        self.index.prefetch_slot(key.hash);
    }

    /// Starts loading the flow a packet with `key` will most likely be
    /// counted in (and compared with: the flow holds its key), a few
    /// packets before it is; not if the flow is in the temporary file.
    pub fn prefetch_flow(&self, key: &HashedKey) {
        if let Some(flow) = self.index.likely(key.hash).and_then(|i| self.flows.in_memory(i)) {
            crate::prefetch::object(flow);
        }
    }

    /// Takes the flows out, leaving an empty table (its counts of packets
    /// outside any flow stay).
    pub fn take_flows(&mut self) -> FlowStore {
        self.index = TagIndex::new();
        std::mem::take(&mut self.flows)
    }

    /// Where the flows are: in first-seen order, ids counting from 1.
    pub fn store(&self) -> &FlowStore {
        &self.flows
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::LinkType;
    use crate::packet::{decode, DecodeConfig};

    fn udp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, dst, 64).udp(sp, dp);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn both_directions_share_a_flow() {
        let cfg = DecodeConfig::default();
        let mut t = FlowTable::new();
        let a = udp([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53, b"q");
        let b = udp([10, 0, 0, 2], [10, 0, 0, 1], 53, 1000, b"answer");
        t.observe(Timestamp(1), (0, 0), &decode(LinkType::ETHERNET, &a, &cfg), a.len() as u32, None);
        t.observe(Timestamp(2), (0, 0), &decode(LinkType::ETHERNET, &b, &cfg), b.len() as u32, None);
        assert_eq!(t.len(), 1);
        let flows = t.store().to_vec();
        let f = &flows[0];
        assert_eq!(f.packets, [1, 1]);
        assert_eq!(f.bytes, [a.len() as u64, b.len() as u64]);
        assert_eq!(f.fwd.src_port, 1000);
    }

    /// A path's sightings count once per flow they show, whether the path
    /// is short (marks in a word) or longer than a word has bits.
    #[test]
    fn a_path_counts_once_in_each_flow_it_shows_however_long() {
        let cfg = DecodeConfig::default();
        let before = udp([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53, b"q");
        let after = udp([192, 168, 0, 1], [10, 0, 0, 2], 40000, 53, b"q");
        for len in [3, 63, 64, 65, 150] {
            let sightings: Vec<crate::trace::Sighting> = (0..len)
                .map(|i| {
                    // Every third sighting is the packet after a NAT.
                    let frame = if i % 3 == 2 { &after } else { &before };
                    crate::trace::Sighting {
                        ts: Timestamp(i as i64),
                        point: (0, i as u32),
                        decoded: decode(LinkType::ETHERNET, frame, &cfg),
                        frame_len: frame.len() as u32,
                    }
                })
                .collect();
            let mut t = FlowTable::new();
            let ids = t.observe_packet(&sightings);
            assert_eq!(ids.len(), 2, "{len} sightings");
            let flows = t.store().to_vec();
            let nat = (len / 3) as u64;
            let mut seen: Vec<u64> = flows.iter().map(|f| f.sightings).collect();
            seen.sort();
            assert_eq!(seen, [nat, len as u64 - nat], "{len} sightings");
            assert!(flows.iter().all(|f| f.packets == [1, 0]), "{len} sightings");
        }
    }

    #[test]
    fn a_reused_list_holds_only_the_last_paths_flows() {
        let cfg = DecodeConfig::default();
        let sighting = |frame: &[u8], i: u32| crate::trace::Sighting {
            ts: Timestamp(i as i64),
            point: (0, i),
            decoded: decode(LinkType::ETHERNET, frame, &cfg),
            frame_len: frame.len() as u32,
        };
        let nat = [
            sighting(&udp([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53, b"q"), 0),
            sighting(&udp([192, 168, 0, 1], [10, 0, 0, 2], 40000, 53, b"q"), 1),
        ];
        let plain = [sighting(&udp([10, 0, 0, 3], [10, 0, 0, 4], 7, 9, b"r"), 2)];
        let (mut reused, mut fresh) = (FlowTable::new(), FlowTable::new());
        let mut ids = Vec::new();
        for path in [&nat[..], &plain[..], &nat[..]] {
            reused.observe_packet_into(path, &mut ids);
            assert_eq!(ids, fresh.observe_packet(path));
        }
        assert_eq!(ids.len(), 2);
    }

    #[test]
    fn counting_goes_on_after_the_index_is_freed() {
        use crate::generate::frames::{vxlan, Outer};
        let cfg = DecodeConfig::default();
        let mut frames = Vec::new();
        for i in 0..50u8 {
            let plain = udp([10, 0, 0, i], [10, 0, 1, 1], 1000 + i as u16, 53, b"q");
            let outer = Outer {
                src_mac: [1; 6],
                dst_mac: [2; 6],
                src: [192, 168, 0, 1],
                dst: [192, 168, 0, 2],
                ip_id: 1,
                src_port: 40000 + i as u16,
                vni: 4096 + (i % 3) as u32,
            };
            frames.push(vxlan(&outer, &plain).unwrap());
            frames.push(plain);
        }
        let count_all = |t: &mut FlowTable| {
            for (n, f) in frames.iter().enumerate() {
                t.observe(Timestamp(n as i64), (0, 0), &decode(LinkType::ETHERNET, f, &cfg), f.len() as u32, None);
            }
        };
        let mut t = FlowTable::new();
        count_all(&mut t);
        assert_eq!(t.len(), 100);
        t.finish_counting();
        count_all(&mut t);
        assert_eq!(t.len(), 100, "packets after finish_counting found their flows");
        assert!(t.store().to_vec().iter().all(|f| f.packets == [2, 0]));
    }

    #[test]
    fn a_key_is_of_a_flow_exactly_when_the_flow_would_make_it() {
        use crate::generate::frames::{vxlan, Outer};
        let cfg = DecodeConfig::default();
        let mut frames = Vec::new();
        for (a, b, sp, dp) in [([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53), ([10, 0, 0, 2], [10, 0, 0, 1], 53, 1000)] {
            let plain = udp(a, b, sp, dp, b"q");
            let (low, high) = ([192, 168, 0, 1], [192, 168, 0, 2]);
            // The tunnel of VNI 4097 is first seen from its higher end.
            for (vni, ends) in [(4096, [(low, high), (high, low)]), (4097, [(high, low), (low, high)])] {
                for (src, dst) in ends {
                    let outer = Outer { src_mac: [1; 6], dst_mac: [2; 6], src, dst, ip_id: 1, src_port: 40000, vni };
                    frames.push(vxlan(&outer, &plain).unwrap());
                }
            }
            frames.push(udp(a, b, sp, dp + 1, b"q"));
            frames.push(plain);
        }
        let decoded: Vec<_> = frames.iter().map(|f| decode(LinkType::ETHERNET, f, &cfg)).collect();
        let mut t = FlowTable::new();
        for (n, d) in decoded.iter().enumerate() {
            t.observe(Timestamp(n as i64), (0, 0), d, 100, None);
        }
        let flows = t.store().to_vec();
        // One per VNI (either direction, either end of the tunnel first),
        // the plain conversation, and two one-way plain flows.
        assert_eq!(flows.len(), 5);
        for d in &decoded {
            let key = HashedKey::of(d, d.inner.unwrap());
            let owners = flows.iter().filter(|f| key.is_of(f)).count();
            assert_eq!(owners, 1, "{:?}", key.key);
            for f in &flows {
                assert_eq!(key.is_of(f), HashedKey::of_flow(f).key == key.key, "{:?} and flow {}", key.key, f.id);
            }
        }
    }

    #[test]
    fn same_packet_at_two_points_counts_once() {
        let cfg = DecodeConfig::default();
        let mut t = FlowTable::new();
        let a = udp([10, 0, 0, 1], [10, 0, 0, 2], 1000, 53, b"q");
        let d = decode(LinkType::ETHERNET, &a, &cfg);
        t.observe(Timestamp(1), (0, 0), &d, 60, None);
        t.observe(Timestamp(5), (0, 1), &d, 60, None);
        // The same bytes again at the first point are a second packet.
        t.observe(Timestamp(9), (0, 0), &d, 60, None);
        let flows = t.store().to_vec();
        let f = &flows[0];
        assert_eq!((f.packets[0], f.sightings), (2, 3));
    }
}
