//! Classic libpcap files: a 24-byte file header, then records of a 16-byte
//! header (24 in Kuznetzov's "modified" format) and the captured bytes.
//!
//! pcap-parser decodes the header and the records; this file owns the
//! streaming, the sanity checks a hostile file needs, and the conversion to
//! [`Event`]s.

use std::io::Read;

use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header};

use super::refill::RefillBuffer;
use super::MAX_PACKET_LEN;
use crate::error::DecodeError;
use crate::event::{CapturePoint, Event, EventKind, LinkType, PacketMeta, PacketRecord};
use crate::time::Timestamp;

pub const FILE_HEADER_LEN: usize = 24;
pub const RECORD_HEADER_LEN: usize = 16;
pub const MODIFIED_RECORD_HEADER_LEN: usize = 24;

/// Bits 16-25 of the link-type field are reserved and must be zero; bits
/// 26-31 describe an FCS (which we do not need).
const LINKTYPE_RESERVED_MASK: u32 = 0x03FF_0000;
const LINKTYPE_MASK: u32 = 0x0000_FFFF;

/// A record just consumed: its data are the last `caplen` bytes before the
/// read position.
struct Record {
    offset: u64,
    ts: Timestamp,
    caplen: usize,
    orig_len: u32,
}

pub struct PcapReader<R> {
    buf: RefillBuffer<R>,
    big_endian: bool,
    modified: bool,
    units_per_sec: u64,
    thiszone: i64,
    point: CapturePoint,
    record_index: u64,
    finished: bool,
}

impl<R: Read> PcapReader<R> {
    pub fn new(mut buf: RefillBuffer<R>) -> Result<Self, DecodeError> {
        let io = |e: std::io::Error| DecodeError::other(0, format!("read error: {e}"));
        if !buf.fill(FILE_HEADER_LEN).map_err(io)? {
            return Err(DecodeError::truncated(0, "pcap file header", FILE_HEADER_LEN as u64, buf.len() as u64));
        }
        let header = match parse_pcap_header(buf.available()) {
            Ok((_, h)) => h,
            Err(_) => {
                let magic = u32::from_le_bytes(buf.available()[..4].try_into().unwrap_or_default());
                return Err(DecodeError::bad_magic(0, "pcap file header", magic as u64));
            }
        };
        if header.version_major != 2 {
            return Err(DecodeError::unsupported(
                4,
                "pcap version",
                format!("{}.{} (only 2.x exists)", header.version_major, header.version_minor),
            ));
        }
        let network = header.network.0 as u32;
        if network & LINKTYPE_RESERVED_MASK != 0 {
            return Err(DecodeError::unsupported(
                20,
                "pcap link-type field",
                format!("reserved bits set ({:#010x})", network & LINKTYPE_RESERVED_MASK),
            ));
        }
        buf.consume(FILE_HEADER_LEN);
        Ok(PcapReader {
            buf,
            big_endian: header.is_bigendian(),
            modified: header.is_modified_format(),
            units_per_sec: if header.is_nanosecond_precision() { 1_000_000_000 } else { 1_000_000 },
            thiszone: header.thiszone as i64,
            point: CapturePoint {
                name: "pcap".to_string(),
                description: None,
                link: LinkType(network & LINKTYPE_MASK),
                snaplen: header.snaplen,
            },
            record_index: 0,
            finished: false,
        })
    }

    pub fn points(&self) -> &[CapturePoint] {
        std::slice::from_ref(&self.point)
    }

    pub fn offset(&self) -> u64 {
        self.buf.offset()
    }

    /// The memory map the bytes come from, if they do.
    pub fn map(&self) -> Option<&std::sync::Arc<memmap2::Mmap>> {
        self.buf.map()
    }

    /// See [`RefillBuffer::keep_from`].
    pub fn keep_mapped_from(&mut self, offset: u64) {
        self.buf.keep_from(offset)
    }

    /// The next event, `Ok(None)` at the end, or the error that ended the
    /// file (returned once; afterwards `Ok(None)`).
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, DecodeError> {
        Ok(self.next_with_points()?.map(|(e, _)| e))
    }

    /// [`next_event`](Self::next_event) with the capture points known so
    /// far, which the event may name.
    pub fn next_with_points(&mut self) -> Result<Option<(Event<'_>, &[CapturePoint])>, DecodeError> {
        if self.finished {
            return Ok(None);
        }
        match self.next_inner() {
            Ok(Some(r)) => {
                let data = self.buf.slice_back(r.caplen, r.caplen);
                Ok(Some((
                    Event {
                        ts: r.ts,
                        point: 0,
                        offset: r.offset,
                        kind: EventKind::Packet(PacketRecord {
                            link: self.point.link,
                            data,
                            orig_len: r.orig_len,
                            meta: PacketMeta::default(),
                        }),
                        etw: None,
                    },
                    std::slice::from_ref(&self.point),
                )))
            }
            Ok(None) => {
                self.finished = true;
                Ok(None)
            }
            Err(e) => {
                self.finished = true;
                Err(e)
            }
        }
    }

