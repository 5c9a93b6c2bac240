//! Windows Event Trace Log (.etl) reader. See `../shared/docs/etl-format.md`.
//!
//! An ETL file is a chain of buffers ([`buffer`]), each holding one CPU's
//! records ([`record`]), some compressed ([`xpress`]). The first record of
//! the file is the logfile header ([`logfile`]), which says how to turn raw
//! timestamps into UTC ([`clock`]). [`EtlReader`] streams buffers one at a
//! time from any `Read` and hands out records in global time order through
//! a bounded merge window ([`merge`]). Buffers are independent, so the
//! ones ahead of the reader are decoded on rayon's pool in bounded batches
//! (`batch`), and taken in file order: the output is the same as decoding
//! each inline.
//!
//! Damage stays local: a bad record ends its buffer, a bad buffer is
//! skipped and reading resynchronises at the next buffer header, each with
//! a warning naming the byte offset. A file cut short yields every record
//! before the cut, then one error naming where it ends.

mod batch;
pub mod buffer;
pub mod clock;
pub mod cursor;
pub mod events;
pub mod guid;
pub mod logfile;
pub mod manifest;
pub mod merge;
pub mod payload;
pub mod providers;
pub mod raw;
pub mod record;
pub mod xpress;

use std::collections::BTreeSet;
use std::io::Read;

use crate::error::DecodeError;
use crate::time::Timestamp;

pub use buffer::BufferHeader;
pub use clock::{Clock, ClockType};
pub use guid::Guid;
pub use logfile::LogfileHeader;
pub use payload::Payload;
pub use record::HeaderKind;

use crate::capture::refill::RefillBuffer;
use batch::{BufferFault, ChainRules, DecodeCtx, Decoded, Good, ReadAhead, Spares};
use merge::Window;
use raw::{buffer_flag, buffer_type, BUFFER_HEADER_LEN};
use record::{parse_at, Step};

/// Tuning for [`EtlReader`]; the defaults suit any file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EtlOptions {
    /// Buffers held for the time merge; 0 picks `max(256, 8 × CPUs)`,
    /// capped at 4096. On the corpus, 256 buffers put every record in
    /// order (the worst file, a relogged 8-CPU trace, needed 256; 64 left
    /// 2 258 of its 179 474 records late).
    pub window_buffers: usize,
    /// Bytes of (decompressed) buffers held for the merge; at least one
    /// buffer is always held whatever its size.
    pub window_bytes: usize,
    /// Warnings kept until [`EtlReader::take_warnings`]; later ones are
    /// only counted.
    pub max_pending_warnings: usize,
    /// Decode the buffers ahead of the reader on rayon's pool, in bounded
    /// batches (when the pool has more than one thread and the reader is
    /// not itself running on it); `false` decodes each buffer inline when
    /// it is reached. The records, their order, the statistics and the
    /// warnings are the same either way.
    pub parallel: bool,
}

impl Default for EtlOptions {
    fn default() -> Self {
        EtlOptions { window_buffers: 0, window_bytes: 128 << 20, max_pending_warnings: 1000, parallel: true }
    }
}

/// One extended data item of an EVENT_HEADER record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExtendedItem {
    /// `EVENT_HEADER_EXT_TYPE_*` (1 related activity id … 11 TraceLogging
    /// schema, 12 provider traits …).
    pub ext_type: u16,
    pub data: Vec<u8>,
}

