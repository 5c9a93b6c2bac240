//! The byte stream under the reader: peek ahead, then consume.
//!
//! Buffers are read whole (their size is bounded by `MAX_BUFFER_LEN`), and
//! the hunt for the next buffer after damage looks at a sliding 0x48-byte
//! window; both need to look before they commit, which a plain `Read`
//! cannot do. Memory is bounded by the largest peek plus one read chunk.

use std::io::{self, Read};

const CHUNK: usize = 256 << 10;

pub struct Source<R> {
    inner: R,
    /// Storage; `buf[start..end]` holds the bytes read but not consumed.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Absolute offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl<R: Read> Source<R> {
    pub fn new(inner: R) -> Self {
        Source { inner, buf: Vec::new(), start: 0, end: 0, offset: 0, eof: false }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn peek(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Makes at least `n` bytes available unless the input ends first;
    /// returns how many are available.
    pub fn fill(&mut self, n: usize) -> io::Result<usize> {
        while self.end - self.start < n && !self.eof {
            let room_needed = n.max(CHUNK);
            if self.buf.len() - self.start < room_needed {
                // Move the unread bytes to the front, then grow if needed.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < room_needed {
                    self.buf.resize(room_needed, 0);
                }
            }
            let got = loop {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(g) => break g,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if got == 0 {
                self.eof = true;
            }
            self.end += got;
        }
        Ok(self.end - self.start)
    }

    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most 3 bytes per read.
    struct Dribble<'a>(&'a [u8]);
    impl Read for Dribble<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = out.len().min(3).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn peeks_across_short_reads_and_tracks_offset() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut s = Source::new(Dribble(&data));
        assert!(s.fill(10).unwrap() >= 10);
        assert_eq!(&s.peek()[..10], &data[..10]);
        s.consume(7);
        assert_eq!(s.offset(), 7);
        let avail = s.fill(50).unwrap();
        assert!(avail >= 50);
        assert_eq!(s.peek()[0], 7);
        s.consume(usize::MAX);
        assert_eq!(s.offset(), 7 + avail as u64);
        assert_eq!(s.fill(1000).unwrap(), 100 - 7 - avail);
        s.consume(usize::MAX);
        assert_eq!(s.fill(1).unwrap(), 0);
        assert_eq!(s.offset(), 100);
    }
}
