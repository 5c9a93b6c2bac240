//! `WMI_BUFFER_HEADER`: the 0x48 bytes in front of every buffer.
//!
//! A file is a chain of buffers, each advancing by its own `BufferSize`.
//! [`BufferHeader::parse`] reads the fields; [`BufferHeader::check`] tests
//! what we rely on to read the buffer (sizes); [`BufferHeader::plausible`]
//! is the stricter test used when hunting for the next buffer after damage.

use crate::error::DecodeError;

use super::cursor::{le_i64, le_u16, le_u32};
use super::raw::{
    buffer_field as field, buffer_flag, buffer_type, BUFFER_HEADER_LEN, MAX_BUFFER_LEN, PROCESSOR_INDEX_MASK,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferHeader {
    /// Bytes the buffer occupies in the file, header included.
    pub buffer_size: u32,
    /// End of valid data (header included); uncompressed end for
    /// compressed buffers.
    pub saved_offset: u32,
    /// Flush time in the session's raw clock.
    pub timestamp: i64,
    pub sequence_number: i64,
    /// Raw `ETW_BUFFER_CONTEXT` processor word.
    pub processor_word: u16,
    pub logger_id: u16,
    pub state: u32,
    /// `Offset`/`FilledBytes` at 0x30.
    pub filled_bytes: u32,
    pub flags: u16,
    pub buffer_type: u16,
}

impl BufferHeader {
    /// Reads the fields of a header; `b` must hold at least 0x48 bytes.
    pub fn parse(b: &[u8], offset: u64) -> Result<BufferHeader, DecodeError> {
        if b.len() < BUFFER_HEADER_LEN {
            return Err(DecodeError::truncated(offset, "buffer header", BUFFER_HEADER_LEN as u64, b.len() as u64));
        }
        Ok(BufferHeader {
            buffer_size: le_u32(b, field::BUFFER_SIZE),
            saved_offset: le_u32(b, field::SAVED_OFFSET),
            timestamp: le_i64(b, field::TIMESTAMP),
            sequence_number: le_i64(b, field::SEQUENCE_NUMBER),
            processor_word: le_u16(b, field::PROCESSOR_INDEX),
            logger_id: le_u16(b, field::LOGGER_ID),
            state: le_u32(b, field::STATE),
            filled_bytes: le_u32(b, field::FILLED_BYTES),
            flags: le_u16(b, field::BUFFER_FLAG),
            buffer_type: le_u16(b, field::BUFFER_TYPE),
        })
    }

    pub fn is_compressed(&self) -> bool {
        self.flags & buffer_flag::COMPRESSED != 0
    }

    /// The CPU that filled the buffer: a u16 index when the PROC_INDEX flag
    /// is set, else a u8 processor number.
    pub fn cpu(&self) -> u32 {
        if self.flags & buffer_flag::PROC_INDEX != 0 {
            (self.processor_word & PROCESSOR_INDEX_MASK) as u32
        } else {
            (self.processor_word & 0xFF) as u32
        }
    }

    /// What reading needs: a size that can be a buffer. `offset` is the
    /// buffer's absolute file offset.
    pub fn check(&self, offset: u64) -> Result<(), DecodeError> {
        let size = self.buffer_size as usize;
        if !(BUFFER_HEADER_LEN..=MAX_BUFFER_LEN).contains(&size) {
            return Err(DecodeError::bad_length(offset, "buffer BufferSize", self.buffer_size as u64));
        }
        Ok(())
    }

    /// End of the records, relative to the buffer start (header included),
    /// for an uncompressed buffer. `SavedOffset` and `Offset` agree in most
    /// buffers; relogged header buffers have `SavedOffset` short by the last
    /// record, so the larger of the two that fits is taken (the walk stops
    /// at 0xFFFFFFFF filler anyway).
    pub fn data_end(&self, offset: u64) -> Result<usize, DecodeError> {
        let size = self.buffer_size as usize;
        let fits = |v: u32| (v as usize) >= BUFFER_HEADER_LEN && (v as usize) <= size;
        match (fits(self.saved_offset), fits(self.filled_bytes)) {
            (true, true) => Ok(self.saved_offset.max(self.filled_bytes) as usize),
            (true, false) => Ok(self.saved_offset as usize),
            (false, true) => Ok(self.filled_bytes as usize),
            (false, false) => Err(DecodeError::bad_length(
                offset + field::SAVED_OFFSET as u64,
                "buffer SavedOffset (beyond BufferSize)",
                self.saved_offset as u64,
            )),
        }
    }

    /// Length of the records region once decompressed (`SavedOffset` minus
    /// the header), for a compressed buffer.
    pub fn decompressed_len(&self, offset: u64) -> Result<usize, DecodeError> {
        let ok = |v: u32| (v as usize) >= BUFFER_HEADER_LEN && (v as usize) <= MAX_BUFFER_LEN;
        let v = if ok(self.saved_offset) {
            self.saved_offset
        } else if ok(self.filled_bytes) {
            self.filled_bytes
        } else {
            return Err(DecodeError::bad_length(
                offset + field::SAVED_OFFSET as u64,
                "compressed buffer SavedOffset",
                self.saved_offset as u64,
            ));
        };
        Ok(v as usize - BUFFER_HEADER_LEN)
    }

    /// Whether these 0x48 bytes look like a buffer of the session whose
    /// logger id is `logger_id`: used to find the next buffer after damage,
    /// so it is strict.
    pub fn plausible(&self, logger_id: u16, cpus: u32) -> bool {
        let size = self.buffer_size as usize;
        if !(BUFFER_HEADER_LEN..=MAX_BUFFER_LEN).contains(&size) {
            return false;
        }
        if self.logger_id != logger_id || self.flags & !buffer_flag::KNOWN != 0 {
            return false;
        }
        if self.buffer_type > buffer_type::MAXIMUM || self.sequence_number < 0 {
            return false;
        }
        if cpus > 0 && self.flags & buffer_flag::PROC_INDEX != 0 && self.cpu() >= cpus.max(1) {
            return false;
        }
        let saved = self.saved_offset as usize;
        if saved < BUFFER_HEADER_LEN {
            return false;
        }
        if self.is_compressed() {
            saved <= MAX_BUFFER_LEN
        } else {
            saved <= size
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header buffer of lxcore_kernel.etl (airbus-cert/etl-parser).
    pub(crate) const LXCORE_HEADER: [u8; 0x48] = [
        0x00, 0x20, 0x00, 0x00, 0x20, 0x02, 0x00, 0x00, 0x20, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x03, 0x00, 0x00, 0x00, //
        0x20, 0x02, 0x00, 0x00, 0x21, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn parses_a_real_header_buffer() {
        let h = BufferHeader::parse(&LXCORE_HEADER, 0).unwrap();
        assert_eq!(h.buffer_size, 0x2000);
        assert_eq!(h.saved_offset, 0x220);
        assert_eq!(h.filled_bytes, 0x220);
        assert_eq!(h.flags, 0x21);
        assert_eq!(h.buffer_type, buffer_type::HEADER);
        assert_eq!(h.logger_id, 0x14);
        assert!(!h.is_compressed());
        h.check(0).unwrap();
        assert_eq!(h.data_end(0).unwrap(), 0x220);
        assert!(h.plausible(0x14, 8));
        assert!(!h.plausible(0x15, 8));
    }

    #[test]
    fn lying_sizes_are_refused() {
        let mut b = LXCORE_HEADER;
        b[0..4].copy_from_slice(&0x40u32.to_le_bytes()); // smaller than the header
        let h = BufferHeader::parse(&b, 0x4000).unwrap();
        let e = h.check(0x4000).unwrap_err();
        assert_eq!(e.offset, 0x4000);
        assert!(e.to_string().contains("BufferSize"), "{e}");

        let mut b = LXCORE_HEADER;
        b[4..8].copy_from_slice(&0x3000u32.to_le_bytes()); // SavedOffset past BufferSize
        b[0x30..0x34].copy_from_slice(&0x3000u32.to_le_bytes());
        let h = BufferHeader::parse(&b, 0).unwrap();
        assert!(h.data_end(0).is_err());
        assert!(!h.plausible(0x14, 8));

        // Only one of the two end fields lies: the other one is used.
        let mut b = LXCORE_HEADER;
        b[4..8].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
        assert_eq!(BufferHeader::parse(&b, 0).unwrap().data_end(0).unwrap(), 0x220);
    }

    #[test]
    fn short_input_is_truncated_not_a_panic() {
        let e = BufferHeader::parse(&LXCORE_HEADER[..0x20], 0x10).unwrap_err();
        assert_eq!(e.offset, 0x10);
    }

    #[test]
    fn processor_index_width_follows_flag() {
        let mut b = LXCORE_HEADER;
        b[0x28..0x2A].copy_from_slice(&0x0105u16.to_le_bytes());
        let h = BufferHeader::parse(&b, 0).unwrap();
        assert_eq!(h.cpu(), 0x105); // PROC_INDEX set (flags 0x21)
        b[0x34..0x36].copy_from_slice(&0x0001u16.to_le_bytes());
        assert_eq!(BufferHeader::parse(&b, 0).unwrap().cpu(), 5);
    }
}