/// One record: header fields, owned, and its payload, a shared range of
/// the (possibly decompressed) buffer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EtlRecord {
    /// UTC time of the record.
    pub ts: Timestamp,
    /// The raw clock value it was converted from (inherited from the
    /// previous record for WPP messages without a timestamp).
    pub raw_ts: i64,
    /// Processor of the buffer that held the record.
    pub cpu: u32,
    /// Absolute file offset: the record itself for uncompressed buffers,
    /// the buffer for compressed ones.
    pub offset: u64,
    /// File offset of the buffer.
    pub buffer_offset: u64,
    /// Index of the buffer in file order (0 = the header buffer).
    pub buffer_index: u64,
    /// Offset of the record inside its (decompressed) buffer, header included.
    pub in_buffer: u32,
    pub compressed: bool,
    pub header_kind: HeaderKind,
    /// `TRACE_HEADER_TYPE_*`.
    pub header_type: u8,
    /// 4 for records of 32-bit writers, else 8: the size of `Pointer` fields.
    pub pointer_size: u8,
    /// EVENT_HEADER ProviderId; classic: the event GUID; WPP: the message
    /// GUID when present; kernel (system/perfinfo) records: `None`.
    pub provider: Option<Guid>,
    /// EVENT_HEADER ActivityId; instance records: ParentGuid.
    pub activity_id: Option<Guid>,
    /// EVENT_HEADER Id; WPP MessageNumber; 0 otherwise.
    pub id: u16,
    /// EVENT_HEADER Version; classic Class.Version; system header version.
    pub version: u16,
    pub channel: u8,
    pub level: u8,
    /// EVENT_HEADER Opcode; classic Class.Type; system/perfinfo Type.
    pub opcode: u8,
    pub task: u16,
    pub keywords: u64,
    pub pid: u32,
    pub tid: u32,
    /// EVENT_HEADER Flags (`EVENT_HEADER_FLAG_*`); WPP OptionFlags.
    pub flags: u16,
    pub event_property: u16,
    /// (Group, Type) of system, compact and perfinfo records.
    pub kernel_group_type: Option<(u8, u8)>,
    pub extended: Vec<ExtendedItem>,
    /// The payload: a range of the buffer it was read from, shared.
    pub user_data: Payload,
}

impl EtlRecord {
    /// A record to be filled by [`EtlReader::next_record_into`].
    pub fn blank() -> EtlRecord {
        EtlRecord {
            ts: Timestamp::default(),
            raw_ts: 0,
            cpu: 0,
            offset: 0,
            buffer_offset: 0,
            buffer_index: 0,
            in_buffer: 0,
            compressed: false,
            header_kind: HeaderKind::Event,
            header_type: 0,
            pointer_size: 8,
            provider: None,
            activity_id: None,
            id: 0,
            version: 0,
            channel: 0,
            level: 0,
            opcode: 0,
            task: 0,
            keywords: 0,
            pid: 0,
            tid: 0,
            flags: 0,
            event_property: 0,
            kernel_group_type: None,
            extended: Vec::new(),
            user_data: Payload::default(),
        }
    }
}

/// Counters for what was read and what was lost or skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EtlStats {
    /// Buffers whose records were read, the header buffer included.
    pub buffers_read: u64,
    pub compressed_buffers: u64,
    /// Damaged buffers skipped whole (bad header, failed decompression).
    pub buffers_skipped: u64,
    /// Bytes passed over: skipped buffers and the gaps crossed while
    /// looking for the next buffer header.
    pub bytes_skipped: u64,
    /// Records returned by `next_record`.
    pub records: u64,
    /// Records of header types we do not decode (skipped by their size).
    pub records_skipped: u64,
    /// Records returned behind an already returned time (see [`merge`]).
    pub late_records: u64,
    /// `EventsLost` of the logfile header.
    pub events_lost: u64,
    /// `BuffersLost` of the logfile header.
    pub buffers_lost: u64,
    /// Buffers flagged EVENTS_LOST (events were lost before them).
    pub buffers_flagged_events_lost: u64,
    /// Buffers flagged BUFFER_LOST (buffers were lost before them).
    pub buffers_flagged_buffer_lost: u64,
    /// Sequence numbers missing between the lowest and highest read.
    pub sequence_gaps: u64,
    /// Warnings raised so far (including ones not kept).
    pub warnings: u64,
}

/// Everything but the byte source, so decoding can borrow the source's
/// bytes while updating the rest.
struct Inner {
    header: LogfileHeader,
    clock: Clock,
    logger_id: u16,
    stats: EtlStats,
    warnings: Vec<DecodeError>,
    max_warnings: usize,
    seq_min: i64,
    seq_max: i64,
    seq_count: u64,
}

