//! A list kept in chunks, with only the most recently used chunks in
//! memory.
//!
//! Most flows of a long capture are over long before it ends, yet every
//! one of them is listed in the report; so are its NAT mappings and drops.
//! So when more than a budget of chunks are in memory, the least recently
//! used is written to a temporary file and freed, and read back if a packet
//! of one of its flows turns up after all. Memory then follows what is
//! still going on, not the length of the capture.
//!
//! A capture whose going flows do not fit the budget would read chunks
//! back all the time; when that happens often, the budget doubles.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;

use super::codec::{Reader, Spill, Writer};

/// Items per chunk: what is written out or read back at once.
pub const CHUNK_LEN: usize = 1024;

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

enum Chunk<T> {
    InMemory {
        items: Vec<T>,
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

pub struct ChunkStore<T> {
    chunks: Vec<Chunk<T>>,
    /// Numbers of the chunks in memory.
    in_memory: Vec<usize>,
    len: usize,
    /// Items per chunk, a power of two: item `i` is in chunk
    /// `i >> chunk_shift`, the look-up every packet makes.
    chunk_shift: u32,
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

impl<T> std::fmt::Debug for ChunkStore<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChunkStore {{ len: {}, in memory: {} chunks }}", self.len, self.in_memory.len())
    }
}

impl<T: Spill> Default for ChunkStore<T> {
    fn default() -> Self {
        Self::new(0)
    }
}

impl<T: Spill> ChunkStore<T> {
    /// A store that keeps about `in_memory` items in memory (0: all).
    pub fn new(in_memory: usize) -> Self {
        Self::with_chunks(CHUNK_LEN, in_memory.div_ceil(CHUNK_LEN))
    }

