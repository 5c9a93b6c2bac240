//! Sorting sightings and switch events into per-packet paths.
//!
//! - A VmSwitch NBL lifecycle, keyed by (switch, NBL pointer), is opened by
//!   "received", extended by "routed", closed by "delivered" or a drop; a
//!   pointer seen again after that is a new packet.
//! - The packet bytes of a lifecycle come from the ndiscap 1003 fragment
//!   written right after each NBL event on the same CPU from the same NIC.
//! - Lifecycles and plain captures of one packet are joined by a fingerprint
//!   that NAT and encapsulation do not change ([`Decoded::invariant`]), so a
//!   rewrite that copies the NBL (new pointer) stays one path; pktmon's
//!   (PktGroupId, PktNumber) joins its appearances directly.
//! - A path closes when nothing joined it for `window`; closed paths are
//!   handed out oldest first, so memory is bounded by what is open.

use std::collections::hash_map::Entry;
use std::collections::VecDeque;

use rustc_hash::{FxHashMap, FxHashSet};

use super::path::{DropNote, Hop, HopKind, PacketPath, Sighting};
use crate::capture::etl::providers::vmswitch::{self, NblEvent, Text};
use crate::packet::Decoded;
use crate::time::Timestamp;

/// How long an open path waits for more hops: longer than any switch or
/// stack keeps a packet, far shorter than a retransmission timeout.
pub const DEFAULT_WINDOW_NS: i64 = 200_000_000;
/// Packets whose paths may be open at once, by default: about 50 MB of
/// path state; a host switching more than this within the window gets its
/// oldest paths closed early (and a warning) rather than unbounded memory.
pub const DEFAULT_MAX_OPEN: usize = 1 << 14;
/// A fragment binds to the NBL event before it when it follows within this.
const BIND_WINDOW_NS: i64 = 5_000;
/// Emptied hop and sighting lists kept for new paths when there is no
/// limit on open paths. With a limit, as many as may be open are kept:
/// closing the oldest half empties that many lists at once, and the spares
/// never outnumber the lists open paths held before.
const SPARE_LISTS_WITHOUT_LIMIT: usize = 1 << 14;
/// A list that grew larger than this (a path of many hops) is not kept.
const MAX_SPARE_CAPACITY: usize = 64;

/// A packet capture handed to the correlator.
#[derive(Debug, Clone)]
pub struct CaptureInput {
    pub sighting: Sighting,
    pub point_name: Text,
    /// CPU of the ETL record (for binding to NBL events).
    pub cpu: Option<u32>,
    /// The source NIC of an ndiscap 1003 fragment.
    pub switch_nic: Option<Text>,
    /// pktmon's id of this packet: (PktGroupId, PktNumber) folded.
    pub same_packet: Option<u64>,
    pub appearance: bool,
    pub drop: Option<Box<DropNote>>,
}

struct Group {
    path: PacketPath,
    last_ts: Timestamp,
    /// The earliest hop's time, kept as hops join: a closing path is
    /// ordered by it without reading its hops (see [`Correlator::closed`]).
    first_hop_ts: Option<Timestamp>,
    invariant: u64,
    same_packet: Option<u64>,
}

impl Group {
    fn push_hop(&mut self, hop: Hop) {
        self.note_hop_ts(hop.ts);
        self.path.hops.push(hop);
    }

    fn append_hops(&mut self, hops: &mut Vec<Hop>) {
        for h in hops.iter() {
            self.note_hop_ts(h.ts);
        }
        self.path.hops.append(hops);
    }

    fn note_hop_ts(&mut self, ts: Timestamp) {
        self.first_hop_ts = Some(self.first_hop_ts.map_or(ts, |first| first.min(ts)));
    }
}

/// A lifecycle's identity: (switch, NBL pointer). The switch is an interned
/// name compared by pointer, so a lookup hashes two words, not a GUID string.
type LifecycleKey = (Name, u64);

/// A switch or NIC name, one copy per distinct text (see
/// [`Correlator::intern`]), shared by every hop that names it; equality and
/// hashing by address.
#[derive(Debug, Clone)]
struct Name(Text);

impl Name {
    fn address(&self) -> (usize, usize) {
        (self.0.as_str().as_ptr() as usize, self.0.len())
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.address() == other.address()
    }
}

impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.address().hash(state)
    }
}

struct Lifecycle {
    group: Option<usize>,
    /// Hops waiting for the packet's bytes to know their group.
    pending: Vec<Hop>,
    last_nic: Name,
    last_ts: Timestamp,
    closed: bool,
}

