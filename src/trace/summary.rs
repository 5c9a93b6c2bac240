//! What closed paths add up to: the paths worth listing, NAT rewrites,
//! drops, and the time between hops.

use rustc_hash::FxHashMap;

use super::path::{Hop, HopKind, PacketPath};
use crate::capture::etl::providers::vmswitch::Text;
use crate::packet::Tuple;
use crate::spill::{ChunkStore, Reader, Spill, TagIndex, Writer};
use crate::time::Timestamp;

/// Paths listed in a report at most; the rest are counted.
pub const MAX_LISTED_PATHS: usize = 10_000;

#[derive(Debug, Clone)]
pub struct ListedPath {
    pub path: PacketPath,
    pub flow_id: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Rewrite {
    pub before: Tuple,
    pub after: Tuple,
    pub point: String,
    pub packets: u64,
    pub flow_ids: Vec<u64>,
}

#[derive(Debug, Clone)]
pub struct Drop {
    pub ts: Timestamp,
    pub point: Text,
    pub by: String,
    pub reason: String,
    pub reason_code: Option<u32>,
    pub flow_id: Option<u64>,
    pub nbl: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct HopLatency {
    pub from: String,
    pub to: String,
    pub count: u64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Spill for Rewrite {
    fn write(&self, w: &mut Writer) {
        w.put(&self.before);
        w.put(&self.after);
        w.put(&self.point);
        w.u64(self.packets);
        w.put(&self.flow_ids);
    }
    fn read(r: &mut Reader) -> Option<Self> {
        Some(Rewrite { before: r.get()?, after: r.get()?, point: r.get()?, packets: r.u64()?, flow_ids: r.get()? })
    }
}

impl Spill for Drop {
    fn write(&self, w: &mut Writer) {
        w.put(&self.ts);
        w.put(&self.point);
        w.put(&self.by);
        w.put(&self.reason);
        w.put(&self.reason_code);
        w.put(&self.flow_id);
        w.put(&self.nbl);
    }
    fn read(r: &mut Reader) -> Option<Self> {
        Some(Drop {
            ts: r.get()?,
            point: r.get()?,
            by: r.get()?,
            reason: r.get()?,
            reason_code: r.get()?,
            flow_id: r.get()?,
            nbl: r.get()?,
        })
    }
}

#[derive(Debug)]
pub struct Summary {
    pub paths: Vec<ListedPath>,
    pub paths_not_listed: u64,
    pub rewrites: ChunkStore<Rewrite>,
    /// Where each (before, after, point) is in `rewrites`.
    rewrite_index: TagIndex,
    pub drops: ChunkStore<Drop>,
    latency: LatencyTable,
}

impl Default for Summary {
    fn default() -> Self {
        Self::with_in_memory(crate::spill::DEFAULT_IN_MEMORY)
    }
}

impl Summary {
    /// A summary that keeps about `in_memory` NAT mappings and as many
    /// drops in memory (0: all), the rest in a temporary file
    /// ([`crate::spill`]).
    pub fn with_in_memory(in_memory: usize) -> Self {
        Self::with_stores(ChunkStore::new(in_memory), ChunkStore::new(in_memory))
    }

    fn with_stores(rewrites: ChunkStore<Rewrite>, drops: ChunkStore<Drop>) -> Self {
        Summary {
            paths: Vec::new(),
            paths_not_listed: 0,
            rewrites,
            rewrite_index: TagIndex::new(),
            drops,
            latency: LatencyTable::default(),
        }
    }

    /// Why NAT mappings or drops meant for the temporary file are in
    /// memory, if they are.
    pub fn spill_error(&self) -> Option<&str> {
        self.rewrites.file_error().or(self.drops.file_error())
    }
}

/// Where a hop happened, for latency keys: the switch for switch events,
/// the capture point otherwise. Shown as `kind@where`.
type Place = (HopKind, Text);

fn place(h: &Hop) -> Place {
    (h.kind, place_text(h).clone())
}

fn place_text(h: &Hop) -> &Text {
    match (&h.switch, h.kind) {
        (Some(s), HopKind::Received | HopKind::Routed | HopKind::Delivered | HopKind::Dropped | HopKind::Vetoed) => s,
        _ => &h.point,
    }
}

/// A latency histogram per pair of places.
#[derive(Debug, Default)]
struct LatencyTable {
    pairs: Vec<((Place, Place), Histogram)>,
    /// Where each pair is in `pairs`.
    index: FxHashMap<(Place, Place), usize>,
    /// The same by the interned addresses of the places' names: a path's
    /// every hop looks up its pair, and hashing two names' text for each
    /// was a third of adding a path to the summary.
    by_address: FxHashMap<(HopKind, usize, HopKind, usize), usize>,
}

impl LatencyTable {
    /// The histogram of the time from hop `a` to hop `b`.
    fn histogram(&mut self, a: &Hop, b: &Hop) -> &mut Histogram {
        let (text_a, text_b) = (place_text(a), place_text(b));
        let address = match (text_a.as_interned(), text_b.as_interned()) {
            (Some(x), Some(y)) => Some((a.kind, x.as_ptr() as usize, b.kind, y.as_ptr() as usize)),
            _ => None,
        };
        let found = address.and_then(|k| self.by_address.get(&k).copied());
        let i = match found {
            Some(i) => i,
            None => {
                let i = self.slot((place(a), place(b)));
                if let Some(k) = address {
                    self.by_address.insert(k, i);
                }
                i
            }
        };
        &mut self.pairs[i].1
    }

    fn by_places(&mut self, key: (Place, Place)) -> &mut Histogram {
        let i = self.slot(key);
        &mut self.pairs[i].1
    }

    fn slot(&mut self, key: (Place, Place)) -> usize {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        self.pairs.push((key.clone(), Histogram::default()));
        self.index.insert(key, self.pairs.len() - 1);
        self.pairs.len() - 1
    }
}

fn place_name(p: &Place) -> String {
    format!("{}@{}", p.0.name(), p.1)
}

/// Distinct values a latency histogram keeps at full resolution; past
/// this it halves its resolution, so memory stays bounded however long
/// the capture.
const HISTOGRAM_MAX_VALUES: usize = 1 << 14;

/// Hop-to-hop times in nanoseconds, counted per value: exact (and so exact
/// percentiles) while a hop pair has fewer than [`HISTOGRAM_MAX_VALUES`]
/// distinct times, bounded in size after that.
///
/// Unordered: every hop of every path adds a value, and a hash map takes
/// it for less than an ordered map; the order is only needed for
/// percentiles, once per report. What the histogram ends up holding does
/// not depend on the order values came in: the resolution halves until
/// the distinct values of all of them fit, whichever came first.
#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Value >> shift -> count.
    counts: FxHashMap<i64, u64>,
    shift: u32,
    total: u64,
    max_ns: i64,
}

impl Histogram {
    fn add(&mut self, ns: i64, count: u64) {
        *self.counts.entry(ns >> self.shift).or_default() += count;
        self.max_ns = if self.total == 0 { ns } else { self.max_ns.max(ns) };
        self.total += count;
        while self.counts.len() > HISTOGRAM_MAX_VALUES {
            self.shift += 1;
            let old = std::mem::take(&mut self.counts);
            for (k, c) in old {
                *self.counts.entry(k >> 1).or_default() += c;
            }
        }
    }