impl Inner {
    fn warn(&mut self, e: DecodeError) {
        self.stats.warnings += 1;
        if self.warnings.len() < self.max_warnings {
            self.warnings.push(e);
        }
    }

    /// What decoding needs of the file, on any thread.
    fn ctx(&self) -> DecodeCtx {
        DecodeCtx { clock: self.clock, cpus: self.header.number_of_processors }
    }

    /// Counts a buffer that was read (decoded by [`batch::decode`], here or
    /// ahead on the pool) and reports what decoding it raised, in file
    /// order.
    fn count(&mut self, hdr: &BufferHeader, good: Good) -> Decoded {
        self.stats.buffers_read += 1;
        if hdr.is_compressed() {
            self.stats.compressed_buffers += 1;
        }
        if hdr.flags & buffer_flag::EVENTS_LOST != 0 {
            self.stats.buffers_flagged_events_lost += 1;
        }
        if hdr.flags & buffer_flag::BUFFER_LOST != 0 {
            self.stats.buffers_flagged_buffer_lost += 1;
        }
        self.seq_min = self.seq_min.min(hdr.sequence_number);
        self.seq_max = self.seq_max.max(hdr.sequence_number);
        self.seq_count += 1;
        self.stats.records_skipped += good.records_skipped;
        for w in good.warnings {
            self.warn(w);
        }
        good.run
    }
}

enum Mode {
    /// The next buffer starts at the current offset.
    Chained,
    /// After damage: looking for a plausible buffer header.
    Hunting {
        from: u64,
    },
    Eof,
}

/// Streams the records of an ETL file in global time order.
pub struct EtlReader<R: Read> {
    src: RefillBuffer<R>,
    inner: Inner,
    window: Window<Decoded>,
    max_runs: usize,
    max_bytes: usize,
    /// Buffer headers met so far (file order), the header buffer included.
    next_index: u64,
    mode: Mode,
    fatal: Option<DecodeError>,
    done: bool,
    /// Buffers decoded ahead on the pool (`None`: each is decoded inline).
    ahead: Option<ReadAhead>,
    /// Released runs, for their allocations.
    spares: Spares,
    /// File offsets of the runs in the window whose records lie in the
    /// mapped file: its pages stay resident until those records are
    /// handed out, as pages released under them would be faulted back in
    /// and never released again.
    mapped_runs: BTreeSet<u64>,
}

impl<R: Read> EtlReader<R> {
    /// Reads and checks the first buffer and its logfile header.
    pub fn new(reader: R) -> Result<Self, DecodeError> {
        Self::with_options(reader, EtlOptions::default())
    }

    pub fn with_options(reader: R, opts: EtlOptions) -> Result<Self, DecodeError> {
        Self::from_buffer(RefillBuffer::new(reader), opts)
    }

