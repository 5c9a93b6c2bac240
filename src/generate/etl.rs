//! An ETL writer: the inverse of [`crate::capture::etl`].
//!
//! The file it writes is what a 64-bit Windows session with a QPC clock
//! writes (etl-format.md §1–2):
//!
//! - a header buffer (`BufferType` 4, never compressed) whose only record is
//!   the SYSTEM_TRACE_HEADER logfile-header record (HookId 0): the x64
//!   `TRACE_LOGFILE_HEADER` (0x118 bytes) followed by the logger name and
//!   the log file name as NUL-terminated UTF-16LE. Clock type 1 (QPC) at
//!   10 MHz; the record's own timestamp is `T0`, the raw clock at
//!   `StartTime`;
//! - then per-CPU data buffers of 64-bit EVENT_HEADER records, 8-byte
//!   aligned, filled with 0xFF after the data, flagged PROC_INDEX with the
//!   CPU in `ProcessorIndex`, numbered by an increasing `SequenceNumber` in
//!   the order they are flushed.
//!
//! Each CPU fills its own buffer and flushes it when the next record does
//! not fit, and [`EtlWriter::finish`] flushes the rest in CPU order, so the
//! file order of events across CPUs is not their time order — as in real
//! files; the reader merges them. Events of one CPU should be given in time
//! order (real buffers are; the reader sorts a buffer that is not).
//!
//! `BuffersWritten`, `EndTime`, `EventsLost` and `BuffersLost` are known
//! only at the end: the header buffer is written first as a placeholder and
//! rewritten in place by [`EtlWriter::finish`], which is why the output must
//! be `Write + Seek` (wrap a `Vec<u8>` in `std::io::Cursor` to write to
//! memory). A writer dropped without `finish` leaves a file whose header
//! announces one buffer and whose last buffers are missing.
//!
//! With [`EtlWriterOptions::compress`] every data buffer is compressed with
//! MS-XCA plain LZ77 (buffer flag 0x40, §1.7): `BufferSize` = 0x48 + the
//! compressed length, `SavedOffset` = the uncompressed end. A buffer that
//! would not shrink is written uncompressed.

use std::io::{self, Seek, SeekFrom, Write};

use crate::capture::etl::raw::{
    buffer_field, buffer_flag, buffer_type, event_flag, header_type, log_file_mode, logfile_field, marker_flag,
    BUFFER_HEADER_LEN, EVENT_HEADER_LEN, FILETIME_UNIX_DIFF, HOOK_LOGFILE_HEADER, LOGFILE_HEADER_LEN_64,
    PROCESSOR_INDEX_MASK, SYSTEM_HEADER_LEN,
};
use crate::capture::etl::record::aligned;
use crate::capture::etl::{xpress, Guid};
use crate::time::Timestamp;

/// Buffer size netsh and most sessions use.
pub const DEFAULT_BUFFER_SIZE: usize = 64 << 10;
/// Largest ETW buffer Windows allocates (`MAX_ETW_BUFFER_SIZE`, Win8+).
pub const MAX_WRITER_BUFFER_SIZE: usize = 16 << 20;
/// Most CPUs a u16 `ProcessorIndex` can name.
pub const MAX_CPUS: u16 = PROCESSOR_INDEX_MASK + 1;
/// Largest record: the u16 size field of its header.
pub const MAX_RECORD_LEN: usize = u16::MAX as usize;
/// Raw clock rate written to `PerfFreq`.
pub const PERF_FREQ: i64 = 10_000_000;

