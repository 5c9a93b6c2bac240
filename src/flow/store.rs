//! Where the flow table keeps its flows: in chunks, in the order the flows
//! were first seen, with only the most recently used chunks in memory.
//!
//! Most flows of a long capture are over long before it ends, yet every
//! one of them is listed in the report. So when more than a budget of
//! chunks are in memory, the least recently used is written to a temporary
//! file and freed, and read back if a packet of one of its flows turns up
//! after all. Memory then follows the flows that are still going, not the
//! length of the capture.
//!
//! A capture whose going flows do not fit the budget would read chunks
//! back all the time; when that happens often, the budget doubles.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;

use super::encode::{read_flow, write_flow, Reader};
use super::Flow;

/// Flows per chunk: what is written out or read back at once.
pub const CHUNK_FLOWS: usize = 1024;

/// Flows kept in memory by default before chunks go to the temporary
/// file: 16 chunks, about 5 MB.
pub const DEFAULT_FLOWS_IN_MEMORY: usize = 16 * CHUNK_FLOWS;

/// Look-ups per window in which reads from the file are counted.
const WINDOW_LOOKUPS: u64 = 1 << 16;
/// Reads back in one window past which the budget doubles.
const WINDOW_READS: u32 = 16;

/// Where a written chunk lies: in the file, or in memory if writing to
/// the file failed.
#[derive(Debug, Clone, Copy)]
struct Slot {
    at: u64,
    /// Bytes reserved there: a chunk written again after more packets
    /// usually fits its old place.
    room: u64,
    in_memory: bool,
}

enum Chunk {
    InMemory {
        flows: Vec<Flow>,
        /// The store's clock when it was last looked up.
        used: u64,
        /// Its place in the file if it was there before.
        slot: Option<Slot>,
    },
    Written {
        slot: Slot,
        len: u64,
    },
}

pub struct FlowStore {
    chunks: Vec<Chunk>,
    /// Numbers of the chunks in memory.
    in_memory: Vec<usize>,
    len: usize,
    chunk_flows: usize,
    /// Chunks kept in memory at most; 0 for all of them.
    budget: usize,
    clock: u64,
    window_start: u64,
    window_reads: u32,
    file: Option<File>,
    file_end: u64,
    /// Chunks that could not go to the file.
    memory: Vec<u8>,
    /// Why the file could not be made or written, once.
    file_error: Option<String>,
    scratch: Vec<u8>,
}

impl Default for FlowStore {
    fn default() -> Self {
        Self::new(DEFAULT_FLOWS_IN_MEMORY)
    }
}

impl FlowStore {
    /// A store that keeps about `flows_in_memory` flows in memory (0: all).
    pub fn new(flows_in_memory: usize) -> Self {
        Self::with_chunks(CHUNK_FLOWS, flows_in_memory.div_ceil(CHUNK_FLOWS))
    }