/// How many paths ahead of the one being handed out the lists of a path
/// are asked for (see [`prefetch_lists`]).
const CLOSE_AHEAD: usize = 4;

/// Starts loading a path's hops and sightings: a path is read again when
/// it is handed out (its lists sorted, then folded), long after its last
/// hop, and asking a few paths ahead overlaps the misses.
fn prefetch_lists(path: &PacketPath) {
    crate::prefetch::slice(&path.hops);
    crate::prefetch::slice(&path.sightings);
}

/// An NBL event waiting for the fragment that follows it.
struct AwaitingBytes {
    ts: Timestamp,
    key: LifecycleKey,
    nic: Name,
    /// The event's hop, which the fragment's tuple goes to.
    hop: HopAt,
}

/// Where a lifecycle put a hop: among the hops waiting for its group, or
/// in its group, by index. Neither list is reordered while the path is
/// open, so the index stays the hop's.
#[derive(Debug, Clone, Copy)]
enum HopAt {
    Pending(usize),
    Group(usize),
    /// Nowhere: the lifecycle's group had closed, and the hop went with it.
    Dropped,
}

pub struct Correlator {
    window_ns: i64,
    /// Open paths allowed before the oldest are closed early (0: no limit).
    max_open: usize,
    open: usize,
    /// Paths closed early because `max_open` were open.
    closed_early: u64,
    groups: Vec<Option<Group>>,
    free: Vec<usize>,
    by_invariant: FxHashMap<u64, usize>,
    by_same_packet: FxHashMap<u64, usize>,
    lifecycles: FxHashMap<LifecycleKey, Lifecycle>,
    /// Lifecycles by the (switch, NIC) they were last seen at, newest last,
    /// for drop events, which name a NIC but no NBL. Entries go stale when
    /// the lifecycle moves on or closes; they are checked on use and pruned
    /// at each sweep.
    at_nic: FxHashMap<(Name, Name), Vec<(Timestamp, u64)>>,
    /// Names that are not in the process-wide table (see [`Text::intern`]).
    names: FxHashSet<Text>,
    awaiting: FxHashMap<u32, AwaitingBytes>,
    /// Paths closed since the last hand-out, with their first hop's time
    /// ([`PacketPath::first_ts`]). Their lists are sorted only when handed
    /// out: a path closes long after its last hop, with its lists out of
    /// the cache, and sorting them at close too read them cold twice (a
    /// switching host's sweeps fell from 4% of its samples to 1.4%).
    closed: Vec<(Timestamp, PacketPath)>,
    /// Closed paths ordered and not yet handed out, oldest first: each
    /// call's closed paths ordered among themselves, behind the earlier
    /// ones, which is the order handing them all out at once gives.
    waiting: VecDeque<PacketPath>,
    spare_hops: Vec<Vec<Hop>>,
    spare_sightings: Vec<Vec<Sighting>>,
    last_sweep: Timestamp,
    next_synthetic_nbl: u64,
}

impl Default for Correlator {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW_NS)
    }
}

impl Correlator {
    pub fn new(window_ns: i64) -> Self {
        Self::with_max_open(window_ns, DEFAULT_MAX_OPEN)
    }

    pub fn with_max_open(window_ns: i64, max_open: usize) -> Self {
        Correlator {
            window_ns,
            max_open,
            open: 0,
            closed_early: 0,
            groups: Vec::new(),
            free: Vec::new(),
            by_invariant: FxHashMap::default(),
            by_same_packet: FxHashMap::default(),
            lifecycles: FxHashMap::default(),
            at_nic: FxHashMap::default(),
            names: FxHashSet::default(),
            awaiting: FxHashMap::default(),
            closed: Vec::new(),
            waiting: VecDeque::new(),
            spare_hops: Vec::new(),
            spare_sightings: Vec::new(),
            last_sweep: Timestamp::MIN,
            next_synthetic_nbl: 1,
        }
    }

    /// The one copy of a switch or NIC name.
    fn intern(&mut self, s: &str) -> Name {
        if let Some(n) = self.names.get(s) {
            return Name(n.clone());
        }
        let n = Text::intern(s);
        self.names.insert(n.clone());
        Name(n)
    }

    fn label(&mut self, n: &vmswitch::Named) -> Name {
        let text = n.label_text();
        // The process-wide table holds one copy of each text, so an
        // interned text is already the one copy: no lookup needed.
        if text.as_interned().is_some() {
            return Name(text.clone());
        }
        self.intern(text.as_str())
    }

