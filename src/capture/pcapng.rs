//! pcapng: a sequence of sections, each a Section Header Block followed by
//! Interface Description Blocks, packet blocks and others, in the byte order
//! the SHB declares.
//!
//! The framing (type, length, trailing length) is checked here, since a
//! broken frame is the one thing we cannot skip over; the block bodies are
//! parsed by pcap-parser. A body that does not parse is skipped with a
//! warning, because its length told us where the next block starts.

use std::io::Read;

use pcap_parser::pcapng::{
    parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le, parse_sectionheaderblock,
    parse_simplepacketblock_be, parse_simplepacketblock_le,
};

use super::refill::RefillBuffer;
use super::MAX_PACKET_LEN;
use crate::error::DecodeError;
use crate::event::{CapturePoint, Direction, Event, EventKind, LinkType, PacketMeta, PacketRecord, PointId};
use crate::time::Timestamp;

pub const SHB_TYPE: u32 = 0x0A0D_0D0A;
pub const IDB_TYPE: u32 = 0x0000_0001;
pub const OPB_TYPE: u32 = 0x0000_0002;
pub const SPB_TYPE: u32 = 0x0000_0003;
pub const EPB_TYPE: u32 = 0x0000_0006;
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// Type + length + trailing length.
pub const BLOCK_OVERHEAD: usize = 12;
/// Wireshark refuses blocks above 16 MiB; we allow some more for jumbo
/// super-packets but still refuse absurd lengths before allocating.
pub const MAX_BLOCK_LEN: usize = 64 << 20;

const EPB_DATA_OFFSET: usize = 28;
const OPB_DATA_OFFSET: usize = 28;
const SPB_DATA_OFFSET: usize = 12;

pub const OPT_END: u16 = 0;
pub const OPT_COMMENT: u16 = 1;
pub const OPT_SHB_USERAPPL: u16 = 4;
pub const OPT_IF_NAME: u16 = 2;
pub const OPT_IF_DESCRIPTION: u16 = 3;
pub const OPT_IF_TSRESOL: u16 = 9;
pub const OPT_EPB_FLAGS: u16 = 2;
pub const OPT_EPB_PACKETID: u16 = 5;
pub const OPT_EPB_VERDICT: u16 = 7;

/// An interface of the current section.
#[derive(Debug, Clone)]
struct Interface {
    point: PointId,
    link: LinkType,
    snaplen: u32,
    clock: Clock,
    usable: bool,
}

pub struct PcapNgReader<R> {
    buf: RefillBuffer<R>,
    big_endian: bool,
    section: usize,
    interfaces: Vec<Interface>,
    points: Vec<CapturePoint>,
    block_index: u64,
    warnings: Vec<DecodeError>,
    finished: bool,
}

/// An Enhanced Packet Block whose framing, interface and lengths were
/// checked by [`PcapNgReader::next_packet_frames`], its timestamp not yet
/// converted: what a decoding thread needs to finish reading it.
#[derive(Debug, Clone, Copy)]
pub struct PacketFrame {
    /// File offset of the block.
    pub offset: u64,
    /// File offset of the packet bytes.
    pub data: u64,
    pub caplen: u32,
    pub orig_len: u32,
    pub ticks: u64,
    pub clock: Clock,
    pub point: PointId,
    pub link: LinkType,
}

/// How an interface counts time: `if_tsresol` and `if_tsoffset`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    units_per_sec: u64,
    offset_secs: i64,
}

impl Clock {
    pub fn timestamp(self, ticks: u64) -> Timestamp {
        let ticks = ticks as i128 + self.offset_secs as i128 * self.units_per_sec as i128;
        Timestamp::from_ticks(ticks, self.units_per_sec)
    }
}

/// Where the packet bytes of the block just consumed are.
struct Found {
    offset: u64,
    back: usize,
    caplen: usize,
    ts: Timestamp,
    point: PointId,
    link: LinkType,
    orig_len: u32,
    opts: Option<(usize, usize)>,
}

fn u32_at(b: &[u8], at: usize, big: bool) -> u32 {
    let w: [u8; 4] = b[at..at + 4].try_into().unwrap_or_default();
    if big {
        u32::from_be_bytes(w)
    } else {
        u32::from_le_bytes(w)
    }
}

