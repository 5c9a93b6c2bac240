//! The `analyze` pipeline: open each capture, stream its events through the
//! packet decoder into the flow table, and keep what the report needs about
//! the captures themselves.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::capture::etl::providers::pktmon;
use crate::capture::etl::providers::vmswitch::Text;

use crate::capture::pcapng::PacketFrame;
use crate::capture::{Capture, Format};
use crate::error::CaptureError;
use crate::event::{CapturePoint, EventKind};
use crate::flow::FlowTable;
use crate::packet::{self, DecodeConfig, Stop};
use crate::pipeline;
use crate::time::Timestamp;
use crate::trace::correlate::DEFAULT_WINDOW_NS;
use crate::trace::summary::Summary;
use crate::trace::{CaptureInput, Correlator, DropNote, Sighting};

#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    pub decode: DecodeConfig,
    /// Threads that decode packets (0: one per core, 1: all on the calling
    /// thread). The results are the same whatever the number.
    pub threads: usize,
    /// Packet paths that may be open at once (0: no limit); see
    /// [`crate::trace::correlate::DEFAULT_MAX_OPEN`].
    pub max_open: usize,
    /// Flows listed at most (0: no limit); see [`crate::flow::DEFAULT_MAX_FLOWS`].
    pub max_flows: usize,
    /// Flows, NAT mappings and drops kept in memory, about, each (0: all);
    /// the least recently used past it wait in a temporary file. See
    /// [`crate::spill`].
    pub in_memory: usize,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            decode: DecodeConfig::default(),
            threads: 0,
            max_open: crate::trace::correlate::DEFAULT_MAX_OPEN,
            max_flows: crate::flow::DEFAULT_MAX_FLOWS,
            in_memory: crate::spill::DEFAULT_IN_MEMORY,
        }
    }
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
    /// With several captures: how far this one's clock was ahead of the
    /// first one's (estimated from shared packets) and corrected by.
    pub clock_offset_ns: Option<i64>,
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
pub(crate) struct StopTally {
    entries: Vec<(Stop, u64, u64, u64)>, // (reason, count, first packet number, first offset)
}

impl StopTally {
    pub(crate) fn add(&mut self, stop: Stop, packet_no: u64, offset: u64) {
        match self.entries.iter_mut().find(|e| e.0 == stop) {
            Some(e) => e.1 += 1,
            None => self.entries.push((stop, 1, packet_no, offset)),
        }
    }

    /// Adds the counts of another tally (of other packets of the capture).
    pub(crate) fn merge(&mut self, other: StopTally) {
        for (stop, count, first, offset) in other.entries {
            match self.entries.iter_mut().find(|e| e.0 == stop) {
                Some(e) => {
                    e.1 += count;
                    if first < e.2 {
                        (e.2, e.3) = (first, offset);
                    }
                }
                None => self.entries.push((stop, count, first, offset)),
            }
        }
        self.entries.sort_by_key(|e| e.2);
    }