    /// Reads from `src`, positioned at the start of the file. Over a mapped
    /// file, buffers decoded ahead are read from the map, not copied.
    pub fn from_buffer(mut src: RefillBuffer<R>, opts: EtlOptions) -> Result<Self, DecodeError> {
        let io_err = |e: std::io::Error| DecodeError::other(0, format!("read error: {e}"));
        let have = src.fill_available(BUFFER_HEADER_LEN).map_err(io_err)?;
        let hdr = BufferHeader::parse(&src.available()[..have.min(BUFFER_HEADER_LEN)], 0)?;
        hdr.check(0).map_err(|e| e.within("header buffer"))?;
        if hdr.is_compressed() {
            return Err(DecodeError::unsupported(0, "header buffer", "flagged compressed").within("header buffer"));
        }
        let size = hdr.buffer_size as usize;
        let have = src.fill_available(size).map_err(io_err)?;
        let raw = &src.available()[..have.min(size)];
        let end = hdr.data_end(0).map_err(|e| e.within("header buffer"))?.min(raw.len());
        let records = raw.get(BUFFER_HEADER_LEN..end).unwrap_or(&[]);
        let first = match parse_at(records, 0, BUFFER_HEADER_LEN as u64).map_err(|e| e.within("header buffer"))? {
            Step::Record(v, _) => v,
            _ => {
                return Err(
                    DecodeError::other(BUFFER_HEADER_LEN as u64, "no logfile-header record").within("header buffer")
                )
            }
        };
        let header = LogfileHeader::parse(&first, BUFFER_HEADER_LEN as u64).map_err(|e| e.within("header buffer"))?;
        let cpus = header.number_of_processors as usize;
        let max_runs = match opts.window_buffers {
            0 => (8 * cpus).clamp(256, 4096),
            n => n,
        };
        let mut inner = Inner {
            clock: header.clock(),
            logger_id: hdr.logger_id,
            stats: EtlStats {
                events_lost: header.events_lost as u64,
                buffers_lost: header.buffers_lost as u64,
                ..EtlStats::default()
            },
            header,
            warnings: Vec::new(),
            max_warnings: opts.max_pending_warnings,
            seq_min: i64::MAX,
            seq_max: i64::MIN,
            seq_count: 0,
        };
        if hdr.buffer_type != buffer_type::HEADER {
            inner.warn(
                DecodeError::unsupported(
                    0x36,
                    "first buffer type",
                    format!("{} (expected 4, HEADER)", hdr.buffer_type),
                )
                .within("header buffer"),
            );
        }
        if inner.header.pointer_size_field != 4 && inner.header.pointer_size_field != 8 {
            inner.warn(DecodeError::bad_length(
                BUFFER_HEADER_LEN as u64 + 0x20 + 0x2C,
                format!("logfile PointerSize (using {} from the header type)", inner.header.pointer_size),
                inner.header.pointer_size_field as u64,
            ));
        }
        let (run, fault) = match batch::decode(inner.ctx(), &hdr, raw, None, 0, 0, Decoded::empty()) {
            Ok(good) => (inner.count(&hdr, good), None),
            Err(f) => (Decoded::empty(), Some(f)),
        };
        let cut = have < size;
        src.consume(have.min(size));
        let mut window = Window::new();
        window.push(run);
        let rules =
            ChainRules { ctx: inner.ctx(), written: inner.header.buffers_written as u64, logger_id: inner.logger_id };
        let ahead = if opts.parallel { ReadAhead::new(rules) } else { None };
        let mut reader = EtlReader {
            src,
            inner,
            window,
            max_runs,
            max_bytes: opts.window_bytes,
            next_index: 1,
            mode: Mode::Chained,
            fatal: None,
            done: false,
            ahead,
            spares: Spares::default(),
            mapped_runs: BTreeSet::new(),
        };
        if let Some(BufferFault::SkipBySize(e) | BufferFault::Rescan(e)) = fault {
            reader.inner.warn(e);
        }
        if cut {
            reader.cut_short(0, size, have);
        }
        Ok(reader)
    }

    pub fn header(&self) -> &LogfileHeader {
        &self.inner.header
    }

    /// The clock converting raw timestamps of this file.
    pub fn clock(&self) -> Clock {
        self.inner.clock
    }

    /// Bytes consumed from the input so far.
    pub fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// Next record in global time order. A fatal error (read error, file
    /// cut short) is returned once, after every record before it; then
    /// `None`.
    pub fn next_record(&mut self) -> Option<Result<EtlRecord, DecodeError>> {
        let mut rec = EtlRecord::blank();
        Some(self.next_record_into(&mut rec)?.map(|()| rec))
    }

    /// [`next_record`](Self::next_record) written over `rec`, reusing its
    /// payload allocations.
    pub fn next_record_into(&mut self, rec: &mut EtlRecord) -> Option<Result<(), DecodeError>> {
        while !self.done {
            self.fill_window();
            if let Some(filled) = self.window.pop(|run, i| run.fill_record(i, rec)) {
                self.put_spent();
                if filled {
                    self.inner.stats.records += 1;
                    return Some(Ok(()));
                }
                continue;
            }
            // The window is empty only at the end of the input.
            self.done = true;
            if let Some(e) = self.fatal.take() {
                return Some(Err(e));
            }
        }
        None
    }

    /// Damage skipped since the last call, each naming its byte offset.
    pub fn take_warnings(&mut self) -> Vec<DecodeError> {
        std::mem::take(&mut self.inner.warnings)
    }