fn u16_at(b: &[u8], at: usize, big: bool) -> u16 {
    let w: [u8; 2] = b[at..at + 2].try_into().unwrap_or_default();
    if big {
        u16::from_be_bytes(w)
    } else {
        u16::from_le_bytes(w)
    }
}

/// `if_tsresol`: a power of ten, or of two when the top bit is set.
fn units_per_sec(tsresol: u8) -> Option<u64> {
    let exp = (tsresol & 0x7f) as u32;
    if tsresol & 0x80 != 0 {
        (exp < 64).then(|| 1u64 << exp)
    } else {
        10u64.checked_pow(exp)
    }
}

impl<R: Read> PcapNgReader<R> {
    pub fn new(buf: RefillBuffer<R>) -> Self {
        PcapNgReader {
            buf,
            big_endian: false,
            section: 0,
            interfaces: Vec::new(),
            points: Vec::new(),
            block_index: 0,
            warnings: Vec::new(),
            finished: false,
        }
    }

    /// Every interface of every section seen so far.
    pub fn points(&self) -> &[CapturePoint] {
        &self.points
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

    /// Damaged blocks that were skipped since the last call.
    pub fn take_warnings(&mut self) -> Vec<DecodeError> {
        std::mem::take(&mut self.warnings)
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
        loop {
            match self.next_block() {
                Ok(Some(Some(found))) => {
                    let data = self.buf.slice_back(found.back, found.caplen);
                    let mut meta = PacketMeta::default();
                    if let Some((back, len)) = found.opts {
                        let raw = self.buf.slice_back(back, len);
                        meta = parse_packet_options(raw, self.big_endian);
                    }
                    return Ok(Some((
                        Event {
                            ts: found.ts,
                            point: found.point,
                            offset: found.offset,
                            kind: EventKind::Packet(PacketRecord {
                                link: found.link,
                                data,
                                orig_len: found.orig_len,
                                meta,
                            }),
                            etw: None,
                        },
                        &self.points,
                    )));
                }
                Ok(Some(None)) => continue,
                Ok(None) => {
                    self.finished = true;
                    return Ok(None);
                }
                Err(e) => {
                    self.finished = true;
                    return Err(e);
                }
            }
        }
    }

    /// Consumes the Enhanced Packet Blocks ahead that need nothing but their
    /// own bytes to be read, up to `max`, handing each to `each`; returns how
    /// many. Stops before any block the ordinary reader must see (another
    /// type, a broken frame, an unknown interface, a length to warn about),
    /// so reading on with [`next_event`](Self::next_event) gives exactly what
    /// it would have. Only the framing is checked here, which keeps the one
    /// thread that walks the file short of work; the caller's threads
    /// convert the timestamps and read the packets.
    pub fn next_packet_frames(&mut self, max: usize, mut each: impl FnMut(PacketFrame)) -> usize {
        if self.finished || self.block_index == 0 {
            return 0;
        }
        let big = self.big_endian;
        let base = self.buf.offset();
        let bytes = self.buf.available();
        let (mut pos, mut count) = (0, 0);
        let mut ahead = crate::prefetch::Ahead::default();
        while count < max {
            ahead.reach(bytes, pos);
            let Some(head) = bytes.get(pos..pos + EPB_DATA_OFFSET) else { break };
            let len = u32_at(head, 4, big) as usize;
            if u32_at(head, 0, big) != EPB_TYPE
                || len < EPB_DATA_OFFSET + 4
                || len % 4 != 0
                || len > MAX_BLOCK_LEN
                || pos + len > bytes.len()
                || u32_at(bytes, pos + len - 4, big) as usize != len
            {
                break;
            }
            let caplen = u32_at(head, 20, big) as usize;
            if caplen > MAX_PACKET_LEN || EPB_DATA_OFFSET + caplen > len - 4 {
                break;
            }
            let Some(iface) = self.interfaces.get(u32_at(head, 8, big) as usize).filter(|i| i.usable) else { break };
            let offset = base + pos as u64;
            each(PacketFrame {
                offset,
                data: offset + EPB_DATA_OFFSET as u64,
                caplen: caplen as u32,
                orig_len: u32_at(head, 24, big),
                ticks: (u32_at(head, 12, big) as u64) << 32 | u32_at(head, 16, big) as u64,
                clock: iface.clock,
                point: iface.point,
                link: iface.link,
            });
            pos += len;
            count += 1;
        }
        self.buf.consume(pos);
        self.block_index += count as u64;
        count
    }

    /// Reads and consumes one block. `Some(Some(_))` for a packet block,
    /// `Some(None)` for any other block, `None` at the end of the input.
    fn next_block(&mut self) -> Result<Option<Option<Found>>, DecodeError> {
        let offset = self.buf.offset();
        let index = self.block_index;
        let ctx = move || format!("block {index}");
        let io = |e: std::io::Error| DecodeError::other(offset, format!("read error: {e}"));
        if !self.buf.fill(BLOCK_OVERHEAD).map_err(io)? {
            if self.buf.is_empty() {
                return Ok(None);
            }
            return Err(DecodeError::truncated(
                offset,
                "pcapng block header",
                BLOCK_OVERHEAD as u64,
                self.buf.len() as u64,
            )
            .within(ctx()));
        }
        let head = self.buf.available();
        let block_type_le = u32::from_le_bytes(head[0..4].try_into().unwrap_or_default());
        if block_type_le == SHB_TYPE {
            let bom = u32::from_le_bytes(head[8..12].try_into().unwrap_or_default());
            self.big_endian = match bom {
                BYTE_ORDER_MAGIC => false,
                x if x.swap_bytes() == BYTE_ORDER_MAGIC => true,
                _ => {
                    return Err(DecodeError::bad_magic(offset + 8, "pcapng byte-order magic", bom as u64).within(ctx()))
                }
            };
        } else if self.block_index == 0 {
            return Err(
                DecodeError::bad_magic(offset, "pcapng Section Header Block", block_type_le as u64).within(ctx())
            );
        }
        let big = self.big_endian;
        let block_type = u32_at(head, 0, big);
        let len = u32_at(head, 4, big) as usize;
        if len < BLOCK_OVERHEAD || len % 4 != 0 || len > MAX_BLOCK_LEN {
            return Err(DecodeError::bad_length(
                offset + 4,
                format!("pcapng block length of {}", block_name(block_type)),
                len as u64,
            )
            .within(ctx()));
        }
        if !self.buf.fill(len).map_err(io)? {
            return Err(
                DecodeError::truncated(offset, block_name(block_type), len as u64, self.buf.len() as u64).within(ctx())
            );
        }
        let block = &self.buf.available()[..len];
        let trailing = u32_at(block, len - 4, big) as usize;
        if trailing != len {
            return Err(DecodeError::bad_length(
                offset + len as u64 - 4,
                format!("trailing length of {} (leading length is {len})", block_name(block_type)),
                trailing as u64,
            )
            .within(ctx()));
        }

        let result = match block_type {
            SHB_TYPE => self.section_header(offset).map(|_| None),
            IDB_TYPE => {
                self.interface_description(offset);
                Ok(None)
            }
            EPB_TYPE => Ok(self.enhanced_packet(offset, len)),
            SPB_TYPE => Ok(self.simple_packet(offset, len)),
            OPB_TYPE => Ok(self.obsolete_packet(offset, len)),
            _ => Ok(None),
        };
        let result = result.map_err(|e| e.within(format!("block {}", self.block_index)))?;
        self.buf.consume(len);
        self.block_index += 1;
        Ok(Some(result))
    }

    fn warn(&mut self, e: DecodeError) {
        let e = e.within(format!("block {}", self.block_index));
        self.warnings.push(e);
    }

    fn section_header(&mut self, offset: u64) -> Result<(), DecodeError> {
        let block = self.buf.available();
        let shb = match parse_sectionheaderblock(block) {
            Ok((_, shb)) => shb,
            Err(_) => return Err(DecodeError::other(offset, "Section Header Block options do not fit in the block")),
        };
        let version = (shb.major_version, shb.minor_version);
        if !(version == (1, 0) || version == (1, 2)) {
            return Err(DecodeError::unsupported(
                offset + 12,
                "pcapng section version",
                format!("{}.{} (expected 1.0)", version.0, version.1),
            ));
        }
        if self.block_index > 0 {
            self.section += 1;
        }
        self.interfaces.clear();
        Ok(())
    }

    fn interface_description(&mut self, offset: u64) {
        let block = self.buf.available();
        let parsed = if self.big_endian {
            parse_interfacedescriptionblock_be(block)
        } else {
            parse_interfacedescriptionblock_le(block)
        };
        let point = self.points.len() as PointId;
        let if_index = self.interfaces.len();
        match parsed {
            Ok((_, idb)) => {
                let name = idb
                    .if_name()
                    .and_then(|r| r.ok())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("if{}.{}", self.section, if_index));
                let description = idb.if_description().and_then(|r| r.ok()).map(str::to_string);
                let units = units_per_sec(idb.if_tsresol);
                let bad_resolution = units.is_none().then_some(idb.if_tsresol);
                self.points.push(CapturePoint {
                    name,
                    description,
                    link: LinkType(idb.linktype.0 as u32 & 0xFFFF),
                    snaplen: idb.snaplen,
                });
                self.interfaces.push(Interface {
                    point,
                    link: LinkType(idb.linktype.0 as u32 & 0xFFFF),
                    snaplen: idb.snaplen,
                    clock: Clock { units_per_sec: units.unwrap_or(1_000_000), offset_secs: idb.if_tsoffset },
                    usable: true,
                });
                if let Some(r) = bad_resolution {
                    self.warn(DecodeError::unsupported(offset, "if_tsresol", format!("{r:#04x}; using microseconds")));
                }
            }
            Err(_) => {
                // Keep the numbering of later interfaces right; packets on this
                // one are skipped.
                self.warn(DecodeError::other(
                    offset,
                    "Interface Description Block does not parse; its packets are skipped",
                ));
                self.points.push(CapturePoint {
                    name: format!("if{}.{}", self.section, if_index),
                    description: None,
                    link: LinkType(u32::MAX),
                    snaplen: 0,
                });
                self.interfaces.push(Interface {
                    point,
                    link: LinkType(u32::MAX),
                    snaplen: 0,
                    clock: Clock { units_per_sec: 1_000_000, offset_secs: 0 },
                    usable: false,
                });
            }
        }
    }