    /// Hands each path that closed to `each`, oldest first. Their lists are
    /// kept for new paths.
    pub fn drain_closed(&mut self, each: impl FnMut(&PacketPath)) {
        self.hand_out_waiting(0, usize::MAX, each);
    }

    /// [`drain_closed`](Self::drain_closed), but leaving up to a quarter
    /// of `max_open` waiting, in order, for [`hand_out_some`](Self::hand_out_some):
    /// closing the oldest half of the open paths closes thousands at once,
    /// and handing them out a few at a time, when the caller would wait
    /// anyway, keeps a thread that follows the correlator from stalling.
    /// (A quarter cost a switching host's 1 GiB run 11 MiB at its peak;
    /// half cost 22 MiB, for little more speed.)
    pub fn drain_closed_leaving_some(&mut self, each: impl FnMut(&PacketPath)) {
        let keep = if self.max_open > 0 { self.max_open / 4 } else { DEFAULT_MAX_OPEN / 4 };
        self.hand_out_waiting(keep, usize::MAX, each);
    }

    /// Hands out up to `n` of the paths waiting; true if any were.
    pub fn hand_out_some(&mut self, n: usize, each: impl FnMut(&PacketPath)) -> bool {
        let before = self.waiting.len() + self.closed.len();
        self.hand_out_waiting(0, n, each);
        self.waiting.len() + self.closed.len() < before
    }

    /// Hands out the oldest paths, at most `n`, until `keep` are left.
    fn hand_out_waiting(&mut self, keep: usize, n: usize, mut each: impl FnMut(&PacketPath)) {
        if !self.closed.is_empty() {
            // Stable, as the order of equal times matters.
            self.closed.sort_by_key(|&(first_ts, _)| first_ts);
            self.waiting.extend(self.closed.drain(..).map(|(_, path)| path));
        }
        let max = self.max_spare_lists();
        for _ in 0..self.waiting.len().saturating_sub(keep).min(n) {
            if let Some(ahead) = self.waiting.get(CLOSE_AHEAD) {
                prefetch_lists(ahead);
            }
            let Some(mut path) = self.waiting.pop_front() else { break };
            path.hops.sort_by_key(|h| h.ts);
            path.sightings.sort_by_key(|s| s.ts);
            each(&path);
            keep_spare(&mut self.spare_hops, path.hops, max);
            keep_spare(&mut self.spare_sightings, path.sightings, max);
        }
    }

    /// Closes everything still open (end of input) and hands each path to
    /// `each`, oldest first.
    pub fn finish(&mut self, each: impl FnMut(&PacketPath)) {
        self.sweep(Timestamp::MAX);
        self.drain_closed(each);
        self.spare_hops = Vec::new();
        self.spare_sightings = Vec::new();
    }

    fn max_spare_lists(&self) -> usize {
        if self.max_open > 0 {
            self.max_open
        } else {
            SPARE_LISTS_WITHOUT_LIMIT
        }
    }

    /// Keeps an emptied hop list for a new path or lifecycle.
    fn spare_hops(&mut self, hops: Vec<Hop>) {
        let max = self.max_spare_lists();
        keep_spare(&mut self.spare_hops, hops, max);
    }

    /// Paths closed before their window ended because too many were open.
    pub fn closed_early(&self) -> u64 {
        self.closed_early
    }

    fn new_group(&mut self, ts: Timestamp, invariant: u64, same_packet: Option<u64>) -> usize {
        if self.max_open > 0 && self.open >= self.max_open {
            self.close_oldest_half();
        }
        self.open += 1;
        let path = PacketPath {
            hops: self.spare_hops.pop().unwrap_or_default(),
            sightings: self.spare_sightings.pop().unwrap_or_default(),
        };
        let g = Group { path, last_ts: ts, first_hop_ts: None, invariant, same_packet };
        let i = match self.free.pop() {
            Some(i) => {
                self.groups[i] = Some(g);
                i
            }
            None => {
                self.groups.push(Some(g));
                self.groups.len() - 1
            }
        };
        if invariant != 0 {
            self.by_invariant.insert(invariant, i);
        }
        if let Some(k) = same_packet {
            self.by_same_packet.insert(k, i);
        }
        i
    }

