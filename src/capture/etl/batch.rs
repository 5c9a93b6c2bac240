//! Buffers as units of work: [`decode`] turns one buffer's bytes into its
//! records with no side effect, so it can run on any thread; [`ReadAhead`]
//! decodes the buffers that follow the reader's position on rayon's pool,
//! a few bounded batches at a time, while the reader hands out the records
//! of the batch before them.
//!
//! The reader stays the only one to decide what a buffer is and what
//! happens after it: it asks for the buffer at (offset, index) when its
//! own sequential walk reaches it, and gets the decoded result only if the
//! read-ahead guessed that very buffer (the chain of `BufferSize`s, the
//! common case). Counting, warnings, consuming input, the merge and
//! resynchronising after damage all happen in file order on the reader's
//! side, so the output does not depend on threads or timing.

use std::collections::VecDeque;
use std::io::Read;
use std::ops::Range;
use std::sync::mpsc;
use std::sync::Arc;

use memmap2::Mmap;

use crate::capture::refill::{RefillBuffer, DEFAULT_READ_SIZE};
use crate::error::DecodeError;
use crate::prefetch::Ahead;
use crate::time::Timestamp;

use super::buffer::BufferHeader;
use super::clock::Clock;
use super::guid::Guid;
use super::merge::Run;
use super::payload::{subrange, Source};
use super::raw::{buffer_type, BUFFER_HEADER_LEN};
use super::record::{parse_at, HeaderKind, RecordView, Step};
use super::{xpress, EtlRecord, ExtendedItem};

/// What decoding a buffer needs besides its bytes; fixed by the logfile
/// header.
#[derive(Debug, Clone, Copy)]
pub(super) struct DecodeCtx {
    pub clock: Clock,
    /// NumberOfProcessors (0: unknown).
    pub cpus: u32,
}

/// Why a buffer could not be used, and so how to go on.
pub(super) enum BufferFault {
    /// Its header's size is trustworthy: go on after it.
    SkipBySize(DecodeError),
    /// Its size may be what is wrong: look for the next header from the
    /// byte after its start.
    Rescan(DecodeError),
}

/// A decoded buffer waiting in the merge window.
pub(super) struct Decoded {
    index: u64,
    file_offset: u64,
    compressed: bool,
    cpu: u32,
    /// The bytes the records region lies in: the mapped file, or the
    /// buffer decompressed or copied. Records hand out ranges of it.
    bytes: Source,
    /// The records region (buffer bytes from 0x48 to the end of the data)
    /// within `bytes`.
    region: Range<usize>,
    slots: Vec<Slot>,
}

/// Where a record is in its buffer, when it happened, and its header as
/// the pool parsed it: the reader fills records from this without parsing
/// them again (parsing every record twice was a tenth of the reader's
/// time on a switching host), except to copy extended data items.
#[derive(Debug, Clone, Copy)]
struct Slot {
    ts: Timestamp,
    raw_ts: i64,
    pos: u32,
    header: Header,
}

/// The header fields of a record that [`EtlRecord`] keeps.
#[derive(Debug, Clone, Copy)]
struct Header {
    kind: HeaderKind,
    header_type: u8,
    pointer_size: u8,
    channel: u8,
    level: u8,
    opcode: u8,
    has_ext: bool,
    id: u16,
    version: u16,
    task: u16,
    flags: u16,
    event_property: u16,
    group_type: Option<(u8, u8)>,
    pid: u32,
    tid: u32,
    /// The payload as (start, length) in the records region.
    user_data: (u32, u32),
    keywords: u64,
    provider: Option<Guid>,
    activity_id: Option<Guid>,
}