    fn into_notes(self, path: &Path) -> Vec<String> {
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
    let mut flows = FlowTable::with_limits(opts.max_flows, opts.in_memory);
    let mut followed = Summary::with_in_memory(opts.in_memory);
    let mut health = Health::default();
    let mut captures = Vec::new();
    let merged = paths.len() > 1;
    let offsets = if merged { clock_offsets(paths, opts, &mut open) } else { vec![0; paths.len()] };
    let mut readings = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        let mut summary = CaptureSummary::new(path);
        summary.clock_offset_ns = offsets.get(index).copied().filter(|o| *o != 0);
        match open(path) {
            Ok(capture) => {
                summary.format = Some(capture.format);
                let prefix = merged.then(|| {
                    path.file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| format!("capture{index}"))
                });
                readings.push(Reading::new(index as u32, capture, summary, prefix, offsets[index]));
            }
            Err(e) => {
                summary.error = Some(e.to_string());
                health.errors.push(e.to_string());
                captures.push(summary);
            }
        }
    }
    let mut sinks = Sinks { flows: &mut flows, paths: &mut followed, health: &mut health, flow_ids: Vec::new() };
    let mut closed_early = 0;
    if merged {
        // One timeline: the captures' events interleaved by (corrected) time
        // through one correlator, so a packet seen by two hosts is one path.
        let mut correlator = Correlator::with_max_open(DEFAULT_WINDOW_NS, opts.max_open);
        let mut heads: Vec<Option<Item>> = readings.iter_mut().map(|r| r.next_item(opts, false, progress)).collect();
        loop {
            let next = heads.iter().enumerate().filter_map(|(i, h)| h.as_ref().map(|h| (h.ts(), i))).min();
            let Some((_, i)) = next else { break };
            let item = heads[i].take().expect("head chosen above");
            heads[i] = readings[i].next_item(opts, false, progress);
            item.feed(&mut correlator, &mut sinks);
            correlator.drain_closed(|path| fold_path(path, &mut sinks));
        }
        correlator.finish(|path| fold_path(path, &mut sinks));
        closed_early += correlator.closed_early();
    } else {
        for r in &mut readings {
            let mut correlator = Correlator::with_max_open(DEFAULT_WINDOW_NS, opts.max_open);
            if opts.threads != 1 {
                // Decode on all cores until the capture needs correlating
                // (a second capture point), then go on here. An ETL file is
                // read as if it only had packets at one point, as `netsh
                // trace capture=yes` writes them; at its first event that
                // needs correlating (a switch event, a pktmon packet) it is
                // read again from the start, every event correlated.
                r.etl_direct = r.etl && r.summary.path.as_os_str() != "-";
                let leftover = pipeline::run(r, opts, sinks.flows, progress);
                let restart = r.etl_direct && leftover.is_some();
                r.etl_direct = false;
                match restart.then(|| r.reopen(&mut open)) {
                    Some(Ok(fresh)) => {
                        *r = fresh;
                        *sinks.flows = FlowTable::with_limits(opts.max_flows, opts.in_memory);
                    }
                    Some(Err(e)) => {
                        sinks.health.notes.push(format!(
                            "{e}: could not read the capture again to correlate its events, so its packets before \
                             offset {} are counted but not followed",
                            r.capture.offset()
                        ));
                        leftover.into_iter().for_each(|item| item.feed(&mut correlator, &mut sinks));
                    }
                    None => leftover.into_iter().for_each(|item| item.feed(&mut correlator, &mut sinks)),
                }
            }
            if opts.threads != 1 && !r.done {
                correlate_staged(r, opts, &mut correlator, &mut sinks, progress);
            } else {
                while let Some(item) = r.next_item(opts, true, progress) {
                    item.feed(&mut correlator, &mut sinks);
                    correlator.drain_closed(|path| fold_path(path, &mut sinks));
                }
            }
            correlator.finish(|path| fold_path(path, &mut sinks));
            closed_early += correlator.closed_early();
        }
    }
    let beyond = sinks.flows.beyond_limit();
    if beyond.packets > 0 {
        sinks.health.notes.push(format!(
            "{} packets ({} bytes) belonged to flows past the first {}: they are counted in the captures but in no \
             flow (raise --max-flows, 0 for no limit)",
            beyond.packets, beyond.bytes, opts.max_flows
        ));
    }
    if let Some(why) = sinks.flows.spill_error().or(sinks.paths.spill_error()) {
        sinks.health.notes.push(format!(
            "{why}: what would have waited there was kept in memory (set TMPDIR to a writable directory)"
        ));
    }
    if closed_early > 0 {
        sinks.health.notes.push(format!(
            "{closed_early} packet paths were closed before their time window ended: more than {} were open at once \
             (a later hop of such a packet starts a new path; raise --max-open, 0 for no limit)",
            opts.max_open
        ));
    }
    for r in readings {
        captures.push(r.finish(&mut sinks));
    }
    captures.sort_by_key(|c| paths.iter().position(|p| *p == c.path));
    if followed.paths_not_listed > 0 {
        health.notes.push(format!(
            "{} more packet paths were followed but not listed (the report lists {} at most)",
            followed.paths_not_listed,
            crate::trace::summary::MAX_LISTED_PATHS
        ));
    }
    flows.finish_counting();
    Analysis { captures, flows, paths: followed, health }
}