/// Session id written to every buffer's `LoggerId`.
const LOGGER_ID: u16 = 0x12;
/// `ETW_BUFFER_STATE` of a buffer written to the file (flushed).
const BUFFER_STATE_FLUSH: u32 = 3;
/// `WMI_BUFFER_HEADER.CurrentOffset` (the reader ignores it).
const CURRENT_OFFSET: usize = 0x08;
/// `TRACE_LOGFILE_HEADER.ReservedFlags` for a QPC clock.
const CLOCK_TYPE_QPC: u32 = 1;
/// OS 10.0, log file layout 1.5, as observed in Windows 10 files.
const LOGFILE_VERSION: [u8; 4] = [0x0A, 0x00, 0x01, 0x05];
/// 15.625 ms in 100 ns units: the default timer resolution.
const TIMER_RESOLUTION: u32 = 156_250;
/// `CpuSpeedInMHz` of the imaginary host (unused by a QPC clock).
const CPU_SPEED_MHZ: u32 = 2394;
/// Offsets in the x64 `TRACE_LOGFILE_HEADER` after the pointer-sized fields.
const LOGFILE_TIME_ZONE_64: usize = logfile_field::LOGGER_NAME_PTR + 2 * 8;
const LOGFILE_BOOT_TIME_64: usize = 0xF8;
const LOGFILE_PERF_FREQ_64: usize = 0x100;
const LOGFILE_START_TIME_64: usize = 0x108;
const LOGFILE_RESERVED_FLAGS_64: usize = 0x110;
const LOGFILE_BUFFERS_LOST_64: usize = 0x114;
/// Offsets inside the 64-bit EVENT_HEADER (etl-format.md §2.8).
mod event_field {
    pub const SIZE: usize = 0x00;
    pub const HEADER_TYPE: usize = 0x02;
    pub const MARKER_FLAGS: usize = 0x03;
    pub const FLAGS: usize = 0x04;
    pub const THREAD_ID: usize = 0x08;
    pub const PROCESS_ID: usize = 0x0C;
    pub const TIMESTAMP: usize = 0x10;
    pub const PROVIDER_ID: usize = 0x18;
    pub const ID: usize = 0x28;
    pub const VERSION: usize = 0x2A;
    pub const LEVEL: usize = 0x2C;
    pub const OPCODE: usize = 0x2D;
    pub const TASK: usize = 0x2E;
    pub const KEYWORD: usize = 0x30;
}
/// Offsets inside SYSTEM_TRACE_HEADER (etl-format.md §2.3).
mod system_field {
    pub const VERSION: usize = 0x00;
    pub const HEADER_TYPE: usize = 0x02;
    pub const FLAGS: usize = 0x03;
    pub const SIZE: usize = 0x04;
    pub const HOOK_ID: usize = 0x06;
    pub const THREAD_ID: usize = 0x08;
    pub const PROCESS_ID: usize = 0x0C;
    pub const SYSTEM_TIME: usize = 0x10;
}
/// Version word of the logfile-header SYSTEM_TRACE_HEADER.
const SYSTEM_HEADER_VERSION: u16 = 2;
/// Process and thread of the session controller (netsh, logman...) in the
/// logfile-header record.
const SESSION_PROCESS_ID: u32 = 0x17e0;
const SESSION_THREAD_ID: u32 = 0x1f80;
/// The time zone written: UTC, as on Azure VMs.
const TIME_ZONE_NAME: &str = "Coordinated Universal Time";

/// How the file is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtlWriterOptions {
    /// Session start (`StartTime`); event times convert relative to it.
    pub start: Timestamp,
    /// `NumberOfProcessors`; every event's CPU must be below it.
    pub cpus: u16,
    /// Bytes per buffer, header included: a multiple of 8 between what the
    /// logfile header needs and 16 MiB.
    pub buffer_size: usize,
    /// Compress the data buffers (and set `COMPRESSED_MODE` in `LogFileMode`).
    pub compress: bool,
    /// `ProviderVersion`: the OS build, e.g. 16299 for Windows Server 1709.
    pub provider_version: u32,
    pub logger_name: String,
    pub log_file_name: String,
    /// Raw QPC ticks (10 MHz) at `start`: the host's uptime. `BootTime` is
    /// `start` minus this.
    pub qpc_at_start: i64,
}

impl Default for EtlWriterOptions {
    fn default() -> Self {
        EtlWriterOptions {
            // 2017-11-08T00:00:00Z, the day of the reference traces.
            start: Timestamp(1_510_099_200_000_000_000),
            cpus: 1,
            buffer_size: DEFAULT_BUFFER_SIZE,
            compress: false,
            provider_version: 16299,
            logger_name: "overlay-trace".to_string(),
            log_file_name: "C:\\overlay-trace\\trace.etl".to_string(),
            // Two days of uptime.
            qpc_at_start: 2 * 86_400 * PERF_FREQ,
        }
    }
}

/// One EVENT_HEADER record to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRecord<'a> {
    /// When it happened; written as raw QPC ticks, so 100 ns resolution
    /// (finer parts are dropped).
    pub ts: Timestamp,
    /// The CPU whose buffer holds it.
    pub cpu: u16,
    pub provider: Guid,
    pub id: u16,
    pub version: u8,
    pub level: u8,
    pub opcode: u8,
    pub task: u16,
    pub keywords: u64,
    pub pid: u32,
    pub tid: u32,
    pub user_data: &'a [u8],
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EtlWriteStats {
    /// Events written (not counting ones dropped by `lose_buffer`).
    pub events: u64,
    /// Buffers in the file, the header buffer included (`BuffersWritten`).
    pub buffers: u64,
    /// Data buffers written compressed.
    pub compressed_buffers: u64,
    /// File length.
    pub bytes: u64,
    /// `EventsLost` announced in the header.
    pub events_lost: u32,
    /// `BuffersLost` announced in the header.
    pub buffers_lost: u32,
    /// Events given to `write_event` that went down with a lost buffer.
    pub events_discarded: u64,
    /// `EndTime`: the latest event (or the start when there is none).
    pub end_time: Timestamp,
}

/// One CPU's buffer being filled.
#[derive(Debug, Default)]
struct CpuBuffer {
    /// The records region (what follows the 0x48-byte buffer header).
    records: Vec<u8>,
    events: u64,
    /// Raw time of the newest record: the buffer's flush time.
    last_raw: i64,
    /// EVENTS_LOST / BUFFER_LOST to set on this buffer.
    flags: u16,
}