impl Header {
    fn of(v: &RecordView<'_>, records: &[u8]) -> Header {
        let at = subrange(records, v.user_data).unwrap_or(0..0);
        Header {
            kind: v.kind,
            header_type: v.header_type,
            pointer_size: v.pointer_size,
            channel: v.channel,
            level: v.level,
            opcode: v.opcode,
            has_ext: !v.ext.is_empty(),
            id: v.id,
            version: v.version,
            task: v.task,
            flags: v.flags,
            event_property: v.event_property,
            group_type: v.group_type,
            pid: v.pid,
            tid: v.tid,
            user_data: (at.start as u32, at.len() as u32),
            keywords: v.keywords,
            provider: v.provider,
            activity_id: v.activity_id,
        }
    }
}

impl Run for Decoded {
    fn len(&self) -> usize {
        self.slots.len()
    }
    fn ts(&self, i: usize) -> Timestamp {
        self.slots[i].ts
    }
    /// Bytes in use, not allocated: a function of the file alone, so that
    /// the window fills the same way whichever thread decoded the buffer
    /// and whichever released run's allocations it reused.
    fn weight(&self) -> usize {
        self.region.len() + self.slots.len() * std::mem::size_of::<Slot>()
    }
}

impl Decoded {
    pub(super) fn empty() -> Decoded {
        Decoded {
            index: 0,
            file_offset: 0,
            compressed: false,
            cpu: 0,
            bytes: Source::Empty,
            region: 0..0,
            slots: Vec::new(),
        }
    }

    /// Bytes allocated, whether used or not (a mapped file's are not).
    fn capacity(&self) -> usize {
        let owned = match &self.bytes {
            Source::Owned(v) => v.capacity(),
            Source::Empty | Source::Mapped(_) => 0,
        };
        owned + self.slots.capacity() * std::mem::size_of::<Slot>()
    }

    /// The file offset of this buffer when its records lie in the mapped
    /// file.
    pub(super) fn mapped_at(&self) -> Option<u64> {
        matches!(self.bytes, Source::Mapped(_)).then_some(self.file_offset)
    }

    /// The records region.
    fn records(&self) -> &[u8] {
        self.bytes.range(&self.region)
    }

    /// Takes this run's buffer to decompress or copy into, when no record
    /// still holds it; else a new one.
    fn take_scratch(&mut self) -> Vec<u8> {
        match std::mem::take(&mut self.bytes) {
            Source::Owned(v) => Arc::try_unwrap(v).unwrap_or_default(),
            Source::Empty | Source::Mapped(_) => Vec::new(),
        }
    }

    /// Record `i`, parsed again from the buffer's bytes, written over
    /// `rec`: its payload is a range of this run's bytes and its extended
    /// items keep their allocations, so a reader that hands out one record
    /// at a time neither copies packets nor allocates per record.
    /// (Building the records when the buffer is decoded, on the pool, was
    /// tried: they took ten times the memory of their slots, and moving
    /// them here and freeing their payloads away from the thread that
    /// allocated them cost what the pool saved.) False when there is no
    /// record `i`.
    pub(super) fn fill_record(&self, i: usize, rec: &mut EtlRecord) -> bool {
        let Some(&slot) = self.slots.get(i) else { return false };
        let h = slot.header;
        let in_buffer = (BUFFER_HEADER_LEN + slot.pos as usize) as u32;
        rec.ts = slot.ts;
        rec.raw_ts = slot.raw_ts;
        rec.cpu = self.cpu;
        rec.offset = if self.compressed { self.file_offset } else { self.file_offset + in_buffer as u64 };
        rec.buffer_offset = self.file_offset;
        rec.buffer_index = self.index;
        rec.in_buffer = in_buffer;
        rec.compressed = self.compressed;
        rec.header_kind = h.kind;
        rec.header_type = h.header_type;
        rec.pointer_size = h.pointer_size;
        rec.provider = h.provider;
        rec.activity_id = h.activity_id;
        rec.id = h.id;
        rec.version = h.version;
        rec.channel = h.channel;
        rec.level = h.level;
        rec.opcode = h.opcode;
        rec.task = h.task;
        rec.keywords = h.keywords;
        rec.pid = h.pid;
        rec.tid = h.tid;
        rec.flags = h.flags;
        rec.event_property = h.event_property;
        rec.kernel_group_type = h.group_type;
        let mut n = 0;
        if h.has_ext {
            // The items are copied from the record, parsed again for them.
            let Ok(Step::Record(v, _)) = parse_at(self.records(), slot.pos as usize, 0) else {
                return false; // cannot happen: the same bytes parsed when decoded
            };
            for (ext_type, data) in v.ext.iter() {
                match rec.extended.get_mut(n) {
                    Some(item) => {
                        item.ext_type = ext_type;
                        item.data.clear();
                        item.data.extend_from_slice(data);
                    }
                    None => rec.extended.push(ExtendedItem { ext_type, data: data.to_vec() }),
                }
                n += 1;
            }
        }
        rec.extended.truncate(n);
        // The payload is a range of the records region, which starts at
        // `region.start` of the run's bytes.
        let start = self.region.start + h.user_data.0 as usize;
        rec.user_data.set(&self.bytes, start..start + h.user_data.1 as usize);
        true
    }
}

