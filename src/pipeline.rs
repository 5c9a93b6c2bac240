//! Decoding a single-point capture on every core.
//!
//! A capture taken at one point needs no correlation: each packet is
//! decoded and counted in its flow. Reading stays on the calling thread
//! and hands out batches of packets: for a memory-mapped pcapng only the
//! block framing is checked there (`PcapNgReader::next_packet_frames`),
//! other packets are located in the map or copied into the batch (ETL,
//! gzip, streams). A rayon pool finishes reading and decodes them, and one
//! thread applies the decoded batches to the flow table strictly in file
//! order, so the flow table has one owner, needs no lock, and ends exactly
//! as a single-threaded run leaves it.
//!
//! Batches are recycled through a bounded channel: at most `IN_FLIGHT` of
//! them exist, each of at most `BATCH` packets and `BATCH_BYTES` of file,
//! so memory does not depend on the size of the capture.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::Arc;

use crate::analyze::{AnalyzeOptions, Item, Next, Progress, Reading, StopTally};
use crate::capture::pcapng::PacketFrame;
use crate::event::LinkType;
use crate::flow::{FlowTable, HashedKey};
use crate::packet::{self, DecodeConfig, Decoded};
use crate::time::Timestamp;

/// Packets per batch: large enough that handing a batch between threads
/// costs nothing per packet, small enough to keep every thread busy.
const BATCH: usize = 1024;
/// A batch also ends once it spans this much of the file, which bounds the
/// mapped pages that must stay resident for the batches in flight.
const BATCH_BYTES: usize = 2 << 20;
/// Packets the reader walks between checks of the batch's size.
const WALK_STEP: usize = 256;
/// Batches that exist at once (being filled, decoded or applied).
const IN_FLIGHT: usize = 8;
/// How many packets ahead a decoding thread asks for packet headers, and
/// how many bytes of them (Ethernet, IP, UDP, VXLAN and inner headers).
const PREFETCH_PACKETS: usize = 8;
const HEADER_BYTES: usize = 128;
/// How many packets ahead the applying thread asks for flow-table memory.
const APPLY_AHEAD: usize = 16;

/// A packet located in the capture's memory map or in a batch, not yet decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketRef {
    pub ts: Timestamp,
    pub point: (u32, u32),
    pub link: LinkType,
    /// Offset of the packet bytes in the map, or in the batch's arena.
    pub start: usize,
    pub in_arena: bool,
    pub len: u32,
    pub frame_len: u32,
    pub same: Option<u64>,
    /// Packet number and file offset, for notes on packets cut short.
    pub packet_no: u64,
    pub offset: u64,
}

/// A packet handed to the decoding threads: located by the reader, or a
/// pcapng block whose framing alone was checked (the usual case), which
/// the decoding thread locates first.
enum Pending {
    Located(PacketRef),
    Frame { frame: PacketFrame, packet_no: u64 },
}

impl Pending {
    /// Where the packet bytes start: in the arena, or in the map.
    fn data_start(&self) -> (bool, usize) {
        match self {
            Pending::Located(r) => (r.in_arena, r.start),
            Pending::Frame { frame, .. } => (false, frame.data as usize),
        }
    }

    fn file_offset(&self) -> u64 {
        match self {
            Pending::Located(r) => r.offset,
            Pending::Frame { frame, .. } => frame.offset,
        }
    }
}

#[derive(Default)]
struct Batch {
    pending: Vec<Pending>,
    /// Bytes of packets that are not in a memory map.
    arena: Vec<u8>,
    refs: Vec<PacketRef>,
    decoded: Vec<Decoded>,
    keys: Vec<Option<HashedKey>>,
}

/// The first and last time of the packets applied.
#[derive(Default)]
struct Span(Option<(Timestamp, Timestamp)>);

impl Span {
    fn add(&mut self, ts: Timestamp) {
        self.0 = Some(self.0.map_or((ts, ts), |(first, last)| (first.min(ts), last.max(ts))));
    }
}