    fn interface(&mut self, offset: u64, if_id: u32, what: &str) -> Option<Interface> {
        match self.interfaces.get(if_id as usize) {
            Some(i) if i.usable => Some(i.clone()),
            Some(_) => None,
            None => {
                self.warn(DecodeError::other(
                    offset,
                    format!(
                        "{what} names interface {if_id}, but the section has {} interfaces; skipped",
                        self.interfaces.len()
                    ),
                ));
                None
            }
        }
    }

    fn enhanced_packet(&mut self, offset: u64, len: usize) -> Option<Found> {
        let big = self.big_endian;
        // The EPB is the one block per packet, so its fixed header is read
        // here directly rather than through pcap-parser, which also parses
        // every option into a Vec; options are read lazily below.
        let block = &self.buf.available()[..len];
        if len < EPB_DATA_OFFSET + 4 {
            self.warn(DecodeError::bad_length(offset + 4, "Enhanced Packet Block length (block skipped)", len as u64));
            return None;
        }
        let if_id = u32_at(block, 8, big);
        let ts_high = u32_at(block, 12, big);
        let ts_low = u32_at(block, 16, big);
        let caplen = u32_at(block, 20, big) as usize;
        let orig_len = u32_at(block, 24, big);
        let opts_start = EPB_DATA_OFFSET + ((caplen.min(MAX_PACKET_LEN) + 3) & !3);
        if caplen > MAX_PACKET_LEN || EPB_DATA_OFFSET + caplen > len - 4 {
            self.warn(DecodeError::bad_length(
                offset + 20,
                "Enhanced Packet Block captured length (block skipped)",
                caplen as u64,
            ));
            return None;
        }
        let iface = self.interface(offset, if_id, "Enhanced Packet Block")?;
        let ts = iface.clock.timestamp((ts_high as u64) << 32 | ts_low as u64);
        let opts_len = (len - 4).saturating_sub(opts_start);
        Some(Found {
            offset,
            back: len - EPB_DATA_OFFSET,
            caplen,
            ts,
            point: iface.point,
            link: iface.link,
            orig_len,
            opts: (opts_len > 0).then(|| (len - opts_start, opts_len)),
        })
    }