/// A buffer decoded, before it is counted.
pub(super) struct Good {
    pub run: Decoded,
    /// Raised while decoding, in order.
    pub warnings: Vec<DecodeError>,
    pub records_skipped: u64,
}

pub(super) type Outcome = Result<Good, BufferFault>;

/// Released runs kept for their allocations, up to [`SPARE_BYTES`]: a
/// buffer's records region is large enough that a fresh one may come from
/// the kernel (zeroed pages, unmapped again when freed), and a run is
/// built on one thread and released on another, which the system
/// allocator handles slowly.
#[derive(Default)]
pub(super) struct Spares {
    runs: Vec<Decoded>,
    bytes: usize,
}

/// Allocations kept in [`Spares`] at most.
const SPARE_BYTES: usize = 32 << 20;

impl Spares {
    pub(super) fn put(&mut self, mut run: Decoded) {
        let cap = run.capacity();
        if cap == 0 || self.bytes + cap > SPARE_BYTES {
            return;
        }
        run.slots.clear();
        self.bytes += cap;
        self.runs.push(run);
    }

    pub(super) fn get(&mut self) -> Decoded {
        match self.runs.pop() {
            Some(run) => {
                self.bytes -= run.capacity();
                run
            }
            None => Decoded::empty(),
        }
    }
}

/// Decodes one buffer (`raw` = its bytes as read, possibly cut short, at
/// file offset `offset`, `index`-th in file order) into its records, in
/// the allocations of `run` (a released one, or empty). When `raw` lies in
/// `map`, an uncompressed buffer's records are left where they are.
pub(super) fn decode(
    ctx: DecodeCtx,
    hdr: &BufferHeader,
    raw: &[u8],
    map: Option<&Arc<Mmap>>,
    offset: u64,
    index: u64,
    mut run: Decoded,
) -> Outcome {
    let name = || format!("buffer {index}");
    if hdr.is_compressed() {
        // Whatever the run held is scratch for the decompressor.
        let mut data = run.take_scratch();
        let cut_short = raw.len() < hdr.buffer_size as usize;
        let want = hdr.decompressed_len(offset).map_err(|e| BufferFault::Rescan(e.within(name())))?;
        let input = raw.get(BUFFER_HEADER_LEN..).unwrap_or(&[]);
        if let Err(e) = xpress::decompress_into(input, &mut data, want) {
            // A buffer cut short by the end of the file decompresses to a
            // prefix: its whole records are still good.
            if !cut_short {
                let e = DecodeError::other(offset, format!("compressed buffer does not decompress: {e}"));
                return Err(BufferFault::Rescan(e.within(name())));
            }
        }
        if data.len() != want && !cut_short {
            let e = DecodeError::bad_length(
                offset,
                format!("compressed buffer (decompresses to {} bytes, SavedOffset says)", data.len()),
                want as u64,
            );
            return Err(BufferFault::Rescan(e.within(name())));
        }
        run.region = 0..data.len();
        run.bytes = Source::Owned(Arc::new(data));
    } else {
        let end = hdr.data_end(offset).map_err(|e| BufferFault::SkipBySize(e.within(name())))?;
        let region = raw.get(BUFFER_HEADER_LEN..end.min(raw.len())).unwrap_or(&[]);
        match map.and_then(|m| Some((m, subrange(m, region)?))) {
            Some((map, at)) => {
                run.bytes = Source::Mapped(map.clone());
                run.region = at;
            }
            None => {
                let mut data = run.take_scratch();
                data.clear();
                data.extend_from_slice(region);
                run.region = 0..data.len();
                run.bytes = Source::Owned(Arc::new(data));
            }
        }
    }
    Ok(walk(ctx, hdr, run, offset, index))
}

