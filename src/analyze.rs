//! The `analyze` pipeline: open each capture, stream its events through the
//! packet decoder into the flow table, and keep what the report needs about
//! the captures themselves.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::capture::etl::providers::pktmon;

use crate::capture::{Capture, Format};
use crate::error::CaptureError;
use crate::event::{CapturePoint, EventKind};
use crate::flow::FlowTable;
use crate::packet::{self, DecodeConfig, Stop};
use crate::time::Timestamp;
use crate::trace::summary::Summary;
use crate::trace::{CaptureInput, Correlator, DropNote, Sighting};

#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    pub decode: DecodeConfig,
}

/// What one input held.
#[derive(Debug, Clone)]
pub struct CaptureSummary {
    pub path: PathBuf,
    pub format: Option<Format>,
    pub packets: u64,
    pub events: u64,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub points: Vec<CapturePoint>,
    /// Bytes read, up to the end or up to the damage that stopped reading.
    pub bytes_read: u64,
    /// The error that stopped reading this capture early, if any.
    pub error: Option<String>,
}

/// Capture health across all inputs.
#[derive(Debug, Clone, Default)]
pub struct Health {
    pub events_lost: u64,
    pub buffers_lost: u64,
    pub bytes_skipped: u64,
    /// Damage that ended a capture early, or an input that could not be opened.
    pub errors: Vec<String>,
    /// Damaged parts that were skipped; reading went on after them.
    pub damage: Vec<String>,
    /// Notes on decoding (packets cut short by the snap length, unknown link types).
    pub notes: Vec<String>,
}

impl Health {
    /// Everything worth telling the user, the worst first.
    pub fn warnings(&self) -> Vec<String> {
        self.errors.iter().chain(&self.damage).chain(&self.notes).cloned().collect()
    }
}

pub struct Analysis {
    pub captures: Vec<CaptureSummary>,
    pub flows: FlowTable,
    /// Paths, NAT rewrites, drops and hop latency.
    pub paths: Summary,
    pub health: Health,
}

impl Analysis {
    /// True when some input could not be opened or was not read to its end.
    pub fn has_damage(&self) -> bool {
        !self.health.errors.is_empty() || !self.health.damage.is_empty()
    }
}

/// Counts of frames whose decoding stopped early, by reason, with the first
/// example, so that a capture with a short snap length gives one line and not
/// thousands.
#[derive(Default)]
struct StopTally {
    entries: Vec<(Stop, u64, u64, u64)>, // (reason, count, first packet number, first offset)
}

impl StopTally {
    fn add(&mut self, stop: Stop, packet_no: u64, offset: u64) {
        match self.entries.iter_mut().find(|e| e.0 == stop) {
            Some(e) => e.1 += 1,
            None => self.entries.push((stop, 1, packet_no, offset)),
        }
    }

    fn into_notes(self, path: &Path, points: &[CapturePoint]) -> Vec<String> {
        let _ = points;
        self.entries
            .into_iter()
            .filter_map(|(stop, count, first, offset)| {
                let what = match stop {
                    Stop::Truncated(h) => format!("decoded only in part: cut short inside the {h}"),
                    Stop::UnsupportedLink(n) => {
                        format!("not decoded: link type {n} is not supported")
                    }
                    Stop::TooDeep => format!("not decoded past {} nested tunnels", packet::MAX_TUNNEL_DEPTH),
                    // Frames without IP (LLDP, STP, 802.11 management) are normal traffic.
                    Stop::NoNetworkLayer => return None,
                };
                let s = if count == 1 { "" } else { "s" };
                Some(format!("{}: {count} packet{s} {what} (first: packet {first} @{offset:#x})", path.display()))
            })
            .collect()
    }
}

/// Reads every capture and builds the flow table. A capture that cannot be
/// opened or is damaged is reported in `health` and the others are still read.
pub fn analyze(paths: &[PathBuf], opts: &AnalyzeOptions) -> Analysis {
    analyze_with(paths, opts, Capture::open)
}

/// Same as [`analyze`] with a custom opener (tests use small read sizes).
pub fn analyze_with(
    paths: &[PathBuf],
    opts: &AnalyzeOptions,
    open: impl FnMut(&Path) -> Result<Capture, CaptureError>,
) -> Analysis {
    analyze_with_progress(paths, opts, open, &mut |_| {})
}

/// How far reading has got: input `capture` has been read up to `offset`.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub capture: usize,
    pub offset: u64,
}

/// Events between two progress reports; often enough for a smooth bar,
/// rarely enough to cost nothing.
const PROGRESS_EVERY: u64 = 1 << 14;

/// [`analyze_with`], reporting progress now and then.
pub fn analyze_with_progress(
    paths: &[PathBuf],
    opts: &AnalyzeOptions,
    mut open: impl FnMut(&Path) -> Result<Capture, CaptureError>,
    progress: &mut dyn FnMut(Progress),
) -> Analysis {
    let mut flows = FlowTable::new();
    let mut followed = Summary::default();
    let mut health = Health::default();
    let mut captures = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        let mut summary = CaptureSummary {
            path: path.clone(),
            format: None,
            packets: 0,
            events: 0,
            first_seen: None,
            last_seen: None,
            points: Vec::new(),
            bytes_read: 0,
            error: None,
        };
        match open(path) {
            Ok(mut capture) => {
                summary.format = Some(capture.format);
                let mut sinks = Sinks { flows: &mut flows, paths: &mut followed, health: &mut health };
                read_capture(index as u32, &mut capture, opts, &mut sinks, &mut summary, progress);
            }
            Err(e) => {
                summary.error = Some(e.to_string());
                health.errors.push(e.to_string());
            }
        }
        captures.push(summary);
    }
    if followed.paths_not_listed > 0 {
        health.notes.push(format!(
            "{} more packet paths were followed but not listed (the report lists {} at most)",
            followed.paths_not_listed,
            crate::trace::summary::MAX_LISTED_PATHS
        ));
    }
    Analysis { captures, flows, paths: followed, health }
}