    fn simple_packet(&mut self, offset: u64, len: usize) -> Option<Found> {
        let big = self.big_endian;
        let block = &self.buf.available()[..len];
        let parsed = if big { parse_simplepacketblock_be(block) } else { parse_simplepacketblock_le(block) };
        let orig_len = match parsed {
            Ok((_, spb)) => spb.origlen,
            Err(_) => {
                self.warn(DecodeError::other(offset, "Simple Packet Block does not parse; skipped"));
                return None;
            }
        };
        let iface = self.interface(offset, 0, "Simple Packet Block")?;
        // An SPB holds min(original length, snap length) bytes, padded.
        let room = len - SPB_DATA_OFFSET - 4;
        let mut caplen = (orig_len as usize).min(room);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        Some(Found {
            offset,
            back: len - SPB_DATA_OFFSET,
            caplen,
            // An SPB has no timestamp; keep the order by using the section start.
            ts: Timestamp(0),
            point: iface.point,
            link: iface.link,
            orig_len,
            opts: None,
        })
    }

    /// Type 2, superseded by the EPB in 2011 but still readable: interface id
    /// and drop count are 16-bit.
    fn obsolete_packet(&mut self, offset: u64, len: usize) -> Option<Found> {
        let big = self.big_endian;
        if len < OPB_DATA_OFFSET + 4 {
            self.warn(DecodeError::bad_length(offset + 4, "Packet Block (obsolete) length", len as u64));
            return None;
        }
        let block = &self.buf.available()[..len];
        let if_id = u16_at(block, 8, big) as u32;
        let ts_high = u32_at(block, 12, big);
        let ts_low = u32_at(block, 16, big);
        let caplen = u32_at(block, 20, big) as usize;
        let orig_len = u32_at(block, 24, big);
        if OPB_DATA_OFFSET + caplen > len - 4 {
            self.warn(DecodeError::bad_length(offset + 20, "Packet Block (obsolete) captured length", caplen as u64));
            return None;
        }
        let iface = self.interface(offset, if_id, "Packet Block")?;
        let ts = iface.clock.timestamp((ts_high as u64) << 32 | ts_low as u64);
        let opts_start = OPB_DATA_OFFSET + ((caplen + 3) & !3);
        let opts_len = (len - 4).saturating_sub(opts_start);
        Some(Found {
            offset,
            back: len - OPB_DATA_OFFSET,
            caplen,
            ts,
            point: iface.point,
            link: iface.link,
            orig_len,
            opts: (opts_len > 0).then(|| (len - opts_start, opts_len)),
        })
    }
}