    fn close_group(&mut self, i: usize) {
        let Some(g) = self.groups[i].take() else { return };
        self.open -= 1;
        if self.by_invariant.get(&g.invariant) == Some(&i) {
            self.by_invariant.remove(&g.invariant);
        }
        if let Some(k) = g.same_packet {
            if self.by_same_packet.get(&k) == Some(&i) {
                self.by_same_packet.remove(&k);
            }
        }
        self.free.push(i);
        self.closed.push((g.first_hop_ts.unwrap_or_default(), g.path));
    }

    /// Closes paths and lifecycles idle for longer than the window.
    fn sweep(&mut self, now: Timestamp) {
        let limit = Timestamp(now.0.saturating_sub(self.window_ns));
        let stale: Vec<LifecycleKey> = self
            .lifecycles
            .iter()
            .filter(|(_, l)| l.last_ts < limit || l.closed && l.group.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            if let Some(l) = self.lifecycles.remove(&k) {
                if l.group.is_none() && !l.pending.is_empty() {
                    // Never saw its bytes: a path of switch events alone.
                    let g = self.new_group(l.last_ts, 0, None);
                    self.add_hops(g, l.pending, l.last_ts);
                } else {
                    self.spare_hops(l.pending);
                }
            }
        }
        let closing: Vec<usize> =
            (0..self.groups.len()).filter(|&i| self.groups[i].as_ref().is_some_and(|g| g.last_ts < limit)).collect();
        for i in closing {
            self.close_group(i);
        }
        let lifecycles = &self.lifecycles;
        self.at_nic.retain(|(switch, nic), entries| {
            entries.retain(|&(ts, nbl)| is_current(lifecycles, switch, nic, ts, nbl));
            !entries.is_empty()
        });
        self.last_sweep = now;
    }

    /// Closes the older half of the open paths (and their lifecycles), as a
    /// sweep would once the window had passed them.
    fn close_oldest_half(&mut self) {
        let mut ages: Vec<Timestamp> = self.groups.iter().flatten().map(|g| g.last_ts).collect();
        if ages.is_empty() {
            return;
        }
        let mid = ages.len() / 2;
        let (_, &mut cutoff, _) = ages.select_nth_unstable(mid);
        let before = self.open;
        let saved = self.last_sweep;
        // Everything idle since before `cutoff` (and `cutoff` itself, so
        // that ties cannot stall) closes.
        self.sweep(Timestamp(cutoff.0.saturating_add(1).saturating_add(self.window_ns)));
        self.last_sweep = saved;
        self.closed_early += (before - self.open) as u64;
    }

    fn maybe_sweep(&mut self, now: Timestamp) {
        if now.0.saturating_sub(self.last_sweep.0) > self.window_ns / 4 {
            self.sweep(now);
        }
    }

    fn add_hops(&mut self, g: usize, mut hops: Vec<Hop>, ts: Timestamp) {
        if let Some(group) = self.groups[g].as_mut() {
            group.append_hops(&mut hops);
            group.last_ts = group.last_ts.max(ts);
        }
        self.spare_hops(hops);
    }

    /// The open group for this packet, or a new one. A capture at a point
    /// where the group already has this very tuple is a retransmission, so
    /// a new packet.
    fn group_for(
        &mut self,
        ts: Timestamp,
        decoded: &Decoded,
        point: &Text,
        same_packet: Option<u64>,
        appearance: bool,
    ) -> usize {
        if let Some(k) = same_packet {
            if let Some(&g) = self.by_same_packet.get(&k) {
                return g;
            }
            return self.new_group(ts, decoded.invariant, Some(k));
        }
        if decoded.invariant != 0 {
            if let Some(&g) = self.by_invariant.get(&decoded.invariant) {
                // One capture point sees a packet once: a second capture
                // there is another packet (a retransmission, a repeated
                // query). pktmon logs a packet at both edges of a component,
                // so appearances are exempt.
                let repeat = !appearance
                    && self.groups[g].as_ref().is_some_and(|grp| {
                        grp.path
                            .hops
                            .iter()
                            .any(|h| matches!(h.kind, HopKind::Capture | HopKind::Appearance) && h.point == *point)
                    });
                if !repeat {
                    return g;
                }
            }
        }
        self.new_group(ts, decoded.invariant, None)
    }