/// An id that several captures of one packet share, when the capture says
/// so: pktmon logs each appearance of a packet with the same (PktGroupId,
/// PktNumber) and an appearance count from 1. Newer builds log appearance 0
/// and a new group per appearance; their appearances are joined by
/// fingerprint instead.
fn same_packet_key(meta: &crate::event::PacketMeta<'_>) -> Option<u64> {
    meta.pktmon.filter(|a| a.appearance > 0).map(|a| a.group.rotate_left(16) ^ a.number as u64)
}

/// Where one capture's results go.
struct Sinks<'a> {
    flows: &'a mut FlowTable,
    paths: &'a mut Summary,
    health: &'a mut Health,
}

fn fold_paths(closed: Vec<crate::trace::PacketPath>, sinks: &mut Sinks<'_>) {
    for path in closed {
        let ids = sinks.flows.observe_packet(&path.sightings);
        sinks.paths.add(path, &ids);
    }
}

fn read_capture(
    index: u32,
    capture: &mut Capture,
    opts: &AnalyzeOptions,
    sinks: &mut Sinks<'_>,
    summary: &mut CaptureSummary,
    progress: &mut dyn FnMut(Progress),
) {
    let mut stops = StopTally::default();
    let mut correlator = Correlator::default();
    let mut names: Vec<Arc<str>> = Vec::new();
    let etl = capture.format == Format::Etl;
    let os_build = capture.os_build();
    loop {
        if summary.events % PROGRESS_EVERY == 0 {
            progress(Progress { capture: index as usize, offset: capture.offset() });
        }
        let (event, points) = match capture.next_with_points() {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(e) => {
                summary.error = Some(e.to_string());
                sinks.health.errors.push(e.to_string());
                break;
            }
        };
        summary.events += 1;
        summary.first_seen = Some(summary.first_seen.map_or(event.ts, |t| t.min(event.ts)));
        summary.last_seen = Some(summary.last_seen.map_or(event.ts, |t| t.max(event.ts)));
        match &event.kind {
            EventKind::Packet(p) => {
                summary.packets += 1;
                let decoded = packet::decode(p.link, p.data, &opts.decode);
                if let Some(stop) = decoded.stopped {
                    stops.add(stop, summary.packets, event.offset);
                }
                let frame_len = p.orig_len.max(p.data.len() as u32);
                // One capture point and no switch events: every packet is
                // seen once, so it goes straight to the flow table.
                if !etl && points.len() <= 1 {
                    sinks.flows.observe(event.ts, (index, event.point), &decoded, frame_len, same_packet_key(&p.meta));
                    continue;
                }
                while names.len() < points.len() {
                    names.push(Arc::from(points[names.len()].name.as_str()));
                }
                let point_name = names
                    .get(event.point as usize)
                    .cloned()
                    .unwrap_or_else(|| Arc::from(format!("point {}", event.point)));
                let drop = p.meta.pktmon.filter(|_| p.meta.dropped).map(|a| DropNote {
                    by: point_name.to_string(),
                    reason: pktmon::drop_reason(a.drop_reason, os_build),
                    code: Some(a.drop_reason),
                });
                correlator.push_capture(CaptureInput {
                    sighting: Sighting { ts: event.ts, point: (index, event.point), decoded, frame_len },
                    point_name,
                    cpu: event.etw.map(|r| r.cpu),
                    switch_nic: p.meta.switch_port.as_ref().map(|s| Arc::from(s.source_nic_name.as_str())),
                    same_packet: same_packet_key(&p.meta),
                    appearance: p.meta.pktmon.is_some(),
                    drop,
                });
            }
            EventKind::Nbl(n) => correlator.push_nbl(event.ts, event.etw.map_or(0, |r| r.cpu), n),
            EventKind::Pktmon(_) | EventKind::Other => {}
        }
        fold_paths(correlator.drain_closed(), sinks);
    }
    fold_paths(correlator.finish(), sinks);
    // pktmon names its components at the end of the file: name the hops.
    let renames: Vec<(Arc<str>, String)> = names
        .iter()
        .zip(capture.points())
        .filter(|(n, p)| n.as_ref() != p.name)
        .map(|(n, p)| (n.clone(), p.name.clone()))
        .collect();
    sinks.paths.rename_points(&renames);
    for w in capture.take_warnings() {
        sinks.health.damage.push(w);
    }
    summary.points = capture.points().to_vec();
    summary.bytes_read = capture.offset();
    let losses = capture.losses();
    sinks.health.events_lost += losses.events_lost;
    sinks.health.buffers_lost += losses.buffers_lost;
    sinks.health.bytes_skipped += losses.bytes_skipped;
    sinks.health.notes.extend(stops.into_notes(&capture.path, capture.points()));
}