    pub fn stats(&self) -> EtlStats {
        let mut s = self.inner.stats.clone();
        s.late_records = self.window.late();
        if self.inner.seq_count > 0 {
            let span = (self.inner.seq_max as i128 - self.inner.seq_min as i128 + 1).max(0) as u128;
            s.sequence_gaps = span.saturating_sub(self.inner.seq_count as u128).min(u64::MAX as u128) as u64;
        }
        s
    }

    fn fill_window(&mut self) {
        while !matches!(self.mode, Mode::Eof)
            && (self.window.is_empty() || (self.window.runs() < self.max_runs && self.window.bytes() < self.max_bytes))
        {
            self.step();
        }
    }

    /// Keeps the allocations of the runs the window is done with.
    fn put_spent(&mut self) {
        let mut any = false;
        while let Some(spent) = self.window.take_spent() {
            if let Some(at) = spent.mapped_at() {
                self.mapped_runs.remove(&at);
            }
            self.spares.put(spent);
            any = true;
        }
        if any {
            self.keep_window_mapped();
        }
    }

    /// Keeps the map resident from the first run in the window on.
    fn keep_window_mapped(&mut self) {
        self.src.keep_from(self.mapped_runs.first().copied().unwrap_or(u64::MAX));
    }

    fn io_error(&mut self, e: std::io::Error) {
        let off = self.src.offset();
        self.fatal = Some(DecodeError::other(off, format!("read error: {e}")));
        self.mode = Mode::Eof;
    }

    /// The input ended inside the buffer at `offset`.
    fn cut_short(&mut self, offset: u64, size: usize, have: usize) {
        self.fatal = Some(DecodeError::truncated(offset, "buffer", size as u64, have as u64).within(format!(
            "buffer {} (file ends at {:#x})",
            self.next_index - 1,
            offset + have as u64
        )));
        self.mode = Mode::Eof;
    }

    /// Reads (or skips) one buffer, or moves the hunt for one forward.
    /// Always consumes input or reaches the end.
    fn step(&mut self) {
        match self.mode {
            Mode::Eof => {}
            Mode::Hunting { from } => self.hunt(from),
            Mode::Chained => self.chained(),
        }
    }

    fn chained(&mut self) {
        let offset = self.src.offset();
        let avail = match self.src.fill_available(BUFFER_HEADER_LEN) {
            Ok(n) => n,
            Err(e) => return self.io_error(e),
        };
        let written = self.inner.header.buffers_written as u64;
        if avail == 0 {
            if self.next_index < written && !self.inner.header.is_circular() {
                self.inner.warn(DecodeError::other(
                    offset,
                    format!("file ends after {} buffers; the logfile header announces {written}", self.next_index),
                ));
            }
            self.mode = Mode::Eof;
            return;
        }
        let head = &self.src.available()[..avail.min(BUFFER_HEADER_LEN)];
        let past_written = self.next_index >= written;
        if avail < BUFFER_HEADER_LEN {
            if !(past_written && is_filler(head)) {
                self.fatal = Some(
                    DecodeError::truncated(offset, "buffer header", BUFFER_HEADER_LEN as u64, avail as u64)
                        .within(format!("buffer {}", self.next_index)),
                );
            }
            self.mode = Mode::Eof;
            return;
        }
        let Ok(hdr) = BufferHeader::parse(head, offset) else {
            self.mode = Mode::Eof;
            return;
        };
        let cpus = self.inner.header.number_of_processors;
        if past_written && !hdr.plausible(self.inner.logger_id, cpus) {
            // BuffersWritten are all read and what follows is no buffer:
            // filler (0xFF or zeros) ends the file quietly.
            if !is_filler(head) {
                self.inner.warn(
                    DecodeError::other(
                        offset,
                        "data after the last buffer (BuffersWritten reached) is not a buffer; ignored",
                    )
                    .within(format!("buffer {}", self.next_index)),
                );
            }
            self.mode = Mode::Eof;
            return;
        }
        let index = self.next_index;
        if let Err(e) = hdr.check(offset) {
            self.inner.warn(e.within(format!("buffer {index}")));
            self.inner.stats.buffers_skipped += 1;
            self.next_index += 1;
            self.start_hunt(offset);
            return;
        }
        let size = hdr.buffer_size as usize;
        let have = match self.src.fill_available(size) {
            Ok(n) => n.min(size),
            Err(e) => return self.io_error(e),
        };
        self.next_index += 1;
        let ahead = self.ahead.as_mut().and_then(|a| a.take(&mut self.src, &mut self.spares, offset, index));
        let outcome = match ahead {
            Some(o) => o,
            None => {
                let run = self.spares.get();
                batch::decode(self.inner.ctx(), &hdr, &self.src.available()[..have], self.src.map(), offset, index, run)
            }
        };
        match outcome {
            Ok(good) => {
                let run = self.inner.count(&hdr, good);
                if let Some(at) = run.mapped_at() {
                    self.mapped_runs.insert(at);
                    self.keep_window_mapped();
                }
                self.window.push(run);
                self.put_spent();
                self.src.consume(have);
                if have < size {
                    self.cut_short(offset, size, have);
                }
            }
            Err(BufferFault::SkipBySize(e)) => {
                self.inner.warn(e);
                self.inner.stats.buffers_skipped += 1;
                self.inner.stats.bytes_skipped += have as u64;
                self.src.consume(have);
                if have < size {
                    self.cut_short(offset, size, have);
                }
            }
            Err(BufferFault::Rescan(e)) => {
                self.inner.warn(e);
                self.inner.stats.buffers_skipped += 1;
                self.start_hunt(offset);
            }
        }
    }

