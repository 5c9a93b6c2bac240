//! Decoding a single-point capture on every core.
//!
//! A pcap or pcapng taken at one point needs no correlation: each packet
//! is decoded and counted in its flow. Reading (walking the blocks of the
//! memory-mapped file) stays on the calling thread and hands out batches
//! of packet references, the decoding runs on a rayon pool, and one
//! thread applies the decoded batches to the flow table strictly in file
//! order, so the flow table has one owner, needs no lock, and ends exactly
//! as a single-threaded run leaves it.
//!
//! Batches are recycled through a bounded channel: at most `IN_FLIGHT` of
//! them exist, so memory does not depend on the size of the capture.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, sync_channel};
use std::sync::Arc;

use crate::analyze::{AnalyzeOptions, Item, Next, Progress, Reading, StopTally};
use crate::event::LinkType;
use crate::flow::{FlowTable, HashedKey};
use crate::packet::{self, DecodeConfig, Decoded};
use crate::time::Timestamp;

/// Packets per batch: large enough that handing a batch between threads
/// costs nothing per packet, small enough to keep every thread busy.
const BATCH: usize = 4096;
/// Batches that exist at once (being filled, decoded or applied).
const IN_FLIGHT: usize = 8;
/// How many packets ahead a decoding thread asks for packet headers, and
/// how many bytes of them (Ethernet, IP, UDP, VXLAN and inner headers).
const PREFETCH_PACKETS: usize = 8;
const HEADER_BYTES: usize = 128;

/// A packet located in the capture's memory map, not yet decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PacketRef {
    pub ts: Timestamp,
    pub point: (u32, u32),
    pub link: LinkType,
    /// Offset of the packet bytes in the map.
    pub start: usize,
    pub len: u32,
    pub frame_len: u32,
    pub same: Option<u64>,
    /// Packet number and file offset, for notes on packets cut short.
    pub packet_no: u64,
    pub offset: u64,
}

#[derive(Default)]
struct Batch {
    refs: Vec<PacketRef>,
    decoded: Vec<Decoded>,
    keys: Vec<Option<HashedKey>>,
}

/// Reads `reading` to its end, or to its first item that needs the
/// correlator (returned), counting every packet before it in `flows`.
pub(crate) fn run(
    reading: &mut Reading,
    opts: &AnalyzeOptions,
    flows: &mut FlowTable,
    progress: &mut dyn FnMut(Progress),
) -> Option<Item> {
    let map = reading.map()?;
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().ok()?;
    // One capture point: nothing to join, so no sighting hashes.
    let cfg = Arc::new(DecodeConfig { hashes: false, ..opts.decode.clone() });
    let (free_tx, free_rx) = sync_channel::<Batch>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        let _ = free_tx.send(Batch::default());
    }
    let (done_tx, done_rx) = channel::<(u64, Batch)>();
    std::thread::scope(|scope| {
        let applier = scope.spawn(move || {
            let mut stops = StopTally::default();
            let mut waiting = BTreeMap::new();
            let mut next = 0u64;
            for (seq, batch) in done_rx {
                waiting.insert(seq, batch);
                while let Some(mut batch) = waiting.remove(&next) {
                    for ((r, d), key) in batch.refs.iter().zip(&batch.decoded).zip(&batch.keys) {
                        if let Some(stop) = d.stopped {
                            stops.add(stop, r.packet_no, r.offset);
                        }
                        flows.observe_keyed(r.ts, r.point, d, *key, r.frame_len, r.same);
                    }
                    batch.refs.clear();
                    batch.decoded.clear();
                    batch.keys.clear();
                    // The reader may have stopped taking batches; fine.
                    let _ = free_tx.send(batch);
                    next += 1;
                }
            }
            stops
        });
        let mut leftover = None;
        let mut seq = 0;
        while let Ok(mut batch) = free_rx.recv() {
            let mut ended = false;
            while batch.refs.len() < BATCH {
                match reading.next_deferred(opts, progress) {
                    Some(Next::Direct(r)) => batch.refs.push(r),
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
            if !batch.refs.is_empty() {
                let (map, cfg, done) = (map.clone(), cfg.clone(), done_tx.clone());
                let this = seq;
                pool.spawn(move || {
                    for (i, r) in batch.refs.iter().enumerate() {
                        // The headers of a packet a few places ahead: this
                        // thread is usually the first to read them.
                        if let Some(ahead) = batch.refs.get(i + PREFETCH_PACKETS) {
                            crate::prefetch::range(&map, ahead.start, ahead.start + HEADER_BYTES);
                        }
                        let data = map.get(r.start..r.start + r.len as usize).unwrap_or_default();
                        let decoded = packet::decode(r.link, data, &cfg);
                        batch.keys.push(decoded.inner.map(|inner| HashedKey::of(&decoded, inner)));
                        batch.decoded.push(decoded);
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
        let stops = applier.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        reading.add_stops(stops);
        leftover
    })
}