/// Packets per capture used to estimate clock offsets.
const OFFSET_SAMPLE: usize = 200_000;
/// Packets two captures must share before their clocks are aligned.
const OFFSET_MIN_MATCHES: usize = 3;

/// How far each capture's clock is ahead of the first one's, estimated from
/// packets both saw (same NAT-invariant fingerprint, seen once in each): the
/// median of their time differences. 0 when they share too few packets.
fn clock_offsets(
    paths: &[PathBuf],
    opts: &AnalyzeOptions,
    open: &mut impl FnMut(&Path) -> Result<Capture, CaptureError>,
) -> Vec<i64> {
    let sample = |path: &Path, open: &mut dyn FnMut(&Path) -> Result<Capture, CaptureError>| {
        let mut seen: rustc_hash::FxHashMap<u64, Option<i64>> = rustc_hash::FxHashMap::default();
        if let Ok(mut c) = open(path) {
            let mut n = 0;
            while let Ok(Some(ev)) = c.next_event() {
                if let EventKind::Packet(p) = &ev.kind {
                    let d = packet::decode(p.link, p.data, &opts.decode);
                    if d.invariant != 0 {
                        // Seen twice in one capture: ambiguous, not used.
                        seen.entry(d.invariant).and_modify(|t| *t = None).or_insert(Some(ev.ts.0));
                    }
                    n += 1;
                    if n >= OFFSET_SAMPLE {
                        break;
                    }
                }
            }
        }
        seen
    };
    let base = sample(&paths[0], open);
    let mut offsets = vec![0i64];
    for path in &paths[1..] {
        let other = sample(path, open);
        let mut diffs: Vec<i64> =
            other.iter().filter_map(|(k, t)| Some(t.as_ref()? - base.get(k)?.as_ref()?)).collect();
        diffs.sort_unstable();
        // Packets crossing from the first capture's side to the other's add
        // their transit delay, those crossing back subtract it: the middle of
        // the inner half of the differences cancels it, as NTP does.
        let n = diffs.len();
        offsets.push(if n >= OFFSET_MIN_MATCHES { (diffs[n / 4] + diffs[(3 * n) / 4]) / 2 } else { 0 });
    }
    offsets
}

/// Items the reading stage of [`correlate_staged`] hands over at once: enough
/// that the channel costs nothing per item, few enough that a batch is still
/// in the cache when the correlating stage takes it.
const STAGE_BATCH: usize = 1024;
/// Batches read ahead of the correlating stage at most.
const STAGE_DEPTH: usize = 16;
/// How many items ahead of the one it feeds the correlating stage asks for
/// an item's cache lines.
const FEED_AHEAD: usize = 8;
/// Closed paths folded at a time while the correlating stage waits for the
/// reading one. Paths close in thousands when the oldest half of the open
/// ones is closed; folded at once, they took 15 ms, more than the reading
/// stage's queue holds, and then each stage waited for the other in turn.
/// Folding them when the correlating stage has nothing else to do, in the
/// same order, gives the same report.
const FOLD_WHILE_WAITING: usize = 32;

/// Items read ahead for the correlating stage, with the last progress report
/// made while reading them (the callback stays on the calling thread).
struct Batch {
    items: Vec<Item>,
    progress: Option<Progress>,
}