    /// A captured packet, borrowed: what the correlator keeps of it is
    /// copied straight from where the reading thread left it (see
    /// `analyze::correlate_staged`).
    pub fn push_capture(&mut self, input: &CaptureInput) {
        let ts = input.sighting.ts;
        self.maybe_sweep(ts);
        let d = &input.sighting.decoded;
        let tuple = d.inner;
        let vni = d.innermost_tunnel().map(|t| t.vni);
        // A fragment right after an NBL event on the same CPU, from the same
        // NIC, is that NBL's bytes.
        if let (Some(cpu), Some(nic)) = (input.cpu, &input.switch_nic) {
            let bound = self
                .awaiting
                .get(&cpu)
                .is_some_and(|a| *a.nic.0 == *nic.as_str() && ts.nanos_since(a.ts) <= BIND_WINDOW_NS);
            if bound {
                if let Some(a) = self.awaiting.remove(&cpu) {
                    self.bind(a, input.sighting.clone(), tuple, vni);
                    return;
                }
            }
        }
        let kind = if input.appearance { HopKind::Appearance } else { HopKind::Capture };
        let kind = if input.drop.is_some() { HopKind::Dropped } else { kind };
        let g = self.group_for(ts, d, &input.point_name, input.same_packet, input.appearance);
        let hop = Hop {
            ts,
            point: input.point_name.clone(),
            kind,
            nbl: None,
            switch: None,
            to: None,
            tuple,
            vni,
            drop: input.drop.clone(),
        };
        if let Some(group) = self.groups[g].as_mut() {
            group.push_hop(hop);
            group.path.sightings.push(input.sighting.clone());
            group.last_ts = group.last_ts.max(ts);
        }
    }

    /// Gives a lifecycle its packet bytes: its hops join the packet's group,
    /// and the hop of the event the bytes follow gets their tuple.
    fn bind(
        &mut self,
        event: AwaitingBytes,
        sighting: Sighting,
        tuple: Option<crate::packet::Tuple>,
        vni: Option<u32>,
    ) {
        let (key, at, event_ts) = (event.key, event.hop, event.ts);
        let ts = sighting.ts;
        let Some(l) = self.lifecycles.get_mut(&key) else { return };
        // Only that hop: an earlier event of the packet that had no bytes
        // of its own may have seen it before a rewrite.
        let give_tuple = |h: &mut Hop| {
            if h.tuple.is_none() && h.ts == event_ts {
                h.tuple = tuple;
                h.vni = vni;
            }
        };
        if let HopAt::Pending(i) = at {
            if let Some(h) = l.pending.get_mut(i) {
                give_tuple(h);
            }
        }
        // What the lifecycle holds is taken before a group is found for it:
        // finding one may close paths, and the lifecycle with them.
        let mut hops = std::mem::take(&mut l.pending);
        let (last_ts, closed) = (l.last_ts.max(ts), l.closed);
        let group = match l.group {
            Some(g) => g,
            None => {
                let point = l.last_nic.0.clone();
                let g = self.group_for(ts, &sighting.decoded, &point, None, false);
                if let Some(l) = self.lifecycles.get_mut(&key).filter(|_| !closed) {
                    l.group = Some(g);
                }
                g
            }
        };
        if closed {
            // Its last bytes are in: nothing can join it any more (its
            // pointer's next event starts a new lifecycle either way), and
            // the next sweep would remove it. Gone now, it leaves a table
            // of the few lifecycles open at once, not of every one closed
            // since the last sweep.
            self.lifecycles.remove(&key);
        }
        if let Some(grp) = self.groups[group].as_mut() {
            grp.append_hops(&mut hops);
            if let HopAt::Group(i) = at {
                if let Some(h) = grp.path.hops.get_mut(i) {
                    give_tuple(h);
                }
            }
            grp.path.sightings.push(sighting);
            grp.last_ts = grp.last_ts.max(last_ts);
        }
        self.spare_hops(hops);
    }