    /// Reads one record and consumes it; its data are the last `caplen`
    /// bytes before the new read position.
    fn next_inner(&mut self) -> Result<Option<Record>, DecodeError> {
        let offset = self.buf.offset();
        let io = |e: std::io::Error| DecodeError::other(offset, format!("read error: {e}"));
        let hdr_len = if self.modified { MODIFIED_RECORD_HEADER_LEN } else { RECORD_HEADER_LEN };
        if !self.buf.fill(hdr_len).map_err(io)? {
            if self.buf.is_empty() {
                return Ok(None);
            }
            return Err(DecodeError::truncated(offset, "pcap record header", hdr_len as u64, self.buf.len() as u64)
                .within(format!("record {}", self.record_index)));
        }
        let raw = self.buf.available();
        let word = |at: usize| {
            let b: [u8; 4] = raw[at..at + 4].try_into().unwrap_or_default();
            if self.big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let caplen = word(8) as usize;
        if caplen > MAX_PACKET_LEN {
            return Err(DecodeError::bad_length(offset + 8, "pcap record captured length", caplen as u64)
                .within(format!("record {}", self.record_index)));
        }
        let total = hdr_len + caplen;
        if !self.buf.fill(total).map_err(io)? {
            return Err(DecodeError::truncated(offset, "pcap record", total as u64, self.buf.len() as u64)
                .within(format!("record {}", self.record_index)));
        }
        let raw = &self.buf.available()[..total];
        let parsed = if self.modified {
            parse_pcap_frame_modified(raw)
        } else if self.big_endian {
            parse_pcap_frame_be(raw)
        } else {
            parse_pcap_frame(raw)
        };
        let frame = parsed
            .map_err(|_| {
                DecodeError::other(offset, "pcap record did not parse").within(format!("record {}", self.record_index))
            })?
            .1;
        let ts = Timestamp::from_parts(frame.ts_sec as i64 + self.thiszone, frame.ts_usec as u64, self.units_per_sec);
        let origlen = frame.origlen;
        self.buf.consume(total);
        self.record_index += 1;
        Ok(Some(Record { offset, ts, caplen, orig_len: origlen }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(records: &[(&[u8], u32)]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        for (i, (data, orig)) in records.iter().enumerate() {
            v.extend_from_slice(&(1000 + i as u32).to_le_bytes());
            v.extend_from_slice(&500_000u32.to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&orig.to_le_bytes());
            v.extend_from_slice(data);
        }
        v
    }

    #[test]
    fn reads_records_across_refills() {
        let bytes = file(&[(b"abcdef", 6), (b"xyz", 60)]);
        let mut r = PcapReader::new(RefillBuffer::with_read_size(&bytes[..], 5)).unwrap();
        let e = r.next_event().unwrap().unwrap();
        assert_eq!(e.ts.0, 1_000_500_000_000);
        let EventKind::Packet(p) = e.kind else { panic!("not a packet") };
        assert_eq!(p.data, b"abcdef");
        let e = r.next_event().unwrap().unwrap();
        let EventKind::Packet(p) = e.kind else { panic!("not a packet") };
        assert_eq!((p.data, p.orig_len), (&b"xyz"[..], 60));
        assert!(r.next_event().unwrap().is_none());
    }

    #[test]
    fn truncated_record_names_its_offset() {
        let mut bytes = file(&[(b"abcdef", 6), (b"xyz", 3)]);
        bytes.truncate(bytes.len() - 1);
        let mut r = PcapReader::new(RefillBuffer::new(&bytes[..])).unwrap();
        assert!(r.next_event().unwrap().is_some());
        let err = r.next_event().unwrap_err();
        assert_eq!(err.offset, 24 + 16 + 6);
        assert!(err.to_string().contains("truncated pcap record"), "{err}");
        assert!(r.next_event().unwrap().is_none());
    }

    #[test]
    fn lying_length_is_refused_without_allocating() {
        let mut bytes = file(&[(b"abcdef", 6)]);
        bytes[24 + 8..24 + 12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let mut r = PcapReader::new(RefillBuffer::new(&bytes[..])).unwrap();
        let err = r.next_event().unwrap_err();
        assert!(err.to_string().contains("bad length"), "{err}");
    }
}