/// Walks the records region of a buffer whose reading succeeded, noting
/// where each record is and when it happened.
fn walk(ctx: DecodeCtx, hdr: &BufferHeader, mut run: Decoded, offset: u64, index: u64) -> Good {
    run.index = index;
    run.file_offset = offset;
    run.compressed = hdr.is_compressed();
    run.cpu = hdr.cpu();
    run.slots.clear();
    let mut warnings = Vec::new();
    let mut records_skipped = 0;
    if ctx.cpus > 0 && run.cpu >= ctx.cpus && hdr.buffer_type != buffer_type::HEADER {
        warnings.push(
            DecodeError::bad_length(
                offset + 0x28,
                format!("buffer ProcessorIndex (NumberOfProcessors is {})", ctx.cpus),
                run.cpu as u64,
            )
            .within(format!("buffer {index}")),
        );
    }

    // Positions are relative to the records region; errors name absolute
    // file offsets (the buffer's, for compressed buffers, with the
    // decompressed position in the context).
    let base = if run.compressed { 0 } else { offset + BUFFER_HEADER_LEN as u64 };
    let mut pos = 0usize;
    let mut last_raw = hdr.timestamp;
    let mut sorted = true;
    let records = run.bytes.range(&run.region);
    // Records left in the mapped file are read here for the first time,
    // each one's size leading to the next: without the hints every hop
    // waits on memory.
    let mut ahead = Ahead::default();
    while pos < records.len() {
        ahead.reach(records, pos);
        match parse_at(records, pos, base) {
            Ok(Step::End) => break,
            Ok(Step::Skipped { advance, .. }) => {
                records_skipped += 1;
                pos += advance;
            }
            Ok(Step::Record(v, advance)) => {
                let raw_ts = v.raw_ts.unwrap_or(last_raw);
                last_raw = raw_ts;
                let ts = ctx.clock.to_timestamp(raw_ts);
                if run.slots.last().is_some_and(|s| s.ts > ts) {
                    sorted = false;
                }
                run.slots.push(Slot { ts, raw_ts, pos: pos as u32, header: Header::of(&v, records) });
                pos += advance;
            }
            Err(mut e) => {
                if run.compressed {
                    e.offset = offset;
                    e = e.within(format!("buffer {index} (compressed) record at +{:#x}", BUFFER_HEADER_LEN + pos));
                } else {
                    e = e.within(format!("buffer {index} @{offset:#x}"));
                }
                warnings.push(e);
                break;
            }
        }
    }
    if !sorted {
        run.slots.sort_by_key(|s| s.ts);
    }
    Good { run, warnings, records_skipped }
}

/// What the read-ahead must know of the file to follow the chain the way
/// the reader does.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChainRules {
    pub ctx: DecodeCtx,
    /// BuffersWritten of the logfile header.
    pub written: u64,
    pub logger_id: u16,
}