    fn lifecycle_hop(&mut self, key: LifecycleKey, hop: Hop, nic: Name, cpu: u32, opens: bool, closes: bool) {
        let ts = hop.ts;
        // A closed lifecycle takes no more hops: whatever event comes with
        // its pointer next (a receive, or the route of a NAT copy that got
        // a recycled pointer) is a new packet.
        let fresh = |nic: &Name| Lifecycle {
            group: None,
            pending: Vec::new(),
            last_nic: nic.clone(),
            last_ts: ts,
            closed: false,
        };
        // One look-up for the usual event, which continues its lifecycle.
        let l = match self.lifecycles.entry(key.clone()) {
            Entry::Occupied(e) if !(e.get().closed || (opens && e.get().group.is_some())) => e.into_mut(),
            Entry::Occupied(e) => {
                let retired = e.remove();
                self.retire_lifecycle(retired);
                self.lifecycles.entry(key.clone()).or_insert_with(|| fresh(&nic))
            }
            Entry::Vacant(e) => e.insert(fresh(&nic)),
        };
        l.last_nic = nic.clone();
        l.last_ts = ts;
        l.closed |= closes;
        let at = match l.group {
            Some(g) => match self.groups[g].as_mut() {
                Some(grp) => {
                    grp.push_hop(hop);
                    grp.last_ts = grp.last_ts.max(ts);
                    HopAt::Group(grp.path.hops.len() - 1)
                }
                None => HopAt::Dropped,
            },
            None => {
                if l.pending.capacity() == 0 {
                    l.pending = self.spare_hops.pop().unwrap_or_default();
                }
                l.pending.push(hop);
                HopAt::Pending(l.pending.len() - 1)
            }
        };
        if !closes {
            self.at_nic.entry((key.0.clone(), nic.clone())).or_default().push((ts, key.1));
        }
        self.awaiting.insert(cpu, AwaitingBytes { ts, key, nic, hop: at });
    }

    /// A lifecycle whose pointer came back: what it had becomes its own path.
    fn retire_lifecycle(&mut self, l: Lifecycle) {
        if l.group.is_none() && !l.pending.is_empty() {
            let g = self.new_group(l.last_ts, 0, None);
            self.add_hops(g, l.pending, l.last_ts);
        } else {
            self.spare_hops(l.pending);
        }
    }

    /// A VmSwitch NBL event.
    pub fn push_nbl(&mut self, ts: Timestamp, cpu: u32, ev: &NblEvent) {
        self.maybe_sweep(ts);
        let hop = |kind, point: &Name, switch: Option<&Name>, nbl, to: Option<&Name>, drop| Hop {
            ts,
            point: point.0.clone(),
            kind,
            nbl,
            switch: switch.map(|s| s.0.clone()),
            to: to.map(|t| t.0.clone()),
            tuple: None,
            vni: None,
            drop,
        };
        let switch = ev.switch().map(|s| self.label(s));
        match ev {
            NblEvent::Receive { nic, nbl, .. } | NblEvent::Deliver { nic, nbl, .. } => {
                let opens = matches!(ev, NblEvent::Receive { .. });
                let kind = if opens { HopKind::Received } else { HopKind::Delivered };
                let (switch, nic) = (switch.expect("switch event"), self.label(nic));
                let key = (switch.clone(), nbl.unwrap_or_else(|| self.synthetic_nbl()));
                let h = hop(kind, &nic, Some(&switch), *nbl, None, None);
                self.lifecycle_hop(key, h, nic, cpu, opens, !opens);
            }
            NblEvent::Route { from, to, nbl, .. } => {
                let (switch, from, to) = (switch.expect("switch event"), self.label(from), self.label(to));
                let key = (switch.clone(), nbl.unwrap_or_else(|| self.synthetic_nbl()));
                let h = hop(HopKind::Routed, &from, Some(&switch), *nbl, Some(&to), None);
                self.lifecycle_hop(key, h, from, cpu, false, false);
            }
            NblEvent::ExtensionDrop { nic, extension, reason, .. } => {
                let (switch, nic) = (switch.expect("switch event"), self.label(nic));
                let note = DropNote { by: extension.label().to_string(), reason: reason.to_string(), code: None };
                let h = hop(HopKind::Dropped, &nic, Some(&switch), None, None, Some(Box::new(note)));
                self.drop_from_nic(h, switch, nic);
            }
            NblEvent::IncomingDrop { nic, switch: named, reason_code }
            | NblEvent::OutgoingDrop { nic, switch: named, reason_code } => {
                let (switch, nic) = (switch.expect("switch event"), self.label(nic));
                let note = DropNote {
                    by: named.label().to_string(),
                    reason: vmswitch::drop_reason(*reason_code).to_string(),
                    code: Some(*reason_code),
                };
                let h = hop(HopKind::Dropped, &nic, Some(&switch), None, None, Some(Box::new(note)));
                self.drop_from_nic(h, switch, nic);
            }
            NblEvent::Veto { extension, from, to, .. } => {
                let (switch, from, to) = (switch.expect("switch event"), self.label(from), self.label(to));
                let note = DropNote { by: extension.to_string(), reason: "delivery vetoed".to_string(), code: None };
                let h = hop(HopKind::Vetoed, &from, Some(&switch), None, Some(&to), Some(Box::new(note)));
                self.drop_from_nic(h, switch, from);
            }
            NblEvent::QosDrop { reason_code } => {
                let note = DropNote {
                    by: "QoS".to_string(),
                    reason: format!("QoS reason {reason_code}"),
                    code: Some(*reason_code),
                };
                let point = self.intern("switch");
                let h = hop(HopKind::Dropped, &point, None, None, None, Some(Box::new(note)));
                let g = self.new_group(ts, 0, None);
                self.add_hops(g, vec![h], ts);
            }
        }
    }

