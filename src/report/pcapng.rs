//! A pcapng writer: one section, interfaces as capture points, Enhanced
//! Packet Blocks with the options Wireshark shows (comments, direction
//! flags, packet ids). Used by `generate` and by conversions.

use std::io::{self, Write};

use crate::event::{Direction, LinkType};
use crate::time::Timestamp;

use crate::capture::pcapng::{
    BYTE_ORDER_MAGIC, EPB_TYPE, IDB_TYPE, OPT_COMMENT, OPT_END, OPT_EPB_FLAGS, OPT_EPB_PACKETID, OPT_EPB_VERDICT,
    OPT_IF_DESCRIPTION, OPT_IF_NAME, OPT_IF_TSRESOL, OPT_SHB_USERAPPL, SHB_TYPE,
};

/// Per-packet options to write.
#[derive(Debug, Clone, Default)]
pub struct EpbOptions<'a> {
    pub direction: Direction,
    pub packet_id: Option<u64>,
    pub comment: Option<&'a str>,
    /// `epb_verdict`: verdict type byte followed by its data.
    pub verdict: Option<&'a [u8]>,
}

pub struct PcapNgWriter<W: Write> {
    out: W,
    block: Vec<u8>,
    interfaces: u32,
}

/// An Enhanced Packet Block's bytes before the packet: block type and
/// length, interface, timestamp, captured and original lengths.
const EPB_FIXED_LEN: usize = 28;

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

fn push_option(block: &mut Vec<u8>, code: u16, value: &[u8]) {
    block.extend_from_slice(&code.to_le_bytes());
    block.extend_from_slice(&(value.len() as u16).to_le_bytes());
    block.extend_from_slice(value);
    block.resize(block.len() + pad4(value.len()) - value.len(), 0);
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes the Section Header Block (little-endian, version 1.0).
    pub fn new(mut out: W, application: &str) -> io::Result<Self> {
        let mut body = Vec::new();
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        push_option(&mut body, OPT_SHB_USERAPPL, application.as_bytes());
        push_option(&mut body, OPT_END, &[]);
        write_block(&mut out, SHB_TYPE, &body)?;
        Ok(PcapNgWriter { out, block: Vec::with_capacity(2048), interfaces: 0 })
    }

    /// Adds an interface with nanosecond timestamps; returns its id.
    pub fn add_interface(&mut self, name: &str, link: LinkType, snaplen: u32) -> io::Result<u32> {
        self.add_interface_described(name, None, link, snaplen)
    }

    /// [`add_interface`](Self::add_interface) with an `if_description`.
    pub fn add_interface_described(
        &mut self,
        name: &str,
        description: Option<&str>,
        link: LinkType,
        snaplen: u32,
    ) -> io::Result<u32> {
        let mut body = Vec::new();
        body.extend_from_slice(&(link.0 as u16).to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&snaplen.to_le_bytes());
        push_option(&mut body, OPT_IF_NAME, name.as_bytes());
        if let Some(d) = description.filter(|d| !d.is_empty()) {
            push_option(&mut body, OPT_IF_DESCRIPTION, d.as_bytes());
        }
        push_option(&mut body, OPT_IF_TSRESOL, &[9]);
        push_option(&mut body, OPT_END, &[]);
        write_block(&mut self.out, IDB_TYPE, &body)?;
        self.interfaces += 1;
        Ok(self.interfaces - 1)
    }

    pub fn write_packet(
        &mut self,
        interface: u32,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
        opts: &EpbOptions<'_>,
    ) -> io::Result<()> {
        // The packet's bytes go straight to the output; the options after
        // them are put together first, since the block's length, written
        // before the bytes, counts them.
        let tail = &mut self.block;
        tail.clear();
        tail.resize(pad4(data.len()) - data.len(), 0);
        let mut any = false;
        if let Some(c) = opts.comment {
            push_option(tail, OPT_COMMENT, c.as_bytes());
            any = true;
        }
        let flags = match opts.direction {
            Direction::Unknown => 0u32,
            Direction::Inbound => 1,
            Direction::Outbound => 2,
        };
        if flags != 0 {
            push_option(tail, OPT_EPB_FLAGS, &flags.to_le_bytes());
            any = true;
        }
        if let Some(id) = opts.packet_id {
            push_option(tail, OPT_EPB_PACKETID, &id.to_le_bytes());
            any = true;
        }
        if let Some(v) = opts.verdict {
            push_option(tail, OPT_EPB_VERDICT, v);
            any = true;
        }
        if any {
            push_option(tail, OPT_END, &[]);
        }
        let block_len = (EPB_FIXED_LEN + data.len() + tail.len() + 4) as u32;
        tail.extend_from_slice(&block_len.to_le_bytes());
        let ticks = ts.0 as u64;
        let mut head = [0u8; EPB_FIXED_LEN];
        let fields = [
            EPB_TYPE,
            block_len,
            interface,
            (ticks >> 32) as u32,
            ticks as u32,
            data.len() as u32,
            orig_len.max(data.len() as u32),
        ];
        for (to, v) in head.chunks_exact_mut(4).zip(fields) {
            to.copy_from_slice(&v.to_le_bytes());
        }
        self.out.write_all(&head)?;
        self.out.write_all(data)?;
        self.out.write_all(tail)
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn write_block<W: Write>(out: &mut W, block_type: u32, body: &[u8]) -> io::Result<()> {
    let len = (12 + body.len()) as u32;
    out.write_all(&block_type.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&len.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::pcapng::PcapNgReader;
    use crate::capture::refill::RefillBuffer;
    use crate::event::EventKind;

    #[test]
    fn round_trips_through_the_reader() {
        let mut w = PcapNgWriter::new(Vec::new(), "test").unwrap();
        let i = w.add_interface("eth0", LinkType::ETHERNET, 65535).unwrap();
        let opts =
            EpbOptions { direction: Direction::Inbound, packet_id: Some(7), comment: Some("hello"), verdict: None };
        w.write_packet(i, Timestamp(1_500_000_000_123_456_789), b"abcde", 60, &opts).unwrap();
        let bytes = w.finish().unwrap();
        let mut r = PcapNgReader::new(RefillBuffer::new(&bytes[..]));
        let e = r.next_event().unwrap().unwrap();
        assert_eq!(e.ts, Timestamp(1_500_000_000_123_456_789));
        let EventKind::Packet(p) = e.kind else { panic!("not a packet") };
        assert_eq!((p.data, p.orig_len), (&b"abcde"[..], 60));
        assert_eq!(p.meta.direction, Direction::Inbound);
        assert_eq!(p.meta.packet_id, Some(7));
        assert_eq!(p.meta.comments, vec!["hello"]);
        assert_eq!(r.points()[0].name, "eth0");
    }
}