/// Reads `reading` to its end, or to its first item that needs the
/// correlator (returned), counting every packet before it in `flows`.
pub(crate) fn run(
    reading: &mut Reading,
    opts: &AnalyzeOptions,
    flows: &mut FlowTable,
    progress: &mut dyn FnMut(Progress),
) -> Option<Item> {
    let map = reading.map();
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().ok()?;
    // One capture point: nothing to join, so no sighting hashes.
    let cfg = Arc::new(DecodeConfig { hashes: false, ..opts.decode.clone() });
    let (capture, offset_ns) = reading.frame_context();
    let (free_tx, free_rx) = sync_channel::<Batch>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        let _ = free_tx.send(Batch::default());
    }
    let (done_tx, done_rx) = channel::<(u64, Batch)>();
    // Batches applied so far: the ones before it read the map no more.
    let applied = &AtomicU64::new(0);
    std::thread::scope(|scope| {
        let applier = scope.spawn(move || {
            let mut stops = StopTally::default();
            let mut span = Span::default();
            let mut waiting = BTreeMap::new();
            let mut next = 0u64;
            for (seq, batch) in done_rx {
                waiting.insert(seq, batch);
                while let Some(mut batch) = waiting.remove(&next) {
                    for (i, ((r, d), key)) in batch.refs.iter().zip(&batch.decoded).zip(&batch.keys).enumerate() {
                        // Ask for what packets further on will touch: their
                        // decoded headers (written on another core), their
                        // index slots, then their flows.
                        if let Some(ahead) = batch.decoded.get(i + APPLY_AHEAD) {
                            crate::prefetch::object(ahead);
                            crate::prefetch::object(&batch.keys[i + APPLY_AHEAD]);
                        }
                        if let Some(Some(ahead)) = batch.keys.get(i + APPLY_AHEAD) {
                            flows.prefetch_slot(ahead);
                        }
                        if let Some(Some(ahead)) = batch.keys.get(i + APPLY_AHEAD / 2) {
                            flows.prefetch_flow(ahead);
                        }
                        if let Some(stop) = d.stopped {
                            stops.add(stop, r.packet_no, r.offset);
                        }
                        flows.observe_keyed(r.ts, r.point, d, *key, r.frame_len, r.same);
                        span.add(r.ts);
                    }
                    batch.pending.clear();
                    batch.arena.clear();
                    batch.refs.clear();
                    batch.decoded.clear();
                    batch.keys.clear();
                    next += 1;
                    applied.store(next, Ordering::Release);
                    // The reader may have stopped taking batches; fine.
                    let _ = free_tx.send(batch);
                }
            }
            (stops, span)
        });
        let mut leftover = None;
        let mut seq = 0;
        // Where each batch not yet applied starts in the map, oldest first.
        let mut unapplied = VecDeque::new();
        while let Ok(mut batch) = free_rx.recv() {
            let applied = applied.load(Ordering::Acquire);
            while unapplied.front().is_some_and(|&(s, _)| s < applied) {
                unapplied.pop_front();
            }
            reading.keep_mapped_from(unapplied.front().map_or(u64::MAX, |&(_, at)| at));
            let mut ended = false;
            let full = |b: &Batch| {
                let span = match (b.pending.first(), b.pending.last()) {
                    (Some(first), Some(last)) => last.file_offset().saturating_sub(first.file_offset()),
                    _ => 0,
                };
                b.pending.len() >= BATCH || span >= BATCH_BYTES as u64 || b.arena.len() >= BATCH_BYTES
            };
            while !full(&batch) {
                let room = (BATCH - batch.pending.len()).min(WALK_STEP);
                let pending = &mut batch.pending;
                let framed = reading
                    .next_frames(room, progress, |frame, packet_no| pending.push(Pending::Frame { frame, packet_no }));
                if framed > 0 {
                    continue;
                }
                match reading.next_deferred(opts, progress, &mut batch.arena) {
                    Some(Next::Direct(r)) => batch.pending.push(Pending::Located(r)),
                    Some(Next::Item(item)) => {
                        leftover = Some(item);
                        break;
                    }
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            if let Some(first) = batch.pending.first() {
                unapplied.push_back((seq, first.file_offset()));
                let (map, cfg, done) = (map.clone(), cfg.clone(), done_tx.clone());
                let this = seq;
                pool.spawn(move || {
                    let mapped = map.as_deref().map_or(&[][..], |m| &m[..]);
                    for (i, pending) in batch.pending.iter().enumerate() {
                        // The headers of a packet a few places ahead: this
                        // thread is usually the first to read them.
                        if let Some(ahead) = batch.pending.get(i + PREFETCH_PACKETS) {
                            let (in_arena, start) = ahead.data_start();
                            let bytes = if in_arena { &batch.arena[..] } else { mapped };
                            crate::prefetch::range(bytes, start, start + HEADER_BYTES);
                        }
                        let r = match *pending {
                            Pending::Located(r) => r,
                            Pending::Frame { frame, packet_no } => locate(frame, packet_no, capture, offset_ns),
                        };
                        let bytes = if r.in_arena { &batch.arena[..] } else { mapped };
                        let data = bytes.get(r.start..r.start + r.len as usize).unwrap_or_default();
                        let decoded = packet::decode(r.link, data, &cfg);
                        batch.keys.push(decoded.inner.map(|inner| HashedKey::of(&decoded, inner)));
                        batch.decoded.push(decoded);
                        batch.refs.push(r);
                    }
                    let _ = done.send((this, batch));
                });
                seq += 1;
            }
            if ended || leftover.is_some() {
                break;
            }
        }
        drop(done_tx);
        let (stops, span) = applier.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        reading.add_stops(stops);
        // Everything handed out is applied.
        reading.keep_mapped_from(u64::MAX);
        if let Some((first, last)) = span.0 {
            reading.add_times(first, last);
        }
        leftover
    })
}

/// What the reader would have made of a checked pcapng block: the packet
/// number and time as `Reading::next` gives them, its bytes by offset.
fn locate(frame: PacketFrame, packet_no: u64, capture: u32, offset_ns: i64) -> PacketRef {
    PacketRef {
        ts: Timestamp(frame.clock.timestamp(frame.ticks).0.saturating_sub(offset_ns)),
        point: (capture, frame.point),
        link: frame.link,
        start: frame.data as usize,
        in_arena: false,
        len: frame.caplen,
        frame_len: frame.orig_len.max(frame.caplen),
        // Only ETL packets carry pktmon's packet identity.
        same: None,
        packet_no,
        offset: frame.offset,
    }
}