    /// An NBL pointer for an event that carries none: unique, never a real one.
    fn synthetic_nbl(&mut self) -> u64 {
        self.next_synthetic_nbl += 1;
        u64::MAX - self.next_synthetic_nbl
    }

    /// Drop events name no NBL: the packet is the newest open lifecycle on
    /// that switch last seen at that NIC.
    fn drop_from_nic(&mut self, hop: Hop, switch: Name, nic: Name) {
        let ts = hop.ts;
        let window = self.window_ns;
        let lifecycles = &self.lifecycles;
        let found = self.at_nic.get_mut(&(switch.clone(), nic.clone())).and_then(|entries| {
            // Newest first; stale entries at the end are dropped on the way.
            while let Some(&(seen, nbl)) = entries.last() {
                if is_current(lifecycles, &switch, &nic, seen, nbl) {
                    // The newest open one; if it is too old, older ones are older still.
                    return (ts.nanos_since(seen) <= window).then_some(nbl);
                }
                entries.pop();
            }
            None
        });
        match found {
            Some(nbl) => {
                let cpu = u32::MAX; // no fragment follows a drop
                self.lifecycle_hop((switch, nbl), hop, nic, cpu, false, true);
                self.awaiting.remove(&cpu);
            }
            None => {
                let g = self.new_group(ts, 0, None);
                self.add_hops(g, vec![hop], ts);
            }
        }
    }
}

/// Keeps `list`, emptied, in `spares` (at most `max` of them), unless it
/// never held anything or grew past [`MAX_SPARE_CAPACITY`].
fn keep_spare<T>(spares: &mut Vec<Vec<T>>, mut list: Vec<T>, max: usize) {
    if spares.len() < max && list.capacity() > 0 && list.capacity() <= MAX_SPARE_CAPACITY {
        list.clear();
        spares.push(list);
    }
}

