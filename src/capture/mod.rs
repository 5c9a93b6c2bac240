//! What is in a capture file: recognise the format by its first bytes and
//! stream its records as [`Event`]s.
//!
//! Readers know nothing about flows or reports; they only turn bytes into
//! events and say precisely where and why they could not.

pub mod etl;
pub mod pcap;
pub mod pcapng;
pub mod refill;

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::error::{CaptureError, DecodeError};
use crate::event::{CapturePoint, Event};
use refill::RefillBuffer;

/// No link layer carries frames above this; anything larger in a length
/// field is damage, refused before we allocate for it.
pub const MAX_PACKET_LEN: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pcap,
    Pcapng,
    Etl,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
            Format::Etl => "etl",
        }
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Bytes needed to tell every format apart (an ETL's first record starts at 0x48).
const SNIFF_LEN: usize = 0x50;

/// Recognise a capture by its first bytes.
pub fn sniff(head: &[u8]) -> Option<Format> {
    let word = |at: usize| head.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()));
    match word(0)? {
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0xa1b2_cd34 | 0x34cd_b2a1 => return Some(Format::Pcap),
        pcapng::SHB_TYPE => return Some(Format::Pcapng),
        _ => {}
    }
    // ETL: a buffer header whose first record is the logfile-header system
    // event (marker 0xC0010002 or 0xC0020002).
    match word(0x48) {
        Some(0xC001_0002) | Some(0xC002_0002) => Some(Format::Etl),
        _ => None,
    }
}

/// The reader for one format.
pub enum Reader {
    Pcap(pcap::PcapReader<Box<dyn Read + Send>>),
    Pcapng(pcapng::PcapNgReader<Box<dyn Read + Send>>),
    Etl(Box<etl::events::EtlEvents<Box<dyn Read + Send>>>),
}

/// What a capture lost or could not read, as far as its format records it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Losses {
    pub events_lost: u64,
    pub buffers_lost: u64,
    pub bytes_skipped: u64,
}

/// An open capture: its path and format, and a reader positioned at its
/// first record.
pub struct Capture {
    pub path: PathBuf,
    pub format: Format,
    pub reader: Reader,
}

impl Capture {
    /// Opens a file (or standard input for `-`) and recognises its format.
    /// gzip-compressed captures are decompressed on the fly.
    pub fn open(path: &Path) -> Result<Capture, CaptureError> {
        if path.as_os_str() == "-" {
            return Self::from_reader(path, Box::new(io::stdin()));
        }
        let file = File::open(path).map_err(|e| CaptureError::io(path, e))?;
        if let Some(capture) = Self::open_mapped(path, &file) {
            return capture;
        }
        Self::from_reader(path, Box::new(file))
    }