    /// Starts looking for a buffer header after the bad one at `bad`.
    fn start_hunt(&mut self, bad: u64) {
        self.src.consume(1);
        self.inner.stats.bytes_skipped += 1;
        self.mode = Mode::Hunting { from: bad };
    }

    /// Slides byte by byte until 0x48 bytes look like a buffer header of
    /// this session.
    fn hunt(&mut self, from: u64) {
        let cpus = self.inner.header.number_of_processors;
        let logger = self.inner.logger_id.to_le_bytes();
        loop {
            let avail = match self.src.fill_available(BUFFER_HEADER_LEN) {
                Ok(n) => n,
                Err(e) => return self.io_error(e),
            };
            if avail < BUFFER_HEADER_LEN {
                let end = self.src.offset() + avail as u64;
                self.inner.stats.bytes_skipped += avail as u64;
                self.src.consume(avail);
                self.inner.warn(DecodeError::other(
                    from,
                    format!("no buffer header found after the damaged buffer @{from:#x} up to the end of the file @{end:#x}"),
                ));
                self.mode = Mode::Eof;
                return;
            }
            // Scan what is buffered without refilling for every byte.
            let window = self.src.available();
            let last = window.len() - BUFFER_HEADER_LEN;
            let mut found = None;
            for i in 0..=last {
                let b = &window[i..i + BUFFER_HEADER_LEN];
                if b[0x2A..0x2C] != logger {
                    continue;
                }
                if let Ok(h) = BufferHeader::parse(b, 0) {
                    if h.plausible(self.inner.logger_id, cpus) {
                        found = Some(i);
                        break;
                    }
                }
            }
            match found {
                Some(i) => {
                    self.src.consume(i);
                    self.inner.stats.bytes_skipped += i as u64;
                    let at = self.src.offset();
                    self.inner.warn(DecodeError::other(
                        from,
                        format!("damaged buffer skipped; reading resumes at the buffer header found @{at:#x}"),
                    ));
                    self.mode = Mode::Chained;
                    return;
                }
                None => {
                    self.src.consume(last + 1);
                    self.inner.stats.bytes_skipped += (last + 1) as u64;
                }
            }
        }
    }
}

impl<R: Read> Iterator for EtlReader<R> {
    type Item = Result<EtlRecord, DecodeError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}

/// All 0xFF or all zeros: the unused tail of a preallocated file.
fn is_filler(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0xFF) || b.iter().all(|&x| x == 0)
}