    fn merge(&mut self, other: &Histogram) {
        for (&k, &c) in &other.counts {
            self.add(k << other.shift, c);
        }
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// Nearest-rank percentile in microseconds.
    #[cfg(test)]
    fn percentile_us(&self, p: f64) -> f64 {
        self.percentiles_us([p])[0]
    }

    /// Nearest-rank percentiles in microseconds, `ps` in ascending order:
    /// the values sorted once for all of them.
    fn percentiles_us<const N: usize>(&self, ps: [f64; N]) -> [f64; N] {
        debug_assert!(ps.windows(2).all(|w| w[0] <= w[1]), "percentiles out of order: {ps:?}");
        if self.total == 0 {
            return [0.0; N];
        }
        let mut sorted: Vec<(i64, u64)> = self.counts.iter().map(|(&k, &c)| (k, c)).collect();
        sorted.sort_unstable();
        let mut values = sorted.into_iter();
        // The walk stops at the first value whose running count reaches a
        // rank; a larger rank goes on from there.
        let (mut seen, mut value_ns) = (0, self.max_ns);
        ps.map(|p| {
            let rank = (((p / 100.0) * self.total as f64).ceil() as u64).clamp(1, self.total);
            while seen < rank {
                let Some((k, c)) = values.next() else {
                    value_ns = self.max_ns;
                    break;
                };
                seen += c;
                value_ns = (k << self.shift).min(self.max_ns);
            }
            value_ns as f64 / 1000.0
        })
    }
}

impl Summary {
    /// Adds a closed path; `flows` maps each tuple it was seen with (in
    /// canonical orientation) to its flow id.
    pub fn add(&mut self, path: &PacketPath, flows: &[(Tuple, u64)]) {
        let flow_of = |t: &Option<Tuple>| -> Option<u64> {
            let c = t.as_ref()?.canonical().0;
            flows.iter().find(|(k, _)| *k == c).map(|(_, id)| *id)
        };
        // NAT: the tuple changes between two hops that saw the bytes.
        let mut last: Option<&super::path::Hop> = None;
        for h in path.hops.iter().filter(|h| h.tuple.is_some()) {
            if let (Some(prev), Some(now)) = (last, h.tuple) {
                let before = prev.tuple.unwrap_or(now);
                // Two captures at one point are two packets, not a rewrite;
                // a switch may rewrite between two of its own events.
                let same_capture_point = prev.switch.is_none() && h.switch.is_none() && prev.point == h.point;
                if before != now && before.proto == now.proto && !same_capture_point {
                    let point: std::borrow::Cow<'_, str> = match (&h.switch, &prev.switch) {
                        (Some(s), _) | (None, Some(s)) => s.as_str().into(),
                        (None, None) => format!("{} -> {}", prev.point, h.point).into(),
                    };
                    let ids = [flow_of(&prev.tuple), flow_of(&h.tuple)];
                    if let Some(r) = self.rewrite(before, now, &point) {
                        r.packets += 1;
                        for id in ids.into_iter().flatten() {
                            if !r.flow_ids.contains(&id) {
                                r.flow_ids.push(id);
                            }
                        }
                    }
                }
            }
            last = Some(h);
        }
        // Drops, attributed to the flow of the last bytes seen before them.
        let mut known = None;
        for h in &path.hops {
            if h.tuple.is_some() {
                known = h.tuple;
            }
            if let Some(note) = h.drop.as_ref().filter(|_| matches!(h.kind, HopKind::Dropped | HopKind::Vetoed)) {
                self.drops.push(Drop {
                    ts: h.ts,
                    point: h.point.clone(),
                    by: note.by.clone(),
                    reason: note.reason.clone(),
                    reason_code: note.code,
                    flow_id: flow_of(&h.tuple.or(known)),
                    nbl: h.nbl,
                });
            }
        }
        // Time between consecutive hops, and through each switch.
        for w in path.hops.windows(2) {
            self.latency.histogram(&w[0], &w[1]).add(w[1].ts.nanos_since(w[0].ts), 1);
        }
        let received = path.hops.iter().position(|h| h.kind == HopKind::Received);
        let delivered = path.hops.iter().rposition(|h| h.kind == HopKind::Delivered);
        if let (Some(a), Some(b)) = (received, delivered) {
            if b > a + 1 && path.hops[a].switch == path.hops[b].switch {
                let (ha, hb) = (&path.hops[a], &path.hops[b]);
                self.latency.histogram(ha, hb).add(hb.ts.nanos_since(ha.ts), 1);
            }
        }
        if path.hops.len() > 1 {
            if self.paths.len() < MAX_LISTED_PATHS {
                let flow_id = path.hops.iter().find_map(|h| flow_of(&h.tuple));
                // The flow table has counted the sightings; a listed path
                // shows its hops, and keeping the decoded packets of ten
                // thousand paths would cost tens of megabytes.
                let path = PacketPath { hops: path.hops.clone(), sightings: Vec::new() };
                self.paths.push(ListedPath { path, flow_id });
            } else {
                self.paths_not_listed += 1;
            }
        }
    }

