//! A little-endian cursor over a byte slice that trusts no length.
//!
//! Every read is checked against what is left and fails with a
//! [`DecodeError`] that names the absolute file offset; `split` bounds a
//! sub-cursor by a declared length so a lying length can never reach past
//! its parent.

use crate::error::DecodeError;

use super::guid::Guid;

#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    /// Absolute offset of `buf[0]` (in the file, or in the decompressed
    /// buffer for compressed buffers).
    base: u64,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], base: u64) -> Self {
        Cursor { buf, base, pos: 0 }
    }

    /// Absolute offset of the next byte.
    pub fn offset(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }

    /// Position relative to the start of this cursor.
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn need(&self, n: usize, what: &str) -> Result<(), DecodeError> {
        if n > self.remaining() {
            Err(DecodeError::truncated(self.offset(), what, n as u64, self.remaining() as u64))
        } else {
            Ok(())
        }
    }

    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        self.need(n, what)?;
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DecodeError> {
        let b = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    pub fn skip(&mut self, n: usize, what: &str) -> Result<(), DecodeError> {
        self.bytes(n, what).map(|_| ())
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16_le(&mut self, what: &str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32_le(&mut self, what: &str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64_le(&mut self, what: &str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub fn i64_le(&mut self, what: &str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    pub fn guid(&mut self, what: &str) -> Result<Guid, DecodeError> {
        Ok(Guid(self.array(what)?))
    }

    /// A sub-cursor over the next `len` bytes; this cursor moves past them.
    pub fn split(&mut self, len: usize, what: &str) -> Result<Cursor<'a>, DecodeError> {
        let base = self.offset();
        let b = self.bytes(len, what)?;
        Ok(Cursor::new(b, base))
    }
}

/// Little-endian reads at fixed offsets of a slice already known to be long
/// enough (views check their length once in `new_checked`).
pub fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

pub fn le_i64(b: &[u8], at: usize) -> i64 {
    le_u64(b, at) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;

    #[test]
    fn reads_little_endian_and_advances() {
        let data = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09];
        let mut c = Cursor::new(&data, 0x100);
        assert_eq!(c.u8("a").unwrap(), 1);
        assert_eq!(c.u16_le("b").unwrap(), 0x0302);
        assert_eq!(c.u32_le("c").unwrap(), 0x0706_0504);
        assert_eq!(c.offset(), 0x107);
        assert_eq!(c.remaining(), 2);
    }

    #[test]
    fn short_read_names_absolute_offset_and_does_not_move() {
        let data = [0u8; 6];
        let mut c = Cursor::new(&data, 0x2000);
        c.skip(4, "x").unwrap();
        let e = c.u32_le("record size").unwrap_err();
        assert_eq!(e.offset, 0x2004);
        assert_eq!(e.kind, DecodeErrorKind::Truncated { what: "record size".into(), need: 4, have: 2 });
        assert_eq!(c.remaining(), 2);
    }

    #[test]
    fn split_bounds_a_lying_length() {
        let data = [1u8; 10];
        let mut c = Cursor::new(&data, 0);
        // A length field claiming 0xFFFF bytes cannot reach past the slice.
        assert!(c.split(0xFFFF, "item").is_err());
        let mut sub = c.split(4, "item").unwrap();
        assert_eq!(sub.offset(), 0);
        assert!(sub.u64_le("too long").is_err());
        assert_eq!(c.offset(), 4);
    }
}