/// Correlates a capture's remaining events on two threads: a scoped thread
/// reads and decodes them (`next_item`) while the calling thread feeds them
/// to the correlator in the same order, so the results are those of one
/// thread. Items travel unboxed in batches, and the emptied batches go back
/// to be filled again, so that nothing is allocated on one thread and freed
/// on the other, which glibc's malloc makes slow.
fn correlate_staged(
    r: &mut Reading,
    opts: &AnalyzeOptions,
    correlator: &mut Correlator,
    sinks: &mut Sinks<'_>,
    progress: &mut dyn FnMut(Progress),
) {
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel(STAGE_DEPTH);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel();
        // If this thread panics, `full_rx` goes and the reader stops at its
        // next send; if the reader panics, `full_tx` goes and this loop ends.
        let reader = scope.spawn(move || read_stage(r, opts, &full_tx, &empty_rx));
        loop {
            let mut batch = match full_rx.try_recv() {
                Ok(batch) => batch,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                // The reader is behind: fold closed paths meanwhile.
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    if correlator.hand_out_some(FOLD_WHILE_WAITING, |path| fold_path(path, sinks)) {
                        continue;
                    }
                    match full_rx.recv() {
                        Ok(batch) => batch,
                        Err(_) => break,
                    }
                }
            };
            if let Some(p) = batch.progress {
                progress(p);
            }
            for (i, item) in batch.items.iter().enumerate() {
                // The reader wrote the items on the other core, and the
                // first read of each was this thread's longest wait: the
                // lines of the item FEED_AHEAD places on are asked for now.
                if let Some(ahead) = batch.items.get(i + FEED_AHEAD) {
                    crate::prefetch::object(ahead);
                }
                if matches!(item, Item::Direct { .. }) {
                    // It goes to the flow table itself: after every path
                    // closed before it, as with one thread.
                    correlator.drain_closed(|path| fold_path(path, sinks));
                }
                item.feed(correlator, sinks);
                correlator.drain_closed_leaving_some(|path| fold_path(path, sinks));
            }
            batch.items.clear();
            // The reader may be done and gone: the batch is then just freed.
            let _ = empty_tx.send(batch.items);
        }
        if let Err(panic) = reader.join() {
            std::panic::resume_unwind(panic);
        }
    });
}

/// The reading stage of [`correlate_staged`]: fills batches until the
/// capture ends or the correlating stage stops taking them.
fn read_stage(
    r: &mut Reading,
    opts: &AnalyzeOptions,
    full: &std::sync::mpsc::SyncSender<Batch>,
    empty: &std::sync::mpsc::Receiver<Vec<Item>>,
) {
    let mut last = None;
    loop {
        let mut items = empty.try_recv().unwrap_or_else(|_| Vec::with_capacity(STAGE_BATCH));
        while items.len() < STAGE_BATCH {
            match r.next_item(opts, true, &mut |p| last = Some(p)) {
                Some(item) => items.push(item),
                None => break,
            }
        }
        let ended = items.len() < STAGE_BATCH;
        if !items.is_empty() && full.send(Batch { items, progress: last.take() }).is_err() {
            return;
        }
        if ended {
            return;
        }
    }
}

/// One event of one capture, owned, ready for the correlator. Not boxed:
/// every packet becomes one, and an allocation each would cost more than
/// moving a few hundred bytes (and [`correlate_staged`] would free it on
/// another thread than the one that made it).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Item {
    /// A packet that needs no correlation (one capture point, no switch
    /// events): straight to the flow table.
    Direct {
        ts: Timestamp,
        point: (u32, u32),
        decoded: crate::packet::Decoded,
        frame_len: u32,
        same: Option<u64>,
    },
    Capture(CaptureInput),
    Nbl(Timestamp, u32, crate::event::NblEvent),
}

impl Item {
    fn ts(&self) -> Timestamp {
        match self {
            Item::Direct { ts, .. } | Item::Nbl(ts, _, _) => *ts,
            Item::Capture(c) => c.sighting.ts,
        }
    }

    /// Borrowed, not moved: a move copied the item out of its batch, and
    /// the first read of the copy waited on the batch's lines.
    pub(crate) fn feed(&self, correlator: &mut Correlator, sinks: &mut Sinks<'_>) {
        match self {
            Item::Direct { ts, point, decoded, frame_len, same } => {
                sinks.flows.observe(*ts, *point, decoded, *frame_len, *same)
            }
            Item::Capture(c) => correlator.push_capture(c),
            Item::Nbl(ts, cpu, ev) => correlator.push_nbl(*ts, *cpu, ev),
        }
    }
}