/// A batch holds at least this many decoded bytes (when the chain goes
/// on that far), so that handing it to the pool costs little beside it,
/// and not many more, so that the batch the reader waits for is soon
/// done (see [`BATCHES_IN_FLIGHT`])...
const BATCH_BYTES: usize = 256 << 10;
/// ...and at most this many (or one buffer, whatever its size).
const BATCH_MAX_BYTES: usize = 8 << 20;
/// Decoded bytes of the batches in flight before another is sent: with
/// the last one sent and the one being read, read-ahead holds at most
/// this plus two of the largest batches, and their records' positions.
/// Buffers of up to 64 MiB are valid, so the count of batches alone
/// would not bound it.
const MAX_BYTES_IN_FLIGHT: usize = 4 * BATCH_MAX_BYTES;
/// Bytes of the file in a batch at most (or one buffer): the batches in
/// flight and the one being read stay inside the read buffer, which then
/// needs neither to grow past its read size nor to move much when it
/// refills.
const BATCH_MAX_RAW: usize = DEFAULT_READ_SIZE / (BATCHES_IN_FLIGHT + 2);
/// Batches decoding on the pool at once, ahead of the one being read: with
/// one, the reader waited for the pool for a sixth of a switching host's
/// run, as the pool's threads share two cores with the reader and the
/// correlator and may not have run yet.
///
/// Each batch is decoded by one thread, and batches are taken in the order
/// they were sent (rayon's queue for work from outside the pool is first
/// in, first out), so the one the reader needs next is always among those
/// being decoded. Three larger batches, each split across the pool, had
/// the threads each on a batch of its own, the oldest on one thread: the
/// reader then waited for the pool twice as long.
const BATCHES_IN_FLIGHT: usize = 8;
/// Buffers in a batch at most.
const BATCH_MAX_BUFFERS: usize = 256;

/// One buffer handed to the pool.
struct Job {
    hdr: BufferHeader,
    raw: JobBytes,
    offset: u64,
    index: u64,
    /// Allocations to decode into.
    run: Decoded,
}

/// A buffer's bytes as the pool reads them.
enum JobBytes {
    /// Copied out of the read buffer, which the reader keeps using.
    Copied(Vec<u8>),
    /// A range of the mapped file, which outlives the job: no copy.
    Mapped(Arc<Mmap>, Range<usize>),
}

impl JobBytes {
    fn map(&self) -> Option<&Arc<Mmap>> {
        match self {
            JobBytes::Copied(_) => None,
            JobBytes::Mapped(map, _) => Some(map),
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            JobBytes::Copied(v) => v,
            JobBytes::Mapped(map, range) => map.get(range.clone()).unwrap_or(&[]),
        }
    }
}

/// The part of the mapped file that the reader will walk after `jobs`,
/// as far as [`BATCHES_IN_FLIGHT`] batches like them would reach, less
/// what an earlier batch already asked for (up to `populated_to`). The
/// reader collects the headers of the batch after the ones in flight
/// while those decode, so the pages must be mapped that far ahead.
fn following_range(jobs: &[Job], populated_to: usize) -> Option<(Arc<Mmap>, Range<usize>)> {
    let (JobBytes::Mapped(_, first), JobBytes::Mapped(map, last)) = (&jobs.first()?.raw, &jobs.last()?.raw) else {
        return None;
    };
    let span = last.end.saturating_sub(first.start);
    let end = last.end.saturating_add(span.saturating_mul(BATCHES_IN_FLIGHT)).min(map.len());
    Some((map.clone(), last.end.max(populated_to)..end))
}

/// Maps `range` of the file into our page tables, on the pool: the reader
/// reads each buffer's header before anything else does, and would
/// otherwise take the page faults itself (a twelfth of its time on a
/// switching host when this ran one batch ahead instead of three).
fn populate(map: &Mmap, range: Range<usize>) {
    if range.is_empty() {
        return;
    }
    // Only a hint: kernels before 5.14 refuse it, and then the reader
    // faults the pages in as before.
    #[cfg(target_os = "linux")]
    let _ = map.advise_range(memmap2::Advice::PopulateRead, range.start, range.len());
    #[cfg(not(target_os = "linux"))]
    let _ = (map, range);
}

