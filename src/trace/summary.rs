//! What closed paths add up to: the paths worth listing, NAT rewrites,
//! drops, and the time between hops.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::path::{HopKind, PacketPath};
use crate::packet::Tuple;
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
    pub point: Arc<str>,
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

#[derive(Debug, Default)]
pub struct Summary {
    pub paths: Vec<ListedPath>,
    pub paths_not_listed: u64,
    pub rewrites: Vec<Rewrite>,
    pub drops: Vec<Drop>,
    latency: BTreeMap<(String, String), Vec<f64>>,
}

/// Where a hop happened, for latency keys: the switch for switch events,
/// the capture point otherwise.
fn place(h: &super::path::Hop) -> String {
    let at = match (&h.switch, h.kind) {
        (Some(s), HopKind::Received | HopKind::Routed | HopKind::Delivered | HopKind::Dropped | HopKind::Vetoed) => {
            s.as_ref()
        }
        _ => h.point.as_ref(),
    };
    format!("{}@{}", h.kind.name(), at)
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Summary {
    /// Adds a closed path; `flows` maps each tuple it was seen with (in
    /// canonical orientation) to its flow id.
    pub fn add(&mut self, path: PacketPath, flows: &[(Tuple, u64)]) {
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
                    let point = match (&h.switch, &prev.switch) {
                        (Some(s), _) | (None, Some(s)) => s.to_string(),
                        (None, None) => format!("{} -> {}", prev.point, h.point),
                    };
                    let ids: Vec<u64> = [flow_of(&prev.tuple), flow_of(&h.tuple)].into_iter().flatten().collect();
                    match self.rewrites.iter_mut().find(|r| r.before == before && r.after == now && r.point == point) {
                        Some(r) => {
                            r.packets += 1;
                            for id in ids {
                                if !r.flow_ids.contains(&id) {
                                    r.flow_ids.push(id);
                                }
                            }
                        }
                        None => self.rewrites.push(Rewrite { before, after: now, point, packets: 1, flow_ids: ids }),
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
            self.latency.entry((place(&w[0]), place(&w[1]))).or_default().push(w[1].ts.micros_since(w[0].ts));
        }
        let received = path.hops.iter().position(|h| h.kind == HopKind::Received);
        let delivered = path.hops.iter().rposition(|h| h.kind == HopKind::Delivered);
        if let (Some(a), Some(b)) = (received, delivered) {
            if b > a + 1 && path.hops[a].switch == path.hops[b].switch {
                let (ha, hb) = (&path.hops[a], &path.hops[b]);
                self.latency.entry((place(ha), place(hb))).or_default().push(hb.ts.micros_since(ha.ts));
            }
        }
        if path.hops.len() > 1 {
            if self.paths.len() < MAX_LISTED_PATHS {
                let flow_id = path.hops.iter().find_map(|h| flow_of(&h.tuple));
                self.paths.push(ListedPath { path, flow_id });
            } else {
                self.paths_not_listed += 1;
            }
        }
    }

    /// Renames capture points everywhere (pktmon names components last).
    pub fn rename_points(&mut self, renames: &[(Arc<str>, String)]) {
        if renames.is_empty() {
            return;
        }
        let find = |p: &Arc<str>| renames.iter().find(|(from, _)| from == p).map(|(_, to)| Arc::from(to.as_str()));
        for lp in &mut self.paths {
            for h in &mut lp.path.hops {
                if let Some(n) = find(&h.point) {
                    h.point = n;
                }
            }
        }
        for d in &mut self.drops {
            if let Some(n) = find(&d.point) {
                if d.by == d.point.as_ref() {
                    d.by = n.to_string();
                }
                d.point = n;
            }
        }
        let rename_key = |k: &str| -> String {
            match k.split_once('@') {
                Some((kind, at)) => match renames.iter().find(|(from, _)| from.as_ref() == at) {
                    Some((_, to)) => format!("{kind}@{to}"),
                    None => k.to_string(),
                },
                None => k.to_string(),
            }
        };
        let old = std::mem::take(&mut self.latency);
        for ((a, b), v) in old {
            self.latency.entry((rename_key(&a), rename_key(&b))).or_default().extend(v);
        }
    }

    /// Latency per hop pair, in the order of their names.
    pub fn latency(&self) -> Vec<HopLatency> {
        self.latency
            .iter()
            .map(|((from, to), samples)| {
                let mut s = samples.clone();
                s.sort_by(|a, b| a.total_cmp(b));
                HopLatency {
                    from: from.clone(),
                    to: to.clone(),
                    count: s.len() as u64,
                    p50_us: percentile(&s, 50.0),
                    p90_us: percentile(&s, 90.0),
                    p99_us: percentile(&s, 99.0),
                    max_us: s.last().copied().unwrap_or(0.0),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!((percentile(&s, 50.0), percentile(&s, 99.0), percentile(&s, 100.0)), (50.0, 99.0, 100.0));
        assert_eq!(percentile(&[7.0], 90.0), 7.0);
    }
}