fn block_name(t: u32) -> &'static str {
    match t {
        SHB_TYPE => "Section Header Block",
        IDB_TYPE => "Interface Description Block",
        OPB_TYPE => "Packet Block",
        SPB_TYPE => "Simple Packet Block",
        EPB_TYPE => "Enhanced Packet Block",
        4 => "Name Resolution Block",
        5 => "Interface Statistics Block",
        9 => "systemd Journal Export Block",
        10 => "Decryption Secrets Block",
        0x0000_0BAD | 0x4000_0BAD => "Custom Block",
        _ => "block",
    }
}

/// Options of a packet block: code u16, length u16, value padded to 4.
/// Malformed options end the list; they never fail the packet.
fn parse_packet_options(raw: &[u8], big: bool) -> PacketMeta<'_> {
    let mut meta = PacketMeta::default();
    let mut pos = 0;
    while pos + 4 <= raw.len() {
        let code = u16_at(raw, pos, big);
        let len = u16_at(raw, pos + 2, big) as usize;
        let start = pos + 4;
        if code == 0 || start + len > raw.len() {
            break;
        }
        let value = &raw[start..start + len];
        match (code, len) {
            (OPT_COMMENT, _) => {
                if let Ok(s) = std::str::from_utf8(value) {
                    meta.comments.push(s.trim_end_matches('\0'));
                }
            }
            (OPT_EPB_FLAGS, 4) => {
                let flags = u32_at(value, 0, big);
                meta.flags = flags;
                meta.direction = match flags & 0b11 {
                    1 => Direction::Inbound,
                    2 => Direction::Outbound,
                    _ => Direction::Unknown,
                };
            }
            (OPT_EPB_PACKETID, 8) => {
                let w: [u8; 8] = value.try_into().unwrap_or_default();
                meta.packet_id = Some(if big { u64::from_be_bytes(w) } else { u64::from_le_bytes(w) });
            }
            (OPT_EPB_VERDICT, _) => meta.verdicts.push(value),
            _ => {}
        }
        pos = start + ((len + 3) & !3);
    }
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let len = (BLOCK_OVERHEAD + body.len()) as u32;
        let mut v = t.to_le_bytes().to_vec();
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(body);
        v.extend_from_slice(&len.to_le_bytes());
        v
    }

    fn shb() -> Vec<u8> {
        let mut body = BYTE_ORDER_MAGIC.to_le_bytes().to_vec();
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        block(SHB_TYPE, &body)
    }

    fn idb(tsresol: Option<u8>) -> Vec<u8> {
        let mut body = 1u16.to_le_bytes().to_vec();
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        if let Some(r) = tsresol {
            body.extend_from_slice(&9u16.to_le_bytes());
            body.extend_from_slice(&1u16.to_le_bytes());
            body.extend_from_slice(&[r, 0, 0, 0]);
            body.extend_from_slice(&[0, 0, 0, 0]);
        }
        block(IDB_TYPE, &body)
    }

    fn epb(if_id: u32, ticks: u64, data: &[u8], flags: Option<u32>) -> Vec<u8> {
        let mut body = if_id.to_le_bytes().to_vec();
        body.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ticks as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        if let Some(f) = flags {
            body.extend_from_slice(&OPT_EPB_FLAGS.to_le_bytes());
            body.extend_from_slice(&4u16.to_le_bytes());
            body.extend_from_slice(&f.to_le_bytes());
            body.extend_from_slice(&[0, 0, 0, 0]);
        }
        block(EPB_TYPE, &body)
    }

    #[test]
    fn reads_packets_with_binary_resolution_and_flags() {
        let mut f = shb();
        f.extend(idb(Some(0x88)));
        f.extend(epb(0, 256 * 3 + 64, b"hello", Some(2)));
        let mut r = PcapNgReader::new(RefillBuffer::with_read_size(&f[..], 7));
        let e = r.next_event().unwrap().unwrap();
        assert_eq!(e.ts.0, 3_250_000_000);
        let EventKind::Packet(p) = e.kind else { panic!("not a packet") };
        assert_eq!(p.data, b"hello");
        assert_eq!(p.meta.direction, Direction::Outbound);
        assert!(r.next_event().unwrap().is_none());
    }

    #[test]
    fn unknown_interface_is_skipped_with_warning() {
        let mut f = shb();
        f.extend(idb(None));
        f.extend(epb(3, 1, b"x", None));
        f.extend(epb(0, 1, b"y", None));
        let mut r = PcapNgReader::new(RefillBuffer::new(&f[..]));
        let e = r.next_event().unwrap().unwrap();
        let EventKind::Packet(p) = e.kind else { panic!("not a packet") };
        assert_eq!(p.data, b"y");
        let w = r.take_warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].to_string().contains("interface 3"), "{}", w[0]);
    }

    #[test]
    fn lying_block_length_stops_with_offset() {
        let mut f = shb();
        f.extend(idb(None));
        let at = f.len();
        let mut bad = epb(0, 1, b"abc", None);
        bad[4..8].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
        f.extend(bad);
        let mut r = PcapNgReader::new(RefillBuffer::new(&f[..]));
        let err = r.next_event().unwrap_err();
        assert_eq!(err.offset, at as u64 + 4);
        assert!(r.next_event().unwrap().is_none());
    }
}