/// A buffer decoded ahead of the reader.
struct Done {
    offset: u64,
    index: u64,
    outcome: Outcome,
}

/// Buffers decoded ahead of the reader's position, in file order: a batch
/// ready to be taken, and the next ones ([`BATCHES_IN_FLIGHT`]) decoding on
/// the pool meanwhile.
pub(super) struct ReadAhead {
    rules: ChainRules,
    ready: VecDeque<Done>,
    /// Batches sent to the pool, oldest first, with their decoded bytes.
    in_flight: VecDeque<(mpsc::Receiver<Vec<Done>>, usize)>,
    /// Where the chain goes on after the last buffer handed to the pool,
    /// as (offset, index); `None` where it could not be followed.
    next: Option<(u64, u64)>,
    /// How far into the map the batches so far have asked to be mapped.
    populated_to: usize,
}

impl ReadAhead {
    /// `None` when decoding ahead cannot help or could block: a pool of
    /// one thread, or a reader running on the pool itself (waiting there
    /// for a batch could wait for a thread that is the waiter).
    pub(super) fn new(rules: ChainRules) -> Option<ReadAhead> {
        let threads = rayon::current_num_threads();
        if threads < 2 || rayon::current_thread_index().is_some() {
            return None;
        }
        Some(ReadAhead { rules, ready: VecDeque::new(), in_flight: VecDeque::new(), next: None, populated_to: 0 })
    }

    /// The decoded buffer at (`offset`, `index`) when the read-ahead has
    /// it or can decode it now; `None` leaves the buffer to the caller.
    /// `src` is the reader's input, positioned at or before `offset`.
    pub(super) fn take<R: Read>(
        &mut self,
        src: &mut RefillBuffer<R>,
        spares: &mut Spares,
        offset: u64,
        index: u64,
    ) -> Option<Outcome> {
        for restarted in [false, true] {
            if self.ready.is_empty() {
                self.receive(src, spares);
            }
            match self.ready.front() {
                Some(d) if (d.offset, d.index) == (offset, index) => {
                    return self.ready.pop_front().map(|d| d.outcome);
                }
                _ if restarted => return None,
                _ => {
                    // Nothing ahead, or the reader went another way
                    // (damage, a resynchronisation): start over here.
                    self.ready.clear();
                    self.in_flight.clear();
                    self.next = Some((offset, index));
                    self.schedule(src, spares);
                }
            }
        }
        None
    }

    /// Waits for the oldest batch in flight, then starts the next ones so
    /// that they decode while the reader works through this one.
    fn receive<R: Read>(&mut self, src: &mut RefillBuffer<R>, spares: &mut Spares) {
        let Some((rx, _)) = self.in_flight.pop_front() else { return };
        match rx.recv() {
            Ok(done) => self.ready.extend(done),
            // The batch was lost (a decoding thread panicked): decode
            // inline from here.
            Err(_) => {
                self.next = None;
                self.in_flight.clear();
            }
        }
        while self.in_flight.len() < BATCHES_IN_FLIGHT
            && self.in_flight.iter().map(|(_, bytes)| bytes).sum::<usize>() < MAX_BYTES_IN_FLIGHT
            && self.next.is_some()
        {
            self.schedule(src, spares);
        }
    }