    /// Files are read from a memory map: no read() copies, and packets (or
    /// ETL buffers) are slices of the map that decoding threads can share.
    /// `None` when the file cannot or should not be mapped (pipes, gzip).
    fn open_mapped(path: &Path, file: &File) -> Option<Result<Capture, CaptureError>> {
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        // SAFETY: the map is read-only and private to this process. A file
        // truncated or rewritten by another process while we read it is
        // outside what any reader can promise; ripgrep and others make the
        // same trade for the same speed.
        let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
        let format = sniff(&map[..map.len().min(SNIFF_LEN)])?;
        // Not for ETL: the reader touches each buffer's header first, and
        // with MADV_SEQUENTIAL every such fault ran the kernel's
        // synchronous readahead over pages already cached (5% of the
        // reading thread's time on swarm-1G); plain fault-around is enough.
        #[cfg(unix)]
        if format != Format::Etl {
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        let empty: Box<dyn Read + Send> = Box::new(io::empty());
        let buf = RefillBuffer::mapped(empty, std::sync::Arc::new(map));
        let decode = |e: DecodeError| CaptureError::decode(path, e);
        let reader = match format {
            Format::Pcap => pcap::PcapReader::new(buf).map(Reader::Pcap).map_err(decode),
            Format::Pcapng => Ok(Reader::Pcapng(pcapng::PcapNgReader::new(buf))),
            Format::Etl => etl::EtlReader::from_buffer(buf, etl::EtlOptions::default())
                .map(|r| Reader::Etl(Box::new(etl::events::EtlEvents::new(r))))
                .map_err(decode),
        };
        Some(reader.map(|reader| Capture { path: path.to_path_buf(), format, reader }))
    }

    /// The memory map a pcap or pcapng capture is read from, if it is one,
    /// whose packets can be handed to decoding threads as offsets. `None`
    /// for ETL: its packets are in decoded buffers, not in the map.
    pub fn map(&self) -> Option<&std::sync::Arc<memmap2::Mmap>> {
        match &self.reader {
            Reader::Pcap(r) => r.map(),
            Reader::Pcapng(r) => r.map(),
            Reader::Etl(_) => None,
        }
    }

    /// Mapped captures: bytes from `offset` on are still read by other
    /// threads, so their pages stay resident.
    pub fn keep_mapped_from(&mut self, offset: u64) {
        match &mut self.reader {
            Reader::Pcap(r) => r.keep_mapped_from(offset),
            Reader::Pcapng(r) => r.keep_mapped_from(offset),
            Reader::Etl(_) => {}
        }
    }

    pub fn from_reader(path: &Path, input: Box<dyn Read + Send>) -> Result<Capture, CaptureError> {
        Self::from_reader_sized(path, input, refill::DEFAULT_READ_SIZE)
    }

    /// `read_size` is the size of each read; tests use tiny ones.
    pub fn from_reader_sized(
        path: &Path,
        input: Box<dyn Read + Send>,
        read_size: usize,
    ) -> Result<Capture, CaptureError> {
        let mut buf = RefillBuffer::with_read_size(input, read_size);
        // A damaged gzip stream fails here; say where in it.
        buf.fill(SNIFF_LEN).map_err(|e| {
            CaptureError::decode(path, DecodeError::other(buf.offset() + buf.len() as u64, format!("read error: {e}")))
        })?;
        if buf.available().starts_with(&GZIP_MAGIC) {
            // Re-read through the decompressor; offsets then count
            // decompressed bytes, which is what a user can inspect.
            let rest = std::mem::replace(&mut buf, RefillBuffer::new(Box::new(io::empty()) as Box<dyn Read + Send>));
            let gz: Box<dyn Read + Send> = Box::new(flate2::read::MultiGzDecoder::new(rest.into_reader()));
            return Self::from_reader_sized(path, gz, read_size);
        }
        let head = buf.available();
        let format = match sniff(head) {
            Some(f) => f,
            None if head.is_empty() => {
                return Err(CaptureError::UnknownFormat { path: path.into(), detail: "the file is empty".into() })
            }
            None => {
                let shown: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
                return Err(CaptureError::UnknownFormat {
                    path: path.into(),
                    detail: format!("first bytes are {}", shown.join(" ")),
                });
            }
        };
        let decode = |e: DecodeError| CaptureError::decode(path, e);
        let reader = match format {
            Format::Pcap => Reader::Pcap(pcap::PcapReader::new(buf).map_err(decode)?),
            Format::Pcapng => Reader::Pcapng(pcapng::PcapNgReader::new(buf)),
            Format::Etl => {
                let input: Box<dyn Read + Send> = Box::new(buf.into_reader());
                let reader = etl::EtlReader::new(input).map_err(decode)?;
                Reader::Etl(Box::new(etl::events::EtlEvents::new(reader)))
            }
        };
        Ok(Capture { path: path.to_path_buf(), format, reader })
    }

    /// The next event, `Ok(None)` at the end, or the error that ended the
    /// file (returned once; the events before it have all been returned).
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, CaptureError> {
        Ok(self.next_with_points()?.map(|(e, _)| e))
    }

    /// [`next_event`](Self::next_event) with the capture points known so far.
    #[inline(always)]
    pub fn next_with_points(&mut self) -> Result<Option<(Event<'_>, &[CapturePoint])>, CaptureError> {
        let path = &self.path;
        let r = match &mut self.reader {
            Reader::Pcap(r) => r.next_with_points(),
            Reader::Pcapng(r) => r.next_with_points(),
            Reader::Etl(r) => r.next_with_points(),
        };
        r.map_err(|e| CaptureError::decode(path, e))
    }

    /// Packet blocks ahead that a memory-mapped pcapng can hand out without
    /// parsing them (see [`pcapng::PcapNgReader::next_packet_frames`]); 0
    /// for every other capture, whose packets come from `next_with_points`.
    pub fn next_packet_frames(&mut self, max: usize, each: impl FnMut(pcapng::PacketFrame)) -> usize {
        match &mut self.reader {
            Reader::Pcapng(r) if r.map().is_some() => r.next_packet_frames(max, each),
            _ => 0,
        }
    }

    pub fn points(&self) -> &[CapturePoint] {
        match &self.reader {
            Reader::Pcap(r) => r.points(),
            Reader::Pcapng(r) => r.points(),
            Reader::Etl(r) => r.points(),
        }
    }

    /// Damage skipped since the last call, as messages naming file and offset.
    pub fn take_warnings(&mut self) -> Vec<String> {
        let ws = match &mut self.reader {
            Reader::Pcap(_) => Vec::new(),
            Reader::Pcapng(r) => r.take_warnings(),
            Reader::Etl(r) => r.take_warnings(),
        };
        ws.into_iter().map(|w| format!("{}: {w}", self.path.display())).collect()
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        match &self.reader {
            Reader::Pcap(r) => r.offset(),
            Reader::Pcapng(r) => r.offset(),
            Reader::Etl(r) => r.offset(),
        }
    }

    /// Events and buffers the capture says it lost, and bytes we skipped.
    pub fn losses(&self) -> Losses {
        match &self.reader {
            Reader::Etl(r) => {
                let s = r.reader().stats();
                Losses {
                    events_lost: s.events_lost,
                    buffers_lost: s.buffers_lost.max(s.buffers_flagged_buffer_lost) + s.buffers_skipped,
                    bytes_skipped: s.bytes_skipped,
                }
            }
            _ => Losses::default(),
        }
    }

    /// ETL records that arrived behind the time-merge window and were
    /// handed out late (out of time order) rather than dropped.
    pub fn late_records(&self) -> u64 {
        match &self.reader {
            Reader::Etl(r) => r.reader().stats().late_records,
            _ => 0,
        }
    }

    /// For readers that only want packets: an ETL's VmSwitch NBL events
    /// are handed out as `Other` without being decoded.
    pub fn skip_switch_events(&mut self) {
        if let Reader::Etl(r) = &mut self.reader {
            r.skip_switch_events();
        }
    }

    /// The Windows build that wrote an ETL (0 for other formats).
    pub fn os_build(&self) -> u32 {
        match &self.reader {
            Reader::Etl(r) => r.os_build(),
            _ => 0,
        }
    }
}