    fn with_chunks(chunk_flows: usize, budget: usize) -> Self {
        FlowStore {
            chunks: Vec::new(),
            in_memory: Vec::new(),
            len: 0,
            chunk_flows,
            budget,
            clock: 0,
            window_start: 0,
            window_reads: 0,
            file: None,
            file_end: 0,
            memory: Vec::new(),
            file_error: None,
            scratch: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Why flows are kept in memory that were meant for the temporary
    /// file, if they are.
    pub fn file_error(&self) -> Option<&str> {
        self.file_error.as_deref()
    }

    pub fn push(&mut self, flow: Flow) {
        if self.len % self.chunk_flows == 0 {
            self.make_room();
            self.in_memory.push(self.chunks.len());
            let flows = Vec::with_capacity(self.chunk_flows);
            self.chunks.push(Chunk::InMemory { flows, used: self.clock, slot: None });
        }
        // The last chunk is never written out (see `make_room`).
        if let Some(Chunk::InMemory { flows, .. }) = self.chunks.last_mut() {
            flows.push(flow);
            self.len += 1;
        }
    }

    /// Flow `i` (`i < len`), read back from the file if it was there.
    pub fn get_mut(&mut self, i: usize) -> &mut Flow {
        let k = i / self.chunk_flows;
        self.clock += 1;
        if self.clock - self.window_start >= WINDOW_LOOKUPS {
            self.window_start = self.clock;
            self.window_reads = 0;
        }
        if matches!(self.chunks[k], Chunk::Written { .. }) {
            self.read_back(k);
        }
        match &mut self.chunks[k] {
            Chunk::InMemory { flows, used, .. } => {
                *used = self.clock;
                &mut flows[i % self.chunk_flows]
            }
            Chunk::Written { .. } => unreachable!("chunk {k} was just read back"),
        }
    }

    /// Flow `i` if it is in memory: for prefetching, which must not read
    /// the file.
    pub fn in_memory(&self, i: usize) -> Option<&Flow> {
        match self.chunks.get(i / self.chunk_flows)? {
            Chunk::InMemory { flows, .. } => flows.get(i % self.chunk_flows),
            Chunk::Written { .. } => None,
        }
    }

    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// The flows of chunk `k`, in order: borrowed if in memory, read from
    /// the file otherwise (and not kept).
    pub fn chunk(&self, k: usize) -> Cow<'_, [Flow]> {
        match &self.chunks[k] {
            Chunk::InMemory { flows, .. } => Cow::Borrowed(flows),
            Chunk::Written { slot, len } => Cow::Owned(self.read(*slot, *len)),
        }
    }

    /// Every flow, in order, each chunk in memory in turn.
    pub fn for_each(&self, mut f: impl FnMut(&Flow)) {
        for k in 0..self.chunk_count() {
            self.chunk(k).iter().for_each(&mut f);
        }
    }

    fn read_back(&mut self, k: usize) {
        self.window_reads += 1;
        if self.window_reads > WINDOW_READS && self.budget != 0 {
            // The going flows do not fit: reading them back over and over
            // would cost more than the memory saved.
            self.budget *= 2;
            self.window_reads = 0;
        }
        self.make_room();
        let Chunk::Written { slot, len } = self.chunks[k] else { return };
        let flows = self.read(slot, len);
        self.chunks[k] = Chunk::InMemory { flows, used: self.clock, slot: Some(slot) };
        self.in_memory.push(k);
    }

    /// Writes out least recently used chunks until one more fits the
    /// budget. The last chunk, where new flows go, stays.
    fn make_room(&mut self) {
        while self.budget != 0 && self.in_memory.len() >= self.budget {
            let last = self.chunks.len().saturating_sub(1);
            let oldest =
                self.in_memory.iter().enumerate().filter(|&(_, &k)| k != last).min_by_key(|&(_, &k)| {
                    match self.chunks[k] {
                        Chunk::InMemory { used, .. } => used,
                        Chunk::Written { .. } => u64::MAX,
                    }
                });
            let Some((at, &k)) = oldest else { return };
            self.in_memory.swap_remove(at);
            self.write_out(k);
        }
    }

    fn write_out(&mut self, k: usize) {
        let Chunk::InMemory { flows, slot, .. } = &self.chunks[k] else { return };
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        for flow in flows {
            write_flow(&mut bytes, flow);
        }
        let len = bytes.len() as u64;
        let slot = match *slot {
            Some(s) if s.room >= len => s,
            _ => self.reserve(len + len / 4),
        };
        let slot = self.put(slot, &bytes);
        self.scratch = bytes;
        self.chunks[k] = Chunk::Written { slot, len };
    }

    /// A new place for `room` bytes: at the end of the file (made when
    /// first needed), or of the memory if there is no file.
    fn reserve(&mut self, room: u64) -> Slot {
        if self.file.is_none() && self.file_error.is_none() {
            match tempfile::tempfile() {
                Ok(f) => self.file = Some(f),
                Err(e) => self.file_error = Some(format!("could not make a temporary file: {e}")),
            }
        }
        if self.file.is_some() {
            let at = self.file_end;
            self.file_end += room;
            Slot { at, room, in_memory: false }
        } else {
            let at = self.memory.len() as u64;
            self.memory.resize(self.memory.len() + room as usize, 0);
            Slot { at, room, in_memory: true }
        }
    }

    /// Writes `bytes` at `slot`; where the file fails, into memory instead.
    fn put(&mut self, slot: Slot, bytes: &[u8]) -> Slot {
        if !slot.in_memory {
            if let Some(file) = &self.file {
                match file.write_all_at(bytes, slot.at) {
                    Ok(()) => return slot,
                    Err(e) => {
                        self.file_error = Some(format!("could not write the temporary file: {e}"));
                        self.file = None;
                    }
                }
            }
            let moved = self.reserve(slot.room);
            return self.put(moved, bytes);
        }
        let at = slot.at as usize;
        self.memory[at..at + bytes.len()].copy_from_slice(bytes);
        slot
    }

    fn read(&self, slot: Slot, len: u64) -> Vec<Flow> {
        let mut owned = Vec::new();
        let bytes: &[u8] = if slot.in_memory {
            &self.memory[slot.at as usize..(slot.at + len) as usize]
        } else {
            owned.resize(len as usize, 0);
            let file = self.file.as_ref().expect("chunks are written to the file only while there is one");
            if let Err(e) = file.read_exact_at(&mut owned, slot.at) {
                // Our own file, just written: only a failing disk gets here.
                panic!("could not read back flows from the temporary file: {e}");
            }
            &owned
        };
        let mut reader = Reader::new(bytes);
        let mut flows = Vec::with_capacity(self.chunk_flows);
        while !reader.is_empty() {
            match read_flow(&mut reader) {
                Some(flow) => flows.push(flow),
                None => panic!("flows read back from the temporary file are damaged"),
            }
        }
        flows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{Sighting, TcpTracker, RECENT_SIGHTINGS};
    use crate::packet::{Proto, TunnelHop, TunnelKind, Tuple};
    use crate::time::Timestamp;

    fn flow(i: u64) -> Flow {
        let tuple = |a: u8, p: u16| Tuple {
            proto: if i % 3 == 0 { Proto::Ip(132) } else { Proto::Udp },
            src: [10, 0, a, (i % 250) as u8].into(),
            dst: std::net::Ipv6Addr::LOCALHOST.into(),
            src_port: p,
            dst_port: 53,
        };
        let hop = TunnelHop { kind: TunnelKind::Geneve, vni: i as u32, outer: tuple(9, 6081) };
        Flow {
            id: i + 1,
            fwd: tuple(1, i as u16),
            tunnels_fwd: vec![hop; (i % 3) as usize],
            tunnels_rev: (i % 2 == 0).then(|| vec![hop]),
            packets: [i, 1],
            bytes: [i * 100, 7],
            inner_ip_bytes: [i * 90, 3],
            first_seen: Timestamp(i as i64),
            last_seen: Timestamp(i as i64 * 2),
            tcp: (i % 4 == 1).then(TcpTracker::new),
            sightings: i,
            recent: (i % 5 == 0)
                .then(|| Box::new([Sighting { fingerprint: i, point: (1, 2), ts: Timestamp(-5) }; RECENT_SIGHTINGS])),
            recent_next: (i % 8) as usize,
        }
    }

    fn same(a: &Flow, b: &Flow) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn flows_read_back_are_the_flows_written() {
        let mut store = FlowStore::with_chunks(4, 2);
        let mut model: Vec<Flow> = Vec::new();
        for i in 0..60 {
            store.push(flow(i));
            model.push(flow(i));
            // Touch an old flow now and then: it comes back from the file.
            let old = (i as usize * 7) % model.len();
            store.get_mut(old).packets[1] += 1;
            model[old].packets[1] += 1;
            if i % 9 == 0 {
                store.get_mut(old).tunnels_rev = Some(vec![]);
                model[old].tunnels_rev = Some(vec![]);
            }
        }
        assert!(store.in_memory.len() <= store.budget, "{} chunks in memory", store.in_memory.len());
        assert!(store.file.is_some() || store.file_error.is_some());
        assert_eq!(store.len(), model.len());
        let mut seen = 0;
        store.for_each(|f| {
            assert!(same(f, &model[seen]), "flow {seen}: {f:?}");
            seen += 1;
        });
        assert_eq!(seen, model.len());
        for (i, m) in model.iter().enumerate() {
            assert!(same(store.get_mut(i), m), "flow {i}");
        }
    }

    #[test]
    fn a_budget_of_zero_keeps_everything_in_memory() {
        let mut store = FlowStore::with_chunks(4, 0);
        (0..40).for_each(|i| store.push(flow(i)));
        assert_eq!(store.in_memory.len(), 10);
        assert!(store.file.is_none());
        assert!((0..40).all(|i| store.in_memory(i).is_some()));
    }

    #[test]
    fn reading_back_often_doubles_the_budget() {
        let mut store = FlowStore::with_chunks(2, 2);
        (0..40).for_each(|i| store.push(flow(i)));
        // Round-robin over every chunk: each look-up reads one back.
        for round in 0..3 {
            for i in (0..40).step_by(2) {
                store.get_mut(i).sightings += round;
            }
        }
        assert!(store.budget >= 16, "budget {}", store.budget);
    }

    #[test]
    fn chunks_go_to_memory_when_the_file_fails() {
        let mut store = FlowStore::with_chunks(4, 1);
        store.file_error = Some("no file here".into());
        (0..20).for_each(|i| store.push(flow(i)));
        assert!(store.file.is_none() && !store.memory.is_empty());
        let mut n = 0;
        store.for_each(|f| {
            assert!(same(f, &flow(n)));
            n += 1;
        });
        assert_eq!(n, 20);
    }
}