    /// Collects the buffers that follow [`ReadAhead::next`] in the chain
    /// and sends them to the pool.
    fn schedule<R: Read>(&mut self, src: &mut RefillBuffer<R>, spares: &mut Spares) {
        let Some((offset, index)) = self.next else { return };
        let (jobs, bytes, next) = self.collect(src, spares, offset, index);
        self.next = next;
        if jobs.is_empty() {
            return;
        }
        let (tx, rx) = mpsc::sync_channel(1);
        let ctx = self.rules.ctx;
        let next_batch = following_range(&jobs, self.populated_to);
        if let Some((_, range)) = &next_batch {
            self.populated_to = self.populated_to.max(range.end);
        }
        rayon::spawn(move || {
            let done: Vec<Done> = jobs
                .into_iter()
                .map(|j| Done {
                    offset: j.offset,
                    index: j.index,
                    outcome: decode(ctx, &j.hdr, j.raw.bytes(), j.raw.map(), j.offset, j.index, j.run),
                })
                .collect();
            if let Some((map, range)) = next_batch {
                populate(&map, range);
            }
            // The reader may have gone another way and dropped the
            // receiver: then the batch is simply not needed.
            let _ = tx.send(done);
        });
        self.in_flight.push_back((rx, bytes));
    }

    /// The whole buffers from (`offset`, `index`) on, as the reader would
    /// meet them walking the chain of sizes, up to the batch limits; and
    /// where the chain goes on after them. Stops (returning no position)
    /// wherever the reader would do something else than decode the next
    /// buffer: a header that fails its check, the end of the input or of
    /// BuffersWritten, a read error (which the reader meets again itself).
    fn collect<R: Read>(
        &self,
        src: &mut RefillBuffer<R>,
        spares: &mut Spares,
        mut offset: u64,
        mut index: u64,
    ) -> (Vec<Job>, usize, Option<(u64, u64)>) {
        let rules = self.rules;
        let mut jobs = Vec::new();
        // Decoded bytes (as the headers claim) and file bytes so far.
        let mut bytes = 0usize;
        let mut raw_bytes = 0usize;
        loop {
            let Some(rel) = offset.checked_sub(src.offset()).and_then(|r| usize::try_from(r).ok()) else {
                return (jobs, bytes, None);
            };
            let Ok(avail) = src.fill_available(rel.saturating_add(BUFFER_HEADER_LEN)) else {
                return (jobs, bytes, None);
            };
            let Some(head) = src.available().get(rel..rel + BUFFER_HEADER_LEN) else {
                return (jobs, bytes, None);
            };
            let Ok(hdr) = BufferHeader::parse(head, offset) else {
                return (jobs, bytes, None);
            };
            if index >= rules.written && !hdr.plausible(rules.logger_id, rules.ctx.cpus) {
                return (jobs, bytes, None);
            }
            if hdr.check(offset).is_err() {
                return (jobs, bytes, None);
            }
            let size = hdr.buffer_size as usize;
            let decoded = if hdr.is_compressed() { hdr.decompressed_len(offset).unwrap_or(0) } else { size };
            let full = !jobs.is_empty()
                && (jobs.len() >= BATCH_MAX_BUFFERS
                    || bytes.saturating_add(decoded) > BATCH_MAX_BYTES
                    || raw_bytes.saturating_add(size) > BATCH_MAX_RAW
                    || bytes >= BATCH_BYTES);
            if full {
                return (jobs, bytes, Some((offset, index)));
            }
            let end = rel + size;
            if avail < end {
                match src.fill_available(end) {
                    Ok(n) if n >= end => {}
                    // Cut short, or a read error: the reader's business.
                    _ => return (jobs, bytes, None),
                }
            }
            let Some(raw) = src.available().get(rel..end) else {
                return (jobs, bytes, None);
            };
            let in_map = src.map().and_then(|m| Some(JobBytes::Mapped(m.clone(), subrange(m, raw)?)));
            let raw = in_map.unwrap_or_else(|| JobBytes::Copied(raw.to_vec()));
            jobs.push(Job { hdr, raw, offset, index, run: spares.get() });
            bytes += decoded;
            raw_bytes += size;
            offset += size as u64;
            index += 1;
        }
    }
}