    /// The mapping of `before` to `after` at `point`, made if new; `None`
    /// past the most the index can number.
    fn rewrite(&mut self, before: Tuple, after: Tuple, point: &str) -> Option<&mut Rewrite> {
        use std::hash::BuildHasher;
        let hash = rustc_hash::FxBuildHasher.hash_one((&before, &after, point));
        let n = self.rewrite_index.find_or_push(
            &mut self.rewrites,
            hash,
            |r| r.before == before && r.after == after && r.point == point,
            |_| Some(Rewrite { before, after, point: point.to_string(), packets: 0, flow_ids: Vec::new() }),
        )?;
        Some(self.rewrites.get_mut(n))
    }

    /// Takes out the NAT mappings and the drops, leaving none.
    pub fn take_lists(&mut self) -> (ChunkStore<Rewrite>, ChunkStore<Drop>) {
        self.rewrite_index = TagIndex::new();
        (std::mem::take(&mut self.rewrites), std::mem::take(&mut self.drops))
    }

    /// Renames capture points everywhere (pktmon names components last).
    pub fn rename_points(&mut self, renames: &[(Text, String)]) {
        if renames.is_empty() {
            return;
        }
        let find = |p: &Text| renames.iter().find(|(from, _)| from == p).map(|(_, to)| Text::intern(to));
        for lp in &mut self.paths {
            for h in &mut lp.path.hops {
                if let Some(n) = find(&h.point) {
                    h.point = n;
                }
            }
        }
        self.drops.update_all(|d| {
            if let Some(n) = find(&d.point) {
                if d.by == d.point.as_str() {
                    d.by = n.to_string();
                }
                d.point = n;
            }
        });
        let rename = |p: Place| -> Place {
            match renames.iter().find(|(from, _)| *from == p.1) {
                Some((_, to)) => (p.0, Text::intern(to)),
                None => p,
            }
        };
        let old = std::mem::take(&mut self.latency);
        for ((a, b), h) in old.pairs {
            self.latency.by_places((rename(a), rename(b))).merge(&h);
        }
    }