impl CaptureSummary {
    fn new(path: &Path) -> Self {
        CaptureSummary {
            path: path.to_path_buf(),
            format: None,
            packets: 0,
            events: 0,
            first_seen: None,
            last_seen: None,
            points: Vec::new(),
            bytes_read: 0,
            error: None,
            clock_offset_ns: None,
        }
    }
}

/// Reading one capture: its events become items, its counters its summary.
pub(crate) struct Reading {
    index: u32,
    capture: Capture,
    summary: CaptureSummary,
    stops: StopTally,
    names: Vec<Text>,
    /// Qualifies point names when several captures share one report.
    prefix: Option<String>,
    /// Subtracted from every timestamp: this capture's clock offset.
    offset_ns: i64,
    etl: bool,
    /// An ETL read on the chance that it only has packets at one point:
    /// they go straight to the flow table, and the first event that needs
    /// correlating sends the caller back to the start (see `analyze_with_progress`).
    etl_direct: bool,
    os_build: u32,
    done: bool,
    /// Address range of the capture's memory map: packets inside it can be
    /// handed to decoding threads as offsets instead of copies.
    map_span: Option<(usize, usize)>,
}

/// What reading gives next on the parallel path. Not boxed, like [`Item`].
#[allow(clippy::large_enum_variant)]
pub(crate) enum Next {
    /// A packet of a single-point capture, not yet decoded.
    Direct(pipeline::PacketRef),
    Item(Item),
}

impl Reading {
    fn new(index: u32, capture: Capture, summary: CaptureSummary, prefix: Option<String>, offset_ns: i64) -> Self {
        let etl = capture.format == Format::Etl;
        let os_build = capture.os_build();
        let map_span = capture.map().map(|m| (m.as_ptr() as usize, m.len()));
        Reading {
            index,
            capture,
            summary,
            stops: StopTally::default(),
            names: Vec::new(),
            prefix,
            offset_ns,
            etl,
            etl_direct: false,
            os_build,
            done: false,
            map_span,
        }
    }

    /// The next item, `None` at the end (or after the error that ended the
    /// capture, which is recorded). `direct_ok`: packets of a single-point
    /// capture may bypass the correlator.
    #[inline(always)]
    fn next_item(
        &mut self,
        opts: &AnalyzeOptions,
        direct_ok: bool,
        progress: &mut dyn FnMut(Progress),
    ) -> Option<Item> {
        match self.next(opts, direct_ok, None, progress)? {
            Next::Item(item) => Some(item),
            Next::Direct(_) => unreachable!("packets are only deferred when asked"),
        }
    }

    /// Like [`next_item`](Self::next_item), but a packet that needs no
    /// correlation comes back undecoded, for the decoding threads: located
    /// in the capture's memory map, or copied to the end of `arena`.
    pub(crate) fn next_deferred(
        &mut self,
        opts: &AnalyzeOptions,
        progress: &mut dyn FnMut(Progress),
        arena: &mut Vec<u8>,
    ) -> Option<Next> {
        self.next(opts, true, Some(arena), progress)
    }