    /// A store of chunks of `chunk_len` items (rounded up to a power of
    /// two) that keeps `budget` chunks in memory (0: all):
    /// [`new`](Self::new) with other chunks, for tests that want many.
    pub fn with_chunks(chunk_len: usize, budget: usize) -> Self {
        ChunkStore {
            chunks: Vec::new(),
            in_memory: Vec::new(),
            len: 0,
            chunk_shift: chunk_len.max(1).next_power_of_two().trailing_zeros(),
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

    /// Why chunks meant for the temporary file are in memory, if they are.
    pub fn file_error(&self) -> Option<&str> {
        self.file_error.as_deref()
    }

    pub fn push(&mut self, item: T) {
        if self.len.trailing_zeros() >= self.chunk_shift {
            self.make_room();
            self.in_memory.push(self.chunks.len());
            let items = Vec::with_capacity(self.chunk_len());
            self.chunks.push(Chunk::InMemory { items, used: self.clock, slot: None });
        }
        // The last chunk is never written out (see `make_room`).
        if let Some(Chunk::InMemory { items, .. }) = self.chunks.last_mut() {
            items.push(item);
            self.len += 1;
        }
    }

    /// Item `i` (`i < len`), read back from the file if it was there.
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> &mut T {
        let k = i >> self.chunk_shift;
        self.clock += 1;
        if matches!(self.chunks[k], Chunk::Written { .. }) {
            self.read_back_looked_up(k);
        }
        let at = i & (self.chunk_len() - 1);
        match &mut self.chunks[k] {
            Chunk::InMemory { items, used, .. } => {
                *used = self.clock;
                &mut items[at]
            }
            Chunk::Written { .. } => unreachable!("chunk {k} was just read back"),
        }
    }

    /// Item `i` if it is in memory: for prefetching, which must not read
    /// the file.
    pub fn in_memory(&self, i: usize) -> Option<&T> {
        match self.chunks.get(i >> self.chunk_shift)? {
            Chunk::InMemory { items, .. } => items.get(i & (self.chunk_len() - 1)),
            Chunk::Written { .. } => None,
        }
    }

    /// Items in each chunk but the last.
    pub fn chunk_len(&self) -> usize {
        1 << self.chunk_shift
    }

    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// The items of chunk `k` (`k * chunk_len ..`), in order: borrowed if
    /// in memory, read from the file otherwise (and not kept).
    pub fn chunk(&self, k: usize) -> Cow<'_, [T]>
    where
        T: Clone,
    {
        match &self.chunks[k] {
            Chunk::InMemory { items, .. } => Cow::Borrowed(items),
            Chunk::Written { slot, len } => Cow::Owned(self.read(*slot, *len)),
        }
    }

    /// Every item, in order, each chunk in memory in turn.
    pub fn for_each(&self, mut f: impl FnMut(&T))
    where
        T: Clone,
    {
        for k in 0..self.chunk_count() {
            self.chunk(k).iter().for_each(&mut f);
        }
    }

    /// Every item, in order, in memory at once: for small lists and tests.
    pub fn to_vec(&self) -> Vec<T>
    where
        T: Clone,
    {
        let mut all = Vec::with_capacity(self.len);
        self.for_each(|item| all.push(item.clone()));
        all
    }

    /// Changes every item, each chunk read back, changed and written out
    /// again in turn.
    pub fn update_all(&mut self, mut f: impl FnMut(&mut T)) {
        for k in 0..self.chunks.len() {
            let written = matches!(self.chunks[k], Chunk::Written { .. });
            if written {
                self.read_back(k);
            }
            if let Chunk::InMemory { items, .. } = &mut self.chunks[k] {
                items.iter_mut().for_each(&mut f);
            }
        }
    }

    /// Reads back chunk `k` for a look-up. When look-ups do that often,
    /// what is still going on does not fit the budget, and reading it back
    /// over and over would cost more than the memory saved.
    #[cold]
    #[inline(never)]
    fn read_back_looked_up(&mut self, k: usize) {
        if self.clock - self.window_start >= WINDOW_LOOKUPS {
            self.window_start = self.clock;
            self.window_reads = 0;
        }
        self.window_reads += 1;
        if self.window_reads > WINDOW_READS && self.budget != 0 {
            self.budget *= 2;
            self.window_reads = 0;
        }
        self.read_back(k);
    }

    fn read_back(&mut self, k: usize) {
        self.make_room();
        let Chunk::Written { slot, len } = self.chunks[k] else { return };
        let items = self.read(slot, len);
        self.chunks[k] = Chunk::InMemory { items, used: self.clock, slot: Some(slot) };
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
        let Chunk::InMemory { items, slot, .. } = &self.chunks[k] else { return };
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        let mut w = Writer(&mut bytes);
        items.iter().for_each(|item| item.write(&mut w));
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

    fn read(&self, slot: Slot, len: u64) -> Vec<T> {
        let mut owned = Vec::new();
        let bytes: &[u8] = if slot.in_memory {
            &self.memory[slot.at as usize..(slot.at + len) as usize]
        } else {
            owned.resize(len as usize, 0);
            let file = self.file.as_ref().expect("chunks are written to the file only while there is one");
            if let Err(e) = file.read_exact_at(&mut owned, slot.at) {
                // Our own file, just written: only a failing disk gets here.
                panic!("could not read back from the temporary file: {e}");
            }
            &owned
        };
        let mut reader = Reader::new(bytes);
        let mut items = Vec::with_capacity(self.chunk_len());
        while !reader.is_empty() {
            match T::read(&mut reader) {
                Some(item) => items.push(item),
                None => panic!("what was read back from the temporary file is damaged"),
            }
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Item {
        n: u64,
        names: Vec<String>,
    }

    impl Spill for Item {
        fn write(&self, w: &mut Writer) {
            w.u64(self.n);
            w.put(&self.names);
        }
        fn read(r: &mut Reader) -> Option<Self> {
            Some(Item { n: r.u64()?, names: r.get()? })
        }
    }

    fn item(i: u64) -> Item {
        Item { n: i, names: (0..i % 3).map(|k| format!("{i}-{k}")).collect() }
    }

    fn all(store: &ChunkStore<Item>) -> Vec<Item> {
        let mut v = Vec::new();
        store.for_each(|i| v.push(i.clone()));
        v
    }

    #[test]
    fn items_read_back_are_the_items_written() {
        let mut store = ChunkStore::with_chunks(4, 2);
        let mut model: Vec<Item> = Vec::new();
        for i in 0..60 {
            store.push(item(i));
            model.push(item(i));
            // Change an old item now and then: it comes back from the file,
            // grown, and goes out again where it may no longer fit.
            let old = (i as usize * 7) % model.len();
            for changed in [store.get_mut(old), &mut model[old]] {
                changed.n += 1;
                if i % 9 == 0 {
                    changed.names.push("a longer name than before".into());
                }
            }
        }
        assert!(store.in_memory.len() <= store.budget, "{} chunks in memory", store.in_memory.len());
        assert!(store.file.is_some() || store.file_error.is_some());
        assert_eq!(store.len(), model.len());
        assert_eq!(all(&store), model);
        for (i, m) in model.iter().enumerate() {
            assert_eq!(store.get_mut(i), m, "item {i}");
        }
        store.update_all(|i| i.n *= 2);
        model.iter_mut().for_each(|i| i.n *= 2);
        assert_eq!(all(&store), model);
    }

    #[test]
    fn a_budget_of_zero_keeps_everything_in_memory() {
        let mut store = ChunkStore::with_chunks(4, 0);
        (0..40).for_each(|i| store.push(item(i)));
        assert_eq!(store.in_memory.len(), 10);
        assert!(store.file.is_none());
        assert!((0..40).all(|i| store.in_memory(i).is_some()));
    }

    #[test]
    fn reading_back_often_doubles_the_budget() {
        let mut store = ChunkStore::with_chunks(2, 2);
        (0..40).for_each(|i| store.push(item(i)));
        // Round-robin over every chunk: each look-up reads one back.
        for _ in 0..3 {
            for i in (0..40).step_by(2) {
                store.get_mut(i).n += 1;
            }
        }
        assert!(store.budget >= 16, "budget {}", store.budget);
    }

    #[test]
    fn changing_every_item_keeps_the_budget() {
        let mut store = ChunkStore::with_chunks(2, 2);
        (0..100).for_each(|i| store.push(item(i)));
        store.update_all(|i| i.n += 1000);
        assert_eq!((store.budget, store.in_memory.len() <= 2), (2, true));
        assert_eq!(all(&store).iter().map(|i| i.n).collect::<Vec<_>>(), (1000..1100).collect::<Vec<_>>());
    }

    #[test]
    fn chunks_go_to_memory_when_the_file_fails() {
        let mut store = ChunkStore::with_chunks(4, 1);
        store.file_error = Some("no file here".into());
        (0..20).for_each(|i| store.push(item(i)));
        assert!(store.file.is_none() && !store.memory.is_empty());
        assert_eq!(all(&store), (0..20).map(item).collect::<Vec<_>>());
    }
}