    /// Latency per hop pair, in the order of their names.
    pub fn latency(&self) -> Vec<HopLatency> {
        let mut rows: Vec<HopLatency> = self
            .latency
            .pairs
            .iter()
            .map(|((from, to), h)| {
                let [p50_us, p90_us, p99_us] = h.percentiles_us([50.0, 90.0, 99.0]);
                HopLatency {
                    from: place_name(from),
                    to: place_name(to),
                    count: h.total,
                    p50_us,
                    p90_us,
                    p99_us,
                    max_us: h.max_ns as f64 / 1000.0,
                }
            })
            .collect();
        rows.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::packet::Proto;
    use crate::trace::path::{DropNote, Hop};

    fn hop(n: i64, point: &str, kind: HopKind, switch: bool, tuple: Tuple, drop: Option<DropNote>) -> Hop {
        Hop {
            ts: Timestamp(n * 1000),
            point: Text::from(point),
            kind,
            nbl: Some(n as u64),
            switch: switch.then(|| Text::from("sw")),
            to: None,
            tuple: Some(tuple),
            vni: None,
            drop: drop.map(Box::new),
        }
    }

    /// Path `i`: captured, then rewritten in the switch (every third path
    /// takes the mapping of an earlier one again), every other one dropped
    /// by the port it was captured at.
    fn path(i: u16) -> PacketPath {
        let j = if i % 3 == 0 { i / 2 } else { i };
        let t = |a: u8, port: u16| Tuple {
            proto: Proto::Udp,
            src: [10, a, (port >> 8) as u8, port as u8].into(),
            dst: [10, 9, 9, 9].into(),
            src_port: port,
            dst_port: 53,
        };
        let n = i as i64 * 10;
        let mut hops = vec![
            hop(n, "eth0", HopKind::Capture, false, t(1, j), None),
            hop(n + 1, "port1", HopKind::Received, true, t(1, j), None),
            hop(n + 2, "port2", HopKind::Routed, true, t(2, j), None),
        ];
        if i % 2 == 0 {
            let note = DropNote { by: "eth0".into(), reason: format!("reason {}", i % 7), code: Some(i as u32) };
            hops.push(hop(n + 3, "eth0", HopKind::Dropped, false, t(2, j), Some(note)));
        }
        PacketPath { hops, sightings: Vec::new() }
    }

    #[test]
    fn mappings_and_drops_in_the_temporary_file_are_the_same() {
        let mut small = Summary::with_stores(ChunkStore::with_chunks(4, 1), ChunkStore::with_chunks(4, 1));
        let mut whole = Summary::with_in_memory(0);
        for i in 0..300 {
            small.add(&path(i), &[]);
            whole.add(&path(i), &[]);
        }
        let renames = [(Text::from("eth0"), "Ethernet 0".to_string())];
        small.rename_points(&renames);
        whole.rename_points(&renames);
        let text = |s: &Summary| (format!("{:?}", s.rewrites.to_vec()), format!("{:?}", s.drops.to_vec()));
        assert_eq!(text(&small), text(&whole));
        assert_eq!((whole.rewrites.len(), whole.drops.len()), (250, 150));
        assert!(whole.rewrites.to_vec().iter().any(|r| r.packets == 2), "some mappings are taken twice");
        assert!(whole.drops.to_vec().iter().all(|d| &*d.point == "Ethernet 0" && d.by == "Ethernet 0"));
    }

    #[test]
    fn nearest_rank() {
        let mut h = Histogram::default();
        for v in 1..=100 {
            h.add(v * 1000, 1);
        }
        assert_eq!((h.percentile_us(50.0), h.percentile_us(99.0), h.percentile_us(100.0)), (50.0, 99.0, 100.0));
        let mut one = Histogram::default();
        one.add(7000, 1);
        assert_eq!(one.percentile_us(90.0), 7.0);
    }

    #[test]
    fn percentiles_at_once_are_each_ones_nearest_rank() {
        // Values with repeats, added out of order: the nearest rank of p is
        // the value at index ceil(p% of n) - 1 of them sorted.
        let mut values: Vec<i64> = (0..997).map(|i| ((i * 7919) % 211) * 1000).collect();
        let mut h = Histogram::default();
        for &v in &values {
            h.add(v, 1);
        }
        values.sort_unstable();
        let ps = [1.0, 33.3, 50.0, 90.0, 99.0, 100.0];
        let expected = ps.map(|p| {
            let rank = ((p / 100.0 * values.len() as f64).ceil() as usize).max(1);
            values[rank - 1] as f64 / 1000.0
        });
        assert_eq!(h.percentiles_us(ps), expected);
        assert_eq!(Histogram::default().percentiles_us([50.0, 99.0]), [0.0, 0.0]);
    }

    #[test]
    fn histogram_does_not_depend_on_the_order_of_values() {
        let n = 3 * HISTOGRAM_MAX_VALUES as i64;
        let (mut up, mut down) = (Histogram::default(), Histogram::default());
        for v in 0..n {
            up.add(v * 5, 1);
            down.add((n - 1 - v) * 5, 1);
        }
        let mut up_counts: Vec<_> = up.counts.iter().collect();
        let mut down_counts: Vec<_> = down.counts.iter().collect();
        up_counts.sort();
        down_counts.sort();
        assert_eq!((up.shift, up.total, up.max_ns), (down.shift, down.total, down.max_ns));
        assert_eq!(up_counts, down_counts);
        assert_eq!(up.percentile_us(90.0), down.percentile_us(90.0));
    }

    #[test]
    fn histogram_stays_bounded_and_close() {
        let mut h = Histogram::default();
        let n = 4 * HISTOGRAM_MAX_VALUES as i64;
        for v in 0..n {
            h.add(v * 7, 1);
        }
        assert!(h.counts.len() <= HISTOGRAM_MAX_VALUES);
        assert_eq!((h.total, h.max_ns), (n as u64, (n - 1) * 7));
        // Coarser, but within one bucket of the exact median.
        let exact = ((n / 2 - 1) * 7) as f64 / 1000.0;
        let bucket = (1i64 << h.shift) as f64 / 1000.0;
        assert!((h.percentile_us(50.0) - exact).abs() <= bucket, "{} vs {exact}", h.percentile_us(50.0));
    }
}