/// Is this `at_nic` entry still the lifecycle's latest position?
fn is_current(
    lifecycles: &FxHashMap<LifecycleKey, Lifecycle>,
    switch: &Name,
    nic: &Name,
    seen: Timestamp,
    nbl: u64,
) -> bool {
    lifecycles.get(&(switch.clone(), nbl)).is_some_and(|l| !l.closed && l.last_ts == seen && &l.last_nic == nic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::etl::providers::vmswitch::Named;

    fn named(name: &str) -> Named {
        Named { id: Text::intern(name), name: Text::intern(name) }
    }

    fn capture(ns: i64, point: &str, invariant: u64, bytes_of: Option<(u32, &str)>) -> CaptureInput {
        let mut decoded = Decoded::default();
        decoded.invariant = invariant;
        CaptureInput {
            sighting: Sighting { ts: Timestamp(ns), point: (0, 0), decoded, frame_len: 60 },
            point_name: Text::intern(point),
            cpu: bytes_of.map(|(cpu, _)| cpu),
            switch_nic: bytes_of.map(|(_, nic)| Text::intern(nic)),
            same_packet: None,
            appearance: false,
            drop: None,
        }
    }

    #[test]
    fn paths_are_handed_out_in_time_order_with_their_hops_and_sightings_sorted() {
        let mut c = Correlator::new(DEFAULT_WINDOW_NS);
        let receive = NblEvent::Receive { nic: named("nic A"), switch: named("switch S"), nbl: Some(0xA0) };
        // The switch receives the packet at 10 ns; its bytes follow at 14 ns,
        // after a capture elsewhere (12 ns) has already opened its path. The
        // receive hop joins that path last, though it is its first.
        c.push_nbl(Timestamp(10), 0, &receive);
        c.push_capture(&capture(11, "point Q", 9, None));
        c.push_capture(&capture(12, "point P", 7, None));
        c.push_capture(&capture(14, "nic A", 7, Some((0, "nic A"))));
        let mut paths = Vec::new();
        c.finish(|p| paths.push(p.clone()));

        let hop_times = |p: &PacketPath| p.hops.iter().map(|h| h.ts.0).collect::<Vec<_>>();
        let sighting_times = |p: &PacketPath| p.sightings.iter().map(|s| s.ts.0).collect::<Vec<_>>();
        assert_eq!(paths.len(), 2);
        assert_eq!(hop_times(&paths[0]), [10, 12], "oldest first hop first, hops in time order");
        assert_eq!(sighting_times(&paths[0]), [12, 14]);
        assert_eq!(hop_times(&paths[1]), [11]);
        assert_eq!(paths[0].first_ts(), Timestamp(10));
    }

    #[test]
    fn a_delivered_lifecycle_is_gone_once_its_bytes_are_in_and_its_pointer_starts_anew() {
        let mut c = Correlator::new(DEFAULT_WINDOW_NS);
        let receive = NblEvent::Receive { nic: named("nic A"), switch: named("switch S"), nbl: Some(0xB0) };
        let deliver = NblEvent::Deliver { nic: named("nic B"), switch: named("switch S"), nbl: Some(0xB0) };
        c.push_nbl(Timestamp(10), 0, &receive);
        c.push_capture(&capture(11, "nic A", 7, Some((0, "nic A"))));
        c.push_nbl(Timestamp(20), 0, &deliver);
        assert_eq!(c.lifecycles.len(), 1, "closed, its bytes still to come");
        c.push_capture(&capture(21, "nic B", 7, Some((0, "nic B"))));
        assert!(c.lifecycles.is_empty(), "closed and its bytes in");
        // The pointer again, soon after: another packet, another path.
        c.push_nbl(Timestamp(30), 0, &receive);
        c.push_capture(&capture(31, "nic A", 8, Some((0, "nic A"))));
        let mut paths = Vec::new();
        c.finish(|p| paths.push(p.clone()));
        let kinds = |p: &PacketPath| p.hops.iter().map(|h| h.kind).collect::<Vec<_>>();
        assert_eq!(paths.len(), 2);
        assert_eq!(kinds(&paths[0]), [HopKind::Received, HopKind::Delivered]);
        assert_eq!(paths[0].sightings.len(), 2);
        assert_eq!(kinds(&paths[1]), [HopKind::Received]);
    }

    #[test]
    fn bytes_give_their_tuple_to_the_event_they_follow_alone() {
        use crate::packet::{Proto, Tuple};
        let tuple = |dst: [u8; 4]| Tuple {
            proto: Proto::Tcp,
            src: [10, 0, 0, 1].into(),
            dst: dst.into(),
            src_port: 40000,
            dst_port: 80,
        };
        let with_tuple = |mut input: CaptureInput, t: Tuple| {
            input.sighting.decoded.inner = Some(t);
            input
        };
        let (switch, a, b) = (named("switch S"), named("nic A"), named("nic B"));
        let mut c = Correlator::new(DEFAULT_WINDOW_NS);
        // Received with no bytes of its own, then routed: the bytes that
        // follow the route show the packet as the route saw it, after a
        // rewrite the receive came before.
        c.push_nbl(Timestamp(10), 0, &NblEvent::Receive { nic: a.clone(), switch: switch.clone(), nbl: Some(0xC0) });
        let route = NblEvent::Route { from: a.clone(), to: b.clone(), switch: switch.clone(), nbl: Some(0xC0) };
        c.push_nbl(Timestamp(20), 0, &route);
        c.push_capture(&with_tuple(capture(21, "nic A", 7, Some((0, "nic A"))), tuple([10, 0, 0, 9])));
        // Delivered, its bytes following on another CPU: the path is
        // known by now, and the deliver's hop goes straight to it.
        c.push_nbl(Timestamp(30), 1, &NblEvent::Deliver { nic: b.clone(), switch: switch.clone(), nbl: Some(0xC0) });
        c.push_capture(&with_tuple(capture(31, "nic B", 7, Some((1, "nic B"))), tuple([10, 0, 0, 8])));
        let mut paths = Vec::new();
        c.finish(|p| paths.push(p.clone()));
        assert_eq!(paths.len(), 1);
        let hops: Vec<_> = paths[0].hops.iter().map(|h| (h.kind, h.tuple)).collect();
        assert_eq!(
            hops,
            [
                (HopKind::Received, None),
                (HopKind::Routed, Some(tuple([10, 0, 0, 9]))),
                (HopKind::Delivered, Some(tuple([10, 0, 0, 8]))),
            ]
        );
    }
}