/// Writes an ETL file; see the module documentation.
pub struct EtlWriter<W: Write + Seek> {
    out: W,
    opts: EtlWriterOptions,
    /// Stream position of the header buffer.
    base: u64,
    /// Bytes written since `base`.
    written: u64,
    /// `StartTime` as FILETIME.
    start_ft: i64,
    cpus: Vec<CpuBuffer>,
    next_sequence: i64,
    stats: EtlWriteStats,
    latest_ft: Option<i64>,
    /// Reused for building buffers.
    scratch: Vec<u8>,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

/// A timestamp as FILETIME (100 ns since 1601), `None` outside its range.
fn filetime(ts: Timestamp) -> Option<i64> {
    let ft = ts.0.div_euclid(100) as i128 + FILETIME_UNIX_DIFF as i128;
    i64::try_from(ft).ok().filter(|v| *v >= 0)
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_i64(b: &mut [u8], at: usize, v: i64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn utf16z(out: &mut Vec<u8>, s: &str) {
    for u in s.encode_utf16().chain([0]) {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

/// The fields of a `WMI_BUFFER_HEADER`.
struct BufferFields {
    buffer_size: u32,
    /// End of the (uncompressed) data, header included.
    end: u32,
    timestamp: i64,
    sequence: i64,
    cpu: u16,
    flags: u16,
    kind: u16,
}

fn buffer_header(f: &BufferFields) -> [u8; BUFFER_HEADER_LEN] {
    let mut h = [0u8; BUFFER_HEADER_LEN];
    put_u32(&mut h, buffer_field::BUFFER_SIZE, f.buffer_size);
    put_u32(&mut h, buffer_field::SAVED_OFFSET, f.end);
    put_u32(&mut h, CURRENT_OFFSET, f.end);
    put_i64(&mut h, buffer_field::TIMESTAMP, f.timestamp);
    put_i64(&mut h, buffer_field::SEQUENCE_NUMBER, f.sequence);
    put_u16(&mut h, buffer_field::PROCESSOR_INDEX, f.cpu);
    put_u16(&mut h, buffer_field::LOGGER_ID, LOGGER_ID);
    put_u32(&mut h, buffer_field::STATE, BUFFER_STATE_FLUSH);
    put_u32(&mut h, buffer_field::FILLED_BYTES, f.end);
    put_u16(&mut h, buffer_field::BUFFER_FLAG, f.flags);
    put_u16(&mut h, buffer_field::BUFFER_TYPE, f.kind);
    h
}

impl<W: Write + Seek> EtlWriter<W> {
    /// Checks the options and writes a placeholder header buffer at the
    /// current position of `out`.
    pub fn new(mut out: W, opts: EtlWriterOptions) -> io::Result<Self> {
        if opts.cpus == 0 || opts.cpus > MAX_CPUS {
            return Err(invalid(format!("cpus must be 1..={MAX_CPUS}, not {}", opts.cpus)));
        }
        let start_ft = filetime(opts.start).ok_or_else(|| invalid("start time is before 1601"))?;
        if opts.qpc_at_start < 0 {
            return Err(invalid("qpc_at_start must not be negative"));
        }
        let base = out.stream_position()?;
        let mut w = EtlWriter {
            out,
            cpus: (0..opts.cpus).map(|_| CpuBuffer::default()).collect(),
            opts,
            base,
            written: 0,
            start_ft,
            next_sequence: 1,
            stats: EtlWriteStats::default(),
            latest_ft: None,
            scratch: Vec::new(),
        };
        let size = w.opts.buffer_size;
        let header_needs = BUFFER_HEADER_LEN + aligned(w.logfile_record(1).len());
        if size % 8 != 0
            || size < header_needs.max(BUFFER_HEADER_LEN + EVENT_HEADER_LEN)
            || size > MAX_WRITER_BUFFER_SIZE
        {
            return Err(invalid(format!(
                "buffer size {size} must be a multiple of 8 from {header_needs} to {MAX_WRITER_BUFFER_SIZE}"
            )));
        }
        if w.logfile_record(1).len() > MAX_RECORD_LEN {
            return Err(invalid("logger and log file names are too long for the logfile-header record"));
        }
        let header = w.header_buffer(1);
        w.out.write_all(&header)?;
        w.written = header.len() as u64;
        Ok(w)
    }

    pub fn options(&self) -> &EtlWriterOptions {
        &self.opts
    }

    /// The raw clock value of a time: `T0 + (t − StartTime)` in 100 ns ticks.
    pub fn raw_time(&self, ts: Timestamp) -> io::Result<i64> {
        let ft = filetime(ts).ok_or_else(|| invalid(format!("time {ts} is before 1601")))?;
        self.raw_from_filetime(ft)
    }

    fn raw_from_filetime(&self, ft: i64) -> io::Result<i64> {
        let raw = self.opts.qpc_at_start as i128 + (ft as i128 - self.start_ft as i128);
        i64::try_from(raw).map_err(|_| invalid("time too far from the start"))
    }

    /// The largest user data one event can carry with this buffer size.
    pub fn max_user_data(&self) -> usize {
        let room = (self.opts.buffer_size - BUFFER_HEADER_LEN).min(MAX_RECORD_LEN);
        room - EVENT_HEADER_LEN
    }

    /// Appends an event to its CPU's buffer, flushing that buffer first when
    /// the event does not fit.
    pub fn write_event(&mut self, ev: &EventRecord<'_>) -> io::Result<()> {
        let cpu = ev.cpu as usize;
        if cpu >= self.cpus.len() {
            return Err(invalid(format!("event on CPU {cpu}; the session has {}", self.cpus.len())));
        }
        let size = EVENT_HEADER_LEN + ev.user_data.len();
        if ev.user_data.len() > self.max_user_data() {
            return Err(invalid(format!(
                "event of {size} bytes does not fit a record ({} bytes of user data at most)",
                self.max_user_data()
            )));
        }
        let ft = filetime(ev.ts).ok_or_else(|| invalid(format!("time {} is before 1601", ev.ts)))?;
        let raw = self.raw_from_filetime(ft)?;
        let capacity = self.opts.buffer_size - BUFFER_HEADER_LEN;
        if self.cpus[cpu].records.len() + aligned(size) > capacity {
            self.flush_cpu(cpu, 0)?;
        }
        let b = &mut self.cpus[cpu];
        let at = b.records.len();
        b.records.resize(at + aligned(size), 0);
        let r = &mut b.records[at..at + size];
        use event_field as f;
        put_u16(r, f::SIZE, size as u16);
        r[f::HEADER_TYPE] = header_type::EVENT_HEADER64;
        r[f::MARKER_FLAGS] = marker_flag::TRACE_HEADER | marker_flag::EVENT_TRACE;
        put_u16(r, f::FLAGS, event_flag::HEADER_64_BIT);
        // EventProperty 0.
        put_u32(r, f::THREAD_ID, ev.tid);
        put_u32(r, f::PROCESS_ID, ev.pid);
        put_i64(r, f::TIMESTAMP, raw);
        r[f::PROVIDER_ID..f::PROVIDER_ID + 16].copy_from_slice(&ev.provider.0);
        put_u16(r, f::ID, ev.id);
        r[f::VERSION] = ev.version;
        // Channel 0.
        r[f::LEVEL] = ev.level;
        r[f::OPCODE] = ev.opcode;
        put_u16(r, f::TASK, ev.task);
        r[f::KEYWORD..f::KEYWORD + 8].copy_from_slice(&ev.keywords.to_le_bytes());
        // KernelTime/UserTime 0, ActivityId null.
        r[EVENT_HEADER_LEN..].copy_from_slice(ev.user_data);
        b.events += 1;
        b.last_raw = b.last_raw.max(raw);
        self.stats.events += 1;
        self.latest_ft = Some(self.latest_ft.map_or(ft, |l| l.max(ft)));
        Ok(())
    }

    /// Marks `count` events as lost on `cpu`: the header's `EventsLost`
    /// grows and that CPU's next buffer is flagged EVENTS_LOST.
    pub fn mark_events_lost(&mut self, cpu: u16, count: u32) -> io::Result<()> {
        let b = self.cpus.get_mut(cpu as usize).ok_or_else(|| invalid(format!("no CPU {cpu}")))?;
        b.flags |= buffer_flag::EVENTS_LOST;
        self.stats.events_lost = self.stats.events_lost.saturating_add(count);
        Ok(())
    }

    /// Loses `cpu`'s buffer being filled, as when the session ran out of
    /// buffers: its events are dropped, its sequence number is used up (a
    /// gap the reader reports), the header's `BuffersLost` grows and the
    /// CPU's next buffer is flagged BUFFER_LOST. Returns the events dropped.
    pub fn lose_buffer(&mut self, cpu: u16) -> io::Result<u64> {
        let b = self.cpus.get_mut(cpu as usize).ok_or_else(|| invalid(format!("no CPU {cpu}")))?;
        let dropped = b.events;
        b.records.clear();
        b.events = 0;
        b.flags |= buffer_flag::BUFFER_LOST;
        self.stats.events -= dropped;
        self.stats.events_discarded += dropped;
        self.stats.buffers_lost = self.stats.buffers_lost.saturating_add(1);
        self.next_sequence += 1;
        Ok(dropped)
    }

    /// Writes `cpu`'s buffer. `extra` flags: FLUSH_MARKER for a buffer
    /// flushed before it was full.
    fn flush_cpu(&mut self, cpu: usize, extra: u16) -> io::Result<()> {
        let b = std::mem::take(&mut self.cpus[cpu]);
        let size = self.opts.buffer_size;
        let end = BUFFER_HEADER_LEN + b.records.len();
        let mut fields = BufferFields {
            buffer_size: size as u32,
            end: end as u32,
            timestamp: b.last_raw,
            sequence: self.next_sequence,
            cpu: cpu as u16,
            flags: buffer_flag::PROC_INDEX | b.flags | extra,
            kind: buffer_type::GENERIC,
        };
        self.next_sequence += 1;
        let compressed = if self.opts.compress { Some(xpress::compress(&b.records)) } else { None };
        self.scratch.clear();
        match compressed {
            Some(c) if c.len() < b.records.len() => {
                fields.buffer_size = (BUFFER_HEADER_LEN + c.len()) as u32;
                fields.flags |= buffer_flag::COMPRESSED;
                self.scratch.extend_from_slice(&buffer_header(&fields));
                self.scratch.extend_from_slice(&c);
                self.stats.compressed_buffers += 1;
            }
            _ => {
                self.scratch.extend_from_slice(&buffer_header(&fields));
                self.scratch.extend_from_slice(&b.records);
                self.scratch.resize(size, 0xFF);
            }
        }
        self.out.write_all(&self.scratch)?;
        self.written += self.scratch.len() as u64;
        self.stats.buffers += 1;
        // Keep the allocation for the CPU's next buffer.
        let mut records = b.records;
        records.clear();
        self.cpus[cpu].records = records;
        Ok(())
    }

    /// The logfile-header record for a file of `buffers_written` buffers.
    fn logfile_record(&self, buffers_written: u32) -> Vec<u8> {
        let mut rec = vec![0u8; SYSTEM_HEADER_LEN + LOGFILE_HEADER_LEN_64];
        utf16z(&mut rec, &self.opts.logger_name);
        utf16z(&mut rec, &self.opts.log_file_name);
        let size = rec.len().min(MAX_RECORD_LEN) as u16;
        // SYSTEM_TRACE_HEADER: version-first layout, HookId 0.
        use system_field as f;
        put_u16(&mut rec, f::VERSION, SYSTEM_HEADER_VERSION);
        rec[f::HEADER_TYPE] = header_type::SYSTEM64;
        rec[f::FLAGS] = marker_flag::TRACE_HEADER | marker_flag::EVENT_TRACE;
        put_u16(&mut rec, f::SIZE, size);
        put_u16(&mut rec, f::HOOK_ID, HOOK_LOGFILE_HEADER);
        put_u32(&mut rec, f::THREAD_ID, SESSION_THREAD_ID);
        put_u32(&mut rec, f::PROCESS_ID, SESSION_PROCESS_ID);
        put_i64(&mut rec, f::SYSTEM_TIME, self.opts.qpc_at_start); // T0
        let end_ft = self.latest_ft.unwrap_or(self.start_ft).max(self.start_ft);
        let mut mode = log_file_mode::SEQUENTIAL;
        if self.opts.compress {
            mode |= log_file_mode::COMPRESSED;
        }
        let h = &mut rec[SYSTEM_HEADER_LEN..SYSTEM_HEADER_LEN + LOGFILE_HEADER_LEN_64];
        put_u32(h, logfile_field::BUFFER_SIZE, self.opts.buffer_size as u32);
        h[logfile_field::VERSION..logfile_field::VERSION + 4].copy_from_slice(&LOGFILE_VERSION);
        put_u32(h, logfile_field::PROVIDER_VERSION, self.opts.provider_version);
        put_u32(h, logfile_field::NUMBER_OF_PROCESSORS, self.opts.cpus as u32);
        put_i64(h, logfile_field::END_TIME, end_ft);
        put_u32(h, logfile_field::TIMER_RESOLUTION, TIMER_RESOLUTION);
        put_u32(h, logfile_field::MAXIMUM_FILE_SIZE, 0);
        put_u32(h, logfile_field::LOG_FILE_MODE, mode);
        put_u32(h, logfile_field::BUFFERS_WRITTEN, buffers_written);
        put_u32(h, logfile_field::START_BUFFERS, 1);
        put_u32(h, logfile_field::POINTER_SIZE, 8);
        put_u32(h, logfile_field::EVENTS_LOST, self.stats.events_lost);
        put_u32(h, logfile_field::CPU_SPEED_MHZ, CPU_SPEED_MHZ);
        // LoggerName / LogFileName pointers stay 0; the strings follow.
        // TIME_ZONE_INFORMATION: Bias 0, StandardName, (date, bias 0),
        // DaylightName at +0x58, (date, bias 0).
        let tz = LOGFILE_TIME_ZONE_64;
        for (i, u) in TIME_ZONE_NAME.encode_utf16().take(31).enumerate() {
            put_u16(h, tz + 4 + 2 * i, u);
            put_u16(h, tz + 0x58 + 2 * i, u);
        }
        let boot_ft = self.start_ft - self.opts.qpc_at_start * (10_000_000 / PERF_FREQ);
        put_i64(h, LOGFILE_BOOT_TIME_64, boot_ft.max(0));
        put_i64(h, LOGFILE_PERF_FREQ_64, PERF_FREQ);
        put_i64(h, LOGFILE_START_TIME_64, self.start_ft);
        put_u32(h, LOGFILE_RESERVED_FLAGS_64, CLOCK_TYPE_QPC);
        put_u32(h, LOGFILE_BUFFERS_LOST_64, self.stats.buffers_lost);
        rec
    }

    /// The whole header buffer (never compressed).
    fn header_buffer(&self, buffers_written: u32) -> Vec<u8> {
        let rec = self.logfile_record(buffers_written);
        let end = BUFFER_HEADER_LEN + aligned(rec.len());
        let fields = BufferFields {
            buffer_size: self.opts.buffer_size as u32,
            end: end as u32,
            timestamp: 0,
            sequence: 0,
            cpu: 0,
            flags: buffer_flag::FLUSH_MARKER | buffer_flag::PROC_INDEX,
            kind: buffer_type::HEADER,
        };
        let mut b = buffer_header(&fields).to_vec();
        b.extend_from_slice(&rec);
        b.resize(end, 0);
        b.resize(self.opts.buffer_size, 0xFF);
        b
    }

    /// Flushes every CPU's partial buffer (flagged FLUSH_MARKER), rewrites
    /// the header buffer with the final counts and end time, and returns
    /// the output positioned at the end of the file.
    pub fn finish(mut self) -> io::Result<(W, EtlWriteStats)> {
        for cpu in 0..self.cpus.len() {
            if !self.cpus[cpu].records.is_empty() {
                self.flush_cpu(cpu, buffer_flag::FLUSH_MARKER)?;
            }
        }
        self.stats.buffers += 1; // the header buffer
        let buffers = u32::try_from(self.stats.buffers).map_err(|_| invalid("more than 2^32 buffers"))?;
        let header = self.header_buffer(buffers);
        self.out.seek(SeekFrom::Start(self.base))?;
        self.out.write_all(&header)?;
        self.out.seek(SeekFrom::Start(self.base + self.written))?;
        self.out.flush()?;
        self.stats.bytes = self.written;
        let end_ft = self.latest_ft.unwrap_or(self.start_ft).max(self.start_ft);
        self.stats.end_time = Timestamp::from_filetime(end_ft as u64);
        Ok((self.out, self.stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::etl::{ClockType, EtlReader, EtlRecord, HeaderKind};
    use std::io::Cursor;

    const PROVIDER: Guid =
        Guid([0x6e, 0x00, 0xd6, 0x2e, 0x29, 0x47, 0x09, 0x46, 0xb4, 0x23, 0x3e, 0xe7, 0xbc, 0xd6, 0x78, 0xef]);

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Owned {
        ts: Timestamp,
        cpu: u16,
        id: u16,
        keywords: u64,
        pid: u32,
        tid: u32,
        data: Vec<u8>,
    }

    fn start() -> Timestamp {
        EtlWriterOptions::default().start
    }

    /// Events in time order, spread over `cpus`, with payloads of varied
    /// sizes (some large), at distinct 100 ns multiples.
    fn events(n: usize, cpus: u16, seed: u64) -> Vec<Owned> {
        let mut rng = crate::generate::Rng::new(seed);
        let mut t = start().0 + 1_500_000_000;
        (0..n)
            .map(|i| {
                t += 100 * rng.range(1, 5000) as i64;
                let len = match rng.range(0, 9) {
                    0 => 0,
                    1 => rng.range(1500, 3000) as usize,
                    _ => rng.range(1, 200) as usize,
                };
                let data = (0..len).map(|j| ((i * 7 + j * 13) % 251) as u8).collect();
                Owned {
                    ts: Timestamp(t),
                    cpu: rng.range(0, cpus as u64 - 1) as u16,
                    id: 1001 + (i % 3) as u16,
                    keywords: 0x8000_0000_4000_0001 ^ (i as u64),
                    pid: 4,
                    tid: 1000 + i as u32,
                    data,
                }
            })
            .collect()
    }

    fn write(evs: &[Owned], opts: EtlWriterOptions) -> (Vec<u8>, EtlWriteStats) {
        let mut w = EtlWriter::new(Cursor::new(Vec::new()), opts).unwrap();
        for e in evs {
            w.write_event(&record(e)).unwrap();
        }
        let (out, stats) = w.finish().unwrap();
        (out.into_inner(), stats)
    }

    fn record(e: &Owned) -> EventRecord<'_> {
        EventRecord {
            ts: e.ts,
            cpu: e.cpu,
            provider: PROVIDER,
            id: e.id,
            version: 0,
            level: 4,
            opcode: 0,
            task: 0,
            keywords: e.keywords,
            pid: e.pid,
            tid: e.tid,
            user_data: &e.data,
        }
    }

    /// Every provider record of the file, in the reader's order, and the
    /// reader for its header and stats.
    fn read(bytes: &[u8]) -> (Vec<EtlRecord>, EtlReader<&[u8]>) {
        let mut r = EtlReader::new(bytes).unwrap();
        let mut out = Vec::new();
        while let Some(rec) = r.next_record() {
            let rec = rec.unwrap();
            if rec.header_kind == HeaderKind::Event {
                out.push(rec);
            }
        }
        assert_eq!(r.take_warnings(), vec![], "warnings");
        (out, r)
    }

    fn check_round_trip(evs: &[Owned], opts: EtlWriterOptions) -> EtlWriteStats {
        let (bytes, stats) = write(evs, opts.clone());
        assert_eq!(stats.bytes, bytes.len() as u64);
        let (recs, reader) = read(&bytes);
        assert_eq!(recs.len(), evs.len());
        for (r, e) in recs.iter().zip(evs) {
            let got = Owned {
                ts: r.ts,
                cpu: r.cpu as u16,
                id: r.id,
                keywords: r.keywords,
                pid: r.pid,
                tid: r.tid,
                data: r.user_data.to_vec(),
            };
            assert_eq!(&got, e);
            assert_eq!(r.provider, Some(PROVIDER));
            assert_eq!((r.level, r.pointer_size, r.header_type), (4, 8, header_type::EVENT_HEADER64));
        }
        let h = reader.header();
        assert_eq!(h.buffers_written as u64, stats.buffers);
        assert_eq!(h.number_of_processors, opts.cpus as u32);
        assert_eq!((h.pointer_size, h.pointer_size_field, h.perf_freq), (8, 8, PERF_FREQ));
        assert_eq!(h.clock_type, ClockType::Qpc);
        assert_eq!(h.start_time, opts.start);
        assert_eq!(h.t0, opts.qpc_at_start);
        assert_eq!(h.end_time, evs.last().map_or(opts.start, |e| e.ts));
        assert_eq!(h.end_time, stats.end_time);
        assert_eq!(h.buffer_size as usize, opts.buffer_size);
        assert_eq!(h.provider_version, opts.provider_version);
        assert_eq!(h.logger_name, opts.logger_name);
        assert_eq!(h.log_file_name, opts.log_file_name);
        assert_eq!(h.is_compressed_mode(), opts.compress);
        assert!(h.boot_time < h.start_time);
        let s = reader.stats();
        assert_eq!(s.buffers_read, stats.buffers);
        assert_eq!(s.compressed_buffers, stats.compressed_buffers);
        assert_eq!((s.late_records, s.sequence_gaps, s.buffers_skipped), (0, 0, 0));
        stats
    }

    #[test]
    fn round_trip_several_cpus_uncompressed() {
        let evs = events(3000, 4, 1);
        let opts = EtlWriterOptions { cpus: 4, buffer_size: 16 << 10, ..Default::default() };
        let stats = check_round_trip(&evs, opts);
        assert!(stats.buffers > 20, "{stats:?}");
        assert_eq!(stats.compressed_buffers, 0);
    }

    #[test]
    fn round_trip_compressed() {
        let evs = events(3000, 3, 2);
        let opts = EtlWriterOptions { cpus: 3, compress: true, ..Default::default() };
        let stats = check_round_trip(&evs, opts.clone());
        assert_eq!(stats.compressed_buffers, stats.buffers - 1);
        let (plain, _) = write(&evs, EtlWriterOptions { compress: false, ..opts });
        assert!(stats.bytes * 2 < plain.len() as u64, "{} vs {}", stats.bytes, plain.len());
    }

    #[test]
    fn incompressible_buffers_are_written_plain() {
        let mut evs = events(6, 1, 10);
        let mut rng = crate::generate::Rng::new(11);
        for e in &mut evs {
            e.data = (0..3500).map(|_| rng.next_u64() as u8).collect();
        }
        let opts = EtlWriterOptions { compress: true, buffer_size: 4096, ..Default::default() };
        let stats = check_round_trip(&evs, opts);
        assert_eq!((stats.buffers, stats.compressed_buffers), (7, 0));
        assert_eq!(stats.bytes, 7 * 4096);
    }

    #[test]
    fn file_order_is_not_time_order() {
        // CPU 0 fills buffers quickly, CPU 1 slowly: CPU 1's first buffer
        // is written after CPU 0's later ones.
        let mut evs = events(400, 2, 3);
        for (i, e) in evs.iter_mut().enumerate() {
            e.cpu = (i % 10 == 0) as u16;
            e.data.resize(300, 1);
        }
        let opts = EtlWriterOptions { cpus: 2, buffer_size: 4096, ..Default::default() };
        check_round_trip(&evs, opts.clone());
        let (bytes, _) = write(&evs, opts);
        let mut r = EtlReader::new(&bytes[..]).unwrap();
        let mut by_buffer: Vec<(u64, Timestamp)> = Vec::new();
        while let Some(Ok(rec)) = r.next_record() {
            if rec.header_kind == HeaderKind::Event && !by_buffer.iter().any(|b| b.0 == rec.buffer_index) {
                by_buffer.push((rec.buffer_index, rec.ts));
            }
        }
        by_buffer.sort();
        assert!(by_buffer.windows(2).any(|w| w[1].1 < w[0].1), "{by_buffer:?}");
    }

    #[test]
    fn records_filling_a_buffer_exactly() {
        let opts = EtlWriterOptions { cpus: 2, buffer_size: 4096, ..Default::default() };
        let w = EtlWriter::new(Cursor::new(Vec::new()), opts.clone()).unwrap();
        let max = w.max_user_data();
        assert_eq!(max, 4096 - BUFFER_HEADER_LEN - EVENT_HEADER_LEN);
        let mut evs = events(6, 2, 4);
        evs[1].data = vec![0xAB; max];
        evs[2].data = vec![0xCD; max - 7];
        evs[3].data = vec![0xEF; max - 8];
        evs[4].cpu = evs[3].cpu;
        evs[4].data = vec![1; 8];
        check_round_trip(&evs, opts.clone());
        check_round_trip(&evs, EtlWriterOptions { compress: true, ..opts.clone() });

        let mut w = EtlWriter::new(Cursor::new(Vec::new()), opts).unwrap();
        let too_big = vec![0u8; max + 1];
        let mut e = record(&evs[0]);
        e.user_data = &too_big;
        assert_eq!(w.write_event(&e).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        // The largest record a u16 size allows, in a large buffer.
        let opts = EtlWriterOptions { buffer_size: 1 << 20, ..Default::default() };
        let w = EtlWriter::new(Cursor::new(Vec::new()), opts.clone()).unwrap();
        assert_eq!(w.max_user_data(), MAX_RECORD_LEN - EVENT_HEADER_LEN);
        let mut big = events(2, 1, 5);
        big[0].data = vec![7; w.max_user_data()];
        check_round_trip(&big, opts);
    }

    #[test]
    fn times_before_the_start_and_an_empty_file() {
        let mut evs = events(3, 1, 6);
        evs[0].ts = Timestamp(start().0 - 12_345_600);
        evs.sort_by_key(|e| e.ts);
        check_round_trip(&evs, EtlWriterOptions::default());
        check_round_trip(&[], EtlWriterOptions { cpus: 8, ..Default::default() });
        // Finer than 100 ns: truncated to 100 ns.
        let mut w = EtlWriter::new(Cursor::new(Vec::new()), EtlWriterOptions::default()).unwrap();
        let mut e = evs[1].clone();
        e.ts = Timestamp(e.ts.0 + 99);
        w.write_event(&record(&e)).unwrap();
        let (bytes, _) = w.finish().map(|(c, s)| (c.into_inner(), s)).unwrap();
        assert_eq!(read(&bytes).0[0].ts, evs[1].ts);
    }

    #[test]
    fn lost_events_and_buffers_are_announced() {
        let evs = events(200, 2, 7);
        let opts = EtlWriterOptions { cpus: 2, buffer_size: 4096, ..Default::default() };
        let mut w = EtlWriter::new(Cursor::new(Vec::new()), opts).unwrap();
        let mut discarded = 0;
        for (i, e) in evs.iter().enumerate() {
            w.write_event(&record(e)).unwrap();
            if i == 50 {
                w.mark_events_lost(1, 17).unwrap();
            }
            if i == 120 {
                discarded = w.lose_buffer(0).unwrap();
            }
        }
        assert!(w.lose_buffer(9).is_err());
        let (out, stats) = w.finish().unwrap();
        assert!(discarded > 0);
        assert_eq!(stats.events_discarded, discarded);
        assert_eq!(stats.events, 200 - discarded);
        assert_eq!((stats.events_lost, stats.buffers_lost), (17, 1));
        let bytes = out.into_inner();
        let (recs, reader) = read(&bytes);
        assert_eq!(recs.len() as u64, stats.events);
        let s = reader.stats();
        assert_eq!((s.events_lost, s.buffers_lost), (17, 1));
        assert_eq!((s.buffers_flagged_events_lost, s.buffers_flagged_buffer_lost), (1, 1));
        assert_eq!(s.sequence_gaps, 1);
    }

    #[test]
    fn bad_options_and_events_are_errors() {
        let new = |o: EtlWriterOptions| EtlWriter::new(Cursor::new(Vec::new()), o).err().map(|e| e.kind());
        let bad = Some(io::ErrorKind::InvalidInput);
        assert_eq!(new(EtlWriterOptions { cpus: 0, ..Default::default() }), bad);
        assert_eq!(new(EtlWriterOptions { cpus: MAX_CPUS + 1, ..Default::default() }), bad);
        assert_eq!(new(EtlWriterOptions { buffer_size: 0, ..Default::default() }), bad);
        assert_eq!(new(EtlWriterOptions { buffer_size: 4100, ..Default::default() }), bad);
        assert_eq!(new(EtlWriterOptions { buffer_size: 0x100, ..Default::default() }), bad);
        assert_eq!(new(EtlWriterOptions { buffer_size: 32 << 20, ..Default::default() }), bad);
        assert_eq!(new(EtlWriterOptions { qpc_at_start: -1, ..Default::default() }), bad);
        assert_eq!(new(EtlWriterOptions { logger_name: "x".repeat(40_000), ..Default::default() }), bad);

        let mut w = EtlWriter::new(Cursor::new(Vec::new()), EtlWriterOptions::default()).unwrap();
        let evs = events(1, 1, 8);
        let mut e = record(&evs[0]);
        e.cpu = 1;
        assert!(w.write_event(&e).is_err());
        e.cpu = 0;
        e.ts = Timestamp::MAX;
        assert!(w.write_event(&e).is_ok(), "year 2262 is still a FILETIME");
        e.ts = Timestamp::MIN;
        assert!(w.write_event(&e).is_ok(), "so is 1677");
        // A raw clock that would overflow.
        let opts = EtlWriterOptions { qpc_at_start: i64::MAX - 10, ..Default::default() };
        let mut w = EtlWriter::new(Cursor::new(Vec::new()), opts).unwrap();
        assert!(w.write_event(&e).is_ok());
        e.ts = Timestamp::MAX;
        assert_eq!(w.write_event(&e).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn writes_after_existing_bytes() {
        // The header is patched where the file started, not at offset 0.
        let mut out = Cursor::new(b"prefix".to_vec());
        out.seek(SeekFrom::End(0)).unwrap();
        let mut w = EtlWriter::new(out, EtlWriterOptions::default()).unwrap();
        let evs = events(5, 1, 9);
        for e in &evs {
            w.write_event(&record(e)).unwrap();
        }
        let (out, _) = w.finish().unwrap();
        let bytes = out.into_inner();
        assert_eq!(&bytes[..6], b"prefix");
        assert_eq!(read(&bytes[6..]).0.len(), 5);
    }
}
