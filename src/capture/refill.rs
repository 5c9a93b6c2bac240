//! A read buffer that streams a file in large reads and remembers the
//! absolute offset of every byte it hands out.
//!
//! Readers ask for "at least n bytes from here" (`fill`), look at them
//! (`available`), and `consume` what they used. The buffer only grows to hold
//! one record at a time, and a record may not be larger than `max_record`, so
//! a lying length field cannot make us allocate without bound.

use std::io::{self, Read};

/// How much we read per system call; large reads keep syscall overhead out of
/// the profile.
pub const DEFAULT_READ_SIZE: usize = 4 << 20;

pub struct RefillBuffer<R> {
    inner: R,
    buf: Storage,
    start: usize,
    end: usize,
    /// Absolute offset of `buf[start]`.
    offset: u64,
    eof: bool,
    read_size: usize,
    /// Mapped: pages before this were handed back to the kernel.
    released: usize,
    /// Mapped: the cache lines asked for ahead of the reader.
    ahead: crate::prefetch::Ahead,
    /// Mapped: bytes from here on are still being read by other threads.
    keep_from: usize,
}

/// How far behind the read position (or behind `keep_from`) a mapped
/// file's pages stay resident. Before that they are dropped from our
/// resident set (they stay in the page cache), so memory does not grow with
/// the file; releasing at least this much at a time keeps system calls rare.
const MAPPED_TRAIL: usize = 4 << 20;
const PAGE: usize = 4096;

/// Drops `map[from..to]` from this process's resident pages.
fn release(map: &memmap2::Mmap, from: usize, to: usize) {
    if to <= from {
        return;
    }
    // SAFETY: the map is a read-only private mapping of a file that we never
    // write through. MADV_DONTNEED only unmaps our page-table entries: a
    // later access (a slice handed out earlier and still in use) faults the
    // same file bytes back in, so no reference ever sees different data.
    #[cfg(unix)]
    unsafe {
        let _ = map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from);
    }
    #[cfg(not(unix))]
    let _ = (map, from, to);
}

/// Where the bytes live: a buffer we read into, or the whole file mapped
/// into memory (nothing to read or copy; records are slices of the map).
enum Storage {
    Owned(Vec<u8>),
    Mapped(std::sync::Arc<memmap2::Mmap>),
}

impl std::ops::Deref for Storage {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Storage::Owned(v) => v,
            Storage::Mapped(m) => m,
        }
    }
}

impl<R: Read> RefillBuffer<R> {
    pub fn new(inner: R) -> Self {
        Self::with_read_size(inner, DEFAULT_READ_SIZE)
    }

    /// A small `read_size` is used by tests to exercise refills at every offset.
    pub fn with_read_size(inner: R, read_size: usize) -> Self {
        RefillBuffer {
            inner,
            buf: Storage::Owned(Vec::new()),
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            read_size: read_size.max(1),
            released: 0,
            ahead: Default::default(),
            keep_from: usize::MAX,
        }
    }

    /// A buffer over a whole mapped file: every byte is available at once,
    /// `inner` is never read.
    pub fn mapped(inner: R, map: std::sync::Arc<memmap2::Mmap>) -> Self {
        let end = map.len();
        RefillBuffer {
            inner,
            buf: Storage::Mapped(map),
            start: 0,
            end,
            offset: 0,
            eof: true,
            read_size: 1,
            released: 0,
            ahead: Default::default(),
            keep_from: usize::MAX,
        }
    }

    /// The mapped file, when the buffer is one.
    pub fn map(&self) -> Option<&std::sync::Arc<memmap2::Mmap>> {
        match &self.buf {
            Storage::Mapped(m) => Some(m),
            Storage::Owned(_) => None,
        }
    }

    /// Keeps the mapped pages from `offset` on resident even once consumed:
    /// threads that were handed slices of the map still read them. Pages
    /// released under a reader would be faulted back in, and then never
    /// released again.
    pub fn keep_from(&mut self, offset: u64) {
        self.keep_from = usize::try_from(offset).unwrap_or(usize::MAX);
    }

    /// Absolute offset of the first unconsumed byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Make at least `n` bytes available. Returns `Ok(false)` when the input
    /// ends first (the bytes that do exist stay available).
    pub fn fill(&mut self, n: usize) -> io::Result<bool> {
        while self.len() < n {
            if self.eof {
                return Ok(false);
            }
            // A mapped file is at its end from the start, so only an owned
            // buffer gets here.
            let Storage::Owned(buf) = &mut self.buf else { return Ok(false) };
            // Move what is left to the front, then grow if the record needs it.
            if self.start > 0 {
                buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let want = n.max(self.read_size);
            if buf.len() < want {
                buf.resize(want, 0);
            }
            let got = loop {
                match self.inner.read(&mut buf[self.end..]) {
                    Ok(k) => break k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if got == 0 {
                self.eof = true;
            }
            self.end += got;
        }
        Ok(true)
    }

    /// Like [`fill`](Self::fill), for readers that take what there is: the
    /// number of bytes available afterwards (fewer than `n` only at the end).
    pub fn fill_available(&mut self, n: usize) -> io::Result<usize> {
        self.fill(n)?;
        Ok(self.len())
    }

    /// True when everything has been consumed and the input is exhausted.
    pub fn at_eof(&mut self) -> io::Result<bool> {
        Ok(!self.fill(1)?)
    }

    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        self.start += n;
        self.offset += n as u64;
        if let Storage::Mapped(map) = &self.buf {
            self.ahead.reach(map, self.start);
            let behind = self.start.min(self.keep_from);
            if behind >= self.released + 2 * MAPPED_TRAIL {
                let upto = (behind - MAPPED_TRAIL) & !(PAGE - 1);
                release(map, self.released, upto);
                self.released = upto;
            }
        }
    }

    /// The unconsumed bytes followed by the rest of the input, for readers
    /// that must restart on a transformed stream (gzip).
    pub fn into_reader(self) -> std::io::Chain<std::io::Cursor<Vec<u8>>, R> {
        let pending = self.buf[self.start..self.end].to_vec();
        std::io::Cursor::new(pending).chain(self.inner)
    }

    /// Returns `available()[range]`; used after `consume` to keep handing out a
    /// record's bytes, which stay in place until the next `fill`.
    pub fn slice_back(&self, back: usize, len: usize) -> &[u8] {
        let from = self.start - back;
        &self.buf[from..from + len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_across_small_reads() {
        let data: Vec<u8> = (0..=255u8).collect();
        let mut b = RefillBuffer::with_read_size(&data[..], 3);
        assert!(b.fill(10).unwrap());
        assert_eq!(&b.available()[..10], &data[..10]);
        b.consume(7);
        assert_eq!(b.offset(), 7);
        assert!(b.fill(200).unwrap());
        assert_eq!(b.available()[0], 7);
        assert!(!b.fill(1000).unwrap());
        assert_eq!(b.len(), 249);
    }
}