    // Inlined into each caller: an item is some 330 bytes, and each
    // function it is returned through copies it once more.
    #[inline(always)]
    fn next(
        &mut self,
        opts: &AnalyzeOptions,
        direct_ok: bool,
        mut defer: Option<&mut Vec<u8>>,
        progress: &mut dyn FnMut(Progress),
    ) -> Option<Next> {
        loop {
            if self.done {
                return None;
            }
            if self.summary.events % PROGRESS_EVERY == 0 {
                progress(Progress { capture: self.index as usize, offset: self.capture.offset() });
            }
            let (event, points) = match self.capture.next_with_points() {
                Ok(Some(ev)) => ev,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.summary.error = Some(e.to_string());
                    self.done = true;
                    return None;
                }
            };
            let s = &mut self.summary;
            let ts = Timestamp(event.ts.0.saturating_sub(self.offset_ns));
            s.events += 1;
            s.first_seen = Some(s.first_seen.map_or(ts, |t| t.min(ts)));
            s.last_seen = Some(s.last_seen.map_or(ts, |t| t.max(ts)));
            let p = match event.kind {
                EventKind::Packet(p) => p,
                EventKind::Nbl(n) => return Some(Next::Item(Item::Nbl(ts, event.etw.map_or(0, |r| r.cpu), n))),
                EventKind::Pktmon(_) | EventKind::Other => continue,
            };
            s.packets += 1;
            let frame_len = p.orig_len.max(p.data.len() as u32);
            let point = (self.index, event.point);
            // One capture point and no switch events: every packet is seen
            // once, so it goes straight to the flow table. An ETL packet seen
            // by pktmon or at a switch port is one hop of a path.
            let plain = !self.etl
                || (self.etl_direct && p.meta.pktmon.is_none() && p.meta.switch_port.is_none() && !p.meta.dropped);
            let direct = direct_ok && plain && points.len() <= 1;
            if let Some(arena) = defer.as_mut().filter(|_| direct) {
                let at = p.data.as_ptr() as usize;
                let mapped = self.map_span.filter(|&(b, l)| at >= b && at + p.data.len() <= b + l);
                // Bytes outside the map (decompressed, reassembled, read
                // from a stream) travel with the batch.
                let start = match mapped {
                    Some((base, _)) => at - base,
                    None => {
                        arena.extend_from_slice(p.data);
                        arena.len() - p.data.len()
                    }
                };
                return Some(Next::Direct(pipeline::PacketRef {
                    ts,
                    point,
                    link: p.link,
                    start,
                    in_arena: mapped.is_none(),
                    len: p.data.len() as u32,
                    frame_len,
                    same: same_packet_key(&p.meta),
                    packet_no: s.packets,
                    offset: event.offset,
                }));
            }
            let decoded = packet::decode(p.link, p.data, &opts.decode);
            if let Some(stop) = decoded.stopped {
                self.stops.add(stop, s.packets, event.offset);
            }
            if direct {
                let same = same_packet_key(&p.meta);
                return Some(Next::Item(Item::Direct { ts, point, decoded, frame_len, same }));
            }
            while self.names.len() < points.len() {
                let name = &points[self.names.len()].name;
                self.names.push(match &self.prefix {
                    Some(pre) => Text::intern(&format!("{pre}/{name}")),
                    None => Text::intern(name),
                });
            }
            // Interned names: copying one into every packet costs nothing.
            let point_name = self
                .names
                .get(event.point as usize)
                .cloned()
                .unwrap_or_else(|| Text::from(format!("point {}", event.point)));
            let drop = p.meta.pktmon.filter(|_| p.meta.dropped).map(|a| {
                Box::new(DropNote {
                    by: point_name.to_string(),
                    reason: pktmon::drop_reason(a.drop_reason, self.os_build),
                    code: Some(a.drop_reason),
                })
            });
            return Some(Next::Item(Item::Capture(CaptureInput {
                sighting: Sighting { ts, point, decoded, frame_len },
                point_name,
                cpu: event.etw.map(|r| r.cpu),
                switch_nic: p.meta.switch_port.as_ref().map(|s| s.source_nic_name.clone()),
                same_packet: same_packet_key(&p.meta),
                appearance: p.meta.pktmon.is_some(),
                drop,
            })));
        }
    }

    /// Packets that a memory-mapped single-point pcapng hands out without
    /// parsing them, up to `max`, each with its packet number, counted here
    /// (their times are for the caller to fold in with `add_times`). 0 when
    /// the next block needs [`next_deferred`](Self::next_deferred).
    pub(crate) fn next_frames(
        &mut self,
        max: usize,
        progress: &mut dyn FnMut(Progress),
        mut each: impl FnMut(PacketFrame, u64),
    ) -> usize {
        // Several points: packets may need joining, which `next` decides.
        if self.done || self.etl || self.capture.points().len() > 1 {
            return 0;
        }
        let before = self.summary.packets;
        let mut packet_no = before;
        let got = self.capture.next_packet_frames(max, |frame| {
            packet_no += 1;
            each(frame, packet_no)
        }) as u64;
        let s = &mut self.summary;
        if (s.events + got) / PROGRESS_EVERY != s.events / PROGRESS_EVERY {
            progress(Progress { capture: self.index as usize, offset: self.capture.offset() });
        }
        s.events += got;
        s.packets += got;
        got as usize
    }

    /// Which capture this is and the clock offset its packet times lose,
    /// for the threads that finish reading its frames.
    pub(crate) fn frame_context(&self) -> (u32, i64) {
        (self.index, self.offset_ns)
    }

    /// Folds the times of packets read elsewhere into the summary.
    pub(crate) fn add_times(&mut self, first: Timestamp, last: Timestamp) {
        let s = &mut self.summary;
        s.first_seen = Some(s.first_seen.map_or(first, |t| t.min(first)));
        s.last_seen = Some(s.last_seen.map_or(last, |t| t.max(last)));
    }

    /// The same capture opened again, nothing read yet.
    fn reopen(&self, open: &mut impl FnMut(&Path) -> Result<Capture, CaptureError>) -> Result<Reading, CaptureError> {
        let path = &self.summary.path;
        let capture = open(path)?;
        let mut summary = CaptureSummary::new(path);
        summary.clock_offset_ns = self.summary.clock_offset_ns;
        summary.format = Some(capture.format);
        Ok(Reading::new(self.index, capture, summary, self.prefix.clone(), self.offset_ns))
    }

    /// The map from `offset` on is still being read by decoding threads.
    pub(crate) fn keep_mapped_from(&mut self, offset: u64) {
        self.capture.keep_mapped_from(offset)
    }

    pub(crate) fn map(&self) -> Option<Arc<memmap2::Mmap>> {
        self.capture.map().cloned()
    }

    pub(crate) fn add_stops(&mut self, stops: StopTally) {
        self.stops.merge(stops);
    }

    /// Health and point names once the capture is read.
    fn finish(mut self, sinks: &mut Sinks<'_>) -> CaptureSummary {
        if let Some(e) = &self.summary.error {
            sinks.health.errors.push(e.clone());
        }
        // pktmon names its components at the end of the file: name the hops.
        let prefix = self.prefix.clone();
        let renames: Vec<(Text, String)> = self
            .names
            .iter()
            .zip(self.capture.points())
            .map(|(n, p)| {
                (n.clone(), prefix.as_ref().map_or_else(|| p.name.clone(), |pre| format!("{pre}/{}", p.name)))
            })
            .filter(|(n, p)| n.as_str() != p)
            .collect();
        sinks.paths.rename_points(&renames);
        for w in self.capture.take_warnings() {
            sinks.health.damage.push(w);
        }
        self.summary.points = self.capture.points().to_vec();
        self.summary.bytes_read = self.capture.offset();
        let losses = self.capture.losses();
        sinks.health.events_lost += losses.events_lost;
        sinks.health.buffers_lost += losses.buffers_lost;
        sinks.health.bytes_skipped += losses.bytes_skipped;
        let late = self.capture.late_records();
        if late > 0 {
            sinks.health.notes.push(format!(
                "{}: {late} records arrived behind the time-merge window and were read out of time order",
                self.capture.path.display()
            ));
        }
        let stops = std::mem::take(&mut self.stops);
        sinks.health.notes.extend(stops.into_notes(&self.capture.path));
        self.summary
    }
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
pub(crate) struct Sinks<'a> {
    pub(crate) flows: &'a mut FlowTable,
    pub(crate) paths: &'a mut Summary,
    pub(crate) health: &'a mut Health,
    /// The flows of the path being folded (one list for every path).
    pub(crate) flow_ids: Vec<(crate::packet::Tuple, u64)>,
}

fn fold_path(path: &crate::trace::PacketPath, sinks: &mut Sinks<'_>) {
    sinks.flows.observe_packet_into(&path.sightings, &mut sinks.flow_ids);
    sinks.paths.add(path, &sinks.flow_ids);
}
