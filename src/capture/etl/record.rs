//! Event records inside a buffer: every header family of `etl-format.md` §2.
//!
//! [`parse_at`] reads the record that starts at one position of a buffer's
//! (decompressed) records region and says how far to move: records are
//! 8-byte aligned and carry their own size. Every size is checked against
//! the bytes left, so a record can never reach past its buffer, and every
//! step moves forward by at least 8 bytes.

use crate::error::DecodeError;

use super::cursor::{le_i64, le_u16, le_u32, le_u64, Cursor};
use super::guid::Guid;
use super::raw::{
    event_flag, header_type as ht, marker_flag, message_flag, COMPACT_HEADER_LEN, EVENT_HEADER_LEN,
    EXT_ITEM_HEADER_LEN, EXT_LINKAGE_MORE, FILLER_MARKER, FULL_HEADER_LEN, INSTANCE_HEADER_LEN, MESSAGE_HEADER_LEN,
    PERFINFO_HEADER_LEN, RECORD_ALIGN, SYSTEM_HEADER_LEN, VERSION_PEBS_INDEX_FLAG, VERSION_PMC_COUNTERS_MASK,
};

/// Which record header a record has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum HeaderKind {
    /// `SYSTEM_TRACE_HEADER` (kernel/MOF events, the logfile header).
    System,
    /// Compact system header (no CPU times).
    CompactSystem,
    /// `PERFINFO_TRACE_HEADER`.
    Perfinfo,
    /// Classic `EVENT_TRACE_HEADER` (MOF, identified by GUID + type).
    Classic,
    /// `EVENT_INSTANCE_GUID_HEADER`.
    InstanceGuid,
    /// WPP `MESSAGE_TRACE_HEADER`.
    Message,
    /// `EVENT_HEADER` (manifest and TraceLogging providers).
    Event,
}

impl HeaderKind {
    pub fn name(self) -> &'static str {
        match self {
            HeaderKind::System => "system",
            HeaderKind::CompactSystem => "compact",
            HeaderKind::Perfinfo => "perfinfo",
            HeaderKind::Classic => "classic",
            HeaderKind::InstanceGuid => "instance",
            HeaderKind::Message => "message",
            HeaderKind::Event => "event",
        }
    }
}

/// One record, borrowed from its buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub kind: HeaderKind,
    /// `TRACE_HEADER_TYPE_*` (0x0F for WPP messages reached by flag 0x10).
    pub header_type: u8,
    /// The record's declared size (header + everything after it).
    pub size: usize,
    /// Raw clock value; `None` for a WPP message without a timestamp.
    pub raw_ts: Option<i64>,
    /// Pointer size of the writer: 4 for the 32-bit header types, else 8.
    pub pointer_size: u8,
    /// EVENT_HEADER ProviderId, classic/instance event GUID, WPP GUID.
    pub provider: Option<Guid>,
    pub activity_id: Option<Guid>,
    pub id: u16,
    pub version: u16,
    pub channel: u8,
    pub level: u8,
    pub opcode: u8,
    pub task: u16,
    pub keywords: u64,
    pub pid: u32,
    pub tid: u32,
    /// EVENT_HEADER Flags (`EVENT_HEADER_FLAG_*`); 0 for other kinds.
    pub flags: u16,
    pub event_property: u16,
    /// (Group, Type) of SYSTEM / compact / PERFINFO records.
    pub group_type: Option<(u8, u8)>,
    /// The extended data items, already validated (see [`ExtItems`]).
    pub ext: ExtItems<'a>,
    pub user_data: &'a [u8],
}

/// What is at one position of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    /// A record; the next one starts `advance` bytes further.
    Record(RecordView<'a>, usize),
    /// A record of a header type we do not decode, skipped by its size.
    Skipped { header_type: u8, advance: usize },
    /// Filler or too few bytes for a marker: no more records here.
    End,
}

/// Rounds a record size up to the next record start.
pub fn aligned(size: usize) -> usize {
    (size + RECORD_ALIGN - 1) & !(RECORD_ALIGN - 1)
}

/// Reads the record at `buf[pos..]`. `base` is the absolute offset of
/// `buf[0]`, used only in errors.
pub fn parse_at(buf: &[u8], pos: usize, base: u64) -> Result<Step<'_>, DecodeError> {
    let rest = match buf.get(pos..) {
        Some(r) if r.len() >= 4 => r,
        _ => return Ok(Step::End),
    };
    let at = base.saturating_add(pos as u64);
    let marker = le_u32(rest, 0);
    if marker == FILLER_MARKER {
        return Ok(Step::End);
    }
    let mflags = (marker >> 24) as u8;
    if mflags & marker_flag::TRACE_HEADER == 0 {
        return Err(DecodeError::bad_magic(at, "record marker (no TRACE_HEADER_FLAG)", marker as u64));
    }
    let htype = if mflags & marker_flag::EVENT_TRACE != 0 {
        (marker >> 16) as u8
    } else if mflags & marker_flag::MESSAGE != 0 {
        ht::MESSAGE
    } else {
        return Err(DecodeError::bad_magic(at, "record marker", marker as u64));
    };

    // Where the size is depends on the family.
    let version_first =
        matches!(htype, ht::SYSTEM32 | ht::SYSTEM64 | ht::COMPACT32 | ht::COMPACT64 | ht::PERFINFO32 | ht::PERFINFO64);
    let size = if version_first {
        if rest.len() < 8 {
            return Err(DecodeError::truncated(at, "record header", 8, rest.len() as u64));
        }
        le_u16(rest, 4) as usize
    } else {
        le_u16(rest, 0) as usize
    };
    if size < 4 {
        return Err(DecodeError::bad_length(at, "record size", size as u64));
    }
    if size > rest.len() {
        return Err(DecodeError::bad_length(at, format!("record size (only {} bytes left)", rest.len()), size as u64));
    }
    let advance = aligned(size);
    let rec = &rest[..size];
    let cur = Cursor::new(rec, at);

    let view = match htype {
        ht::SYSTEM32 | ht::SYSTEM64 => system(cur, htype, HeaderKind::System, SYSTEM_HEADER_LEN)?,
        ht::COMPACT32 | ht::COMPACT64 => system(cur, htype, HeaderKind::CompactSystem, COMPACT_HEADER_LEN)?,
        ht::PERFINFO32 | ht::PERFINFO64 => system(cur, htype, HeaderKind::Perfinfo, PERFINFO_HEADER_LEN)?,
        ht::FULL_HEADER32 | ht::FULL_HEADER64 => classic(cur, htype, HeaderKind::Classic, FULL_HEADER_LEN)?,
        ht::INSTANCE32 | ht::INSTANCE64 => classic(cur, htype, HeaderKind::InstanceGuid, INSTANCE_HEADER_LEN)?,
        ht::EVENT_HEADER32 | ht::EVENT_HEADER64 => event(cur)?,
        ht::MESSAGE => message(cur)?,
        other => return Ok(Step::Skipped { header_type: other, advance }),
    };
    Ok(Step::Record(view, advance))
}

fn is_32(htype: u8) -> bool {
    matches!(
        htype,
        ht::SYSTEM32 | ht::COMPACT32 | ht::PERFINFO32 | ht::FULL_HEADER32 | ht::INSTANCE32 | ht::EVENT_HEADER32
    )
}

fn blank(kind: HeaderKind, htype: u8, size: usize) -> RecordView<'static> {
    RecordView {
        kind,
        header_type: htype,
        size,
        raw_ts: None,
        pointer_size: if is_32(htype) { 4 } else { 8 },
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
        group_type: None,
        ext: ExtItems::EMPTY,
        user_data: &[],
    }
}

/// SYSTEM, compact and PERFINFO: `u16 Version, u8 Type, u8 Flags, u16 Size,
/// u8 Type(opcode), u8 Group`, then per family.
fn system(mut c: Cursor<'_>, htype: u8, kind: HeaderKind, fixed: usize) -> Result<RecordView<'_>, DecodeError> {
    let size = c.remaining();
    let name = kind_name(kind);
    let version = c.u16_le(name)?;
    c.skip(4, name)?; // type, flags, size
    let opcode = c.u8(name)?;
    let group = c.u8(name)?;
    let mut v = blank(kind, htype, size);
    if kind == HeaderKind::Perfinfo {
        v.raw_ts = Some(c.i64_le(name)?);
    } else {
        v.tid = c.u32_le(name)?;
        v.pid = c.u32_le(name)?;
        v.raw_ts = Some(c.i64_le(name)?);
        if kind == HeaderKind::System {
            c.skip(8, name)?; // KernelTime, UserTime
        }
    }
    debug_assert_eq!(c.pos(), fixed);
    // PEBS index and PMC counters sit between the header and the payload.
    let mut ext = 0usize;
    if version & VERSION_PEBS_INDEX_FLAG != 0 {
        ext += 8;
    }
    ext += 8 * ((version & VERSION_PMC_COUNTERS_MASK) >> 8) as usize;
    c.skip(ext, "record header extension words")?;
    v.version = version & !(VERSION_PEBS_INDEX_FLAG | VERSION_PMC_COUNTERS_MASK);
    v.opcode = opcode;
    v.group_type = Some((group, opcode));
    v.user_data = c.rest();
    Ok(v)
}

/// `EVENT_TRACE_HEADER` and `EVENT_INSTANCE_GUID_HEADER`.
fn classic(mut c: Cursor<'_>, htype: u8, kind: HeaderKind, fixed: usize) -> Result<RecordView<'_>, DecodeError> {
    let size = c.remaining();
    let name = kind_name(kind);
    if size < fixed {
        return Err(DecodeError::bad_length(c.offset(), format!("{name} size (header is {fixed})"), size as u64));
    }
    c.skip(4, name)?;
    let class_type = c.u8(name)?;
    let class_level = c.u8(name)?;
    let class_version = c.u16_le(name)?;
    let mut v = blank(kind, htype, size);
    v.tid = c.u32_le(name)?;
    v.pid = c.u32_le(name)?;
    v.raw_ts = Some(c.i64_le(name)?);
    v.provider = Some(c.guid(name)?);
    c.skip(8, name)?; // CPU times
    if kind == HeaderKind::InstanceGuid {
        c.skip(8, name)?; // InstanceId, ParentInstanceId
        v.activity_id = Some(c.guid(name)?); // ParentGuid
    }
    v.opcode = class_type;
    v.level = class_level;
    v.version = class_version;
    v.user_data = c.rest();
    Ok(v)
}

/// `EVENT_HEADER`, its extended data items and user data.
fn event(mut c: Cursor<'_>) -> Result<RecordView<'_>, DecodeError> {
    let size = c.remaining();
    let name = "EVENT_HEADER";
    if size < EVENT_HEADER_LEN {
        return Err(DecodeError::bad_length(
            c.offset(),
            format!("{name} size (header is {EVENT_HEADER_LEN})"),
            size as u64,
        ));
    }
    // Every record is read here, on the reading thread too: with the size
    // checked, the fixed header is read at fixed offsets, not field by
    // field through checked reads that cannot fail.
    let h = c.bytes(EVENT_HEADER_LEN, name)?;
    let guid = |at: usize| {
        let mut g = [0u8; 16];
        g.copy_from_slice(&h[at..at + 16]);
        Guid(g)
    };
    let mut v = blank(HeaderKind::Event, h[2], size);
    v.flags = le_u16(h, 4);
    v.event_property = le_u16(h, 6);
    v.tid = le_u32(h, 8);
    v.pid = le_u32(h, 12);
    v.raw_ts = Some(le_i64(h, 16));
    v.provider = Some(guid(24));
    v.id = le_u16(h, 40);
    v.version = h[42] as u16;
    v.channel = h[43];
    v.level = h[44];
    v.opcode = h[45];
    v.task = le_u16(h, 46);
    v.keywords = le_u64(h, 48);
    // 56..64: KernelTime/UserTime or ProcessorTime.
    v.activity_id = Some(guid(64));
    if v.flags & event_flag::EXTENDED_INFO != 0 {
        let start = c.pos();
        let region = c.rest();
        let mut count = 0usize;
        loop {
            let at = c.offset();
            let item_size = c.u16_le("extended data item")? as usize;
            c.skip(2, "extended data item")?; // ExtType
            let linkage = c.u16_le("extended data item")?;
            let data_size = c.u16_le("extended data item")? as usize;
            if item_size < EXT_ITEM_HEADER_LEN || item_size % 8 != 0 || data_size > item_size - EXT_ITEM_HEADER_LEN {
                return Err(DecodeError::bad_length(
                    at,
                    format!("extended data item size (DataSize {data_size})"),
                    item_size as u64,
                ));
            }
            c.skip(item_size - EXT_ITEM_HEADER_LEN, "extended data item")?;
            count += 1;
            if linkage & EXT_LINKAGE_MORE == 0 {
                break;
            }
        }
        v.ext = ExtItems { region: &region[..c.pos() - start], count };
    }
    v.user_data = c.rest();
    Ok(v)
}

/// WPP `MESSAGE_TRACE_HEADER`: `u16 Size, u16 Marker, u16 MessageNumber,
/// u16 OptionFlags`, then the optional fields the flags announce.
fn message(mut c: Cursor<'_>) -> Result<RecordView<'_>, DecodeError> {
    let size = c.remaining();
    let name = "MESSAGE_TRACE_HEADER";
    if size < MESSAGE_HEADER_LEN {
        return Err(DecodeError::bad_length(c.offset(), format!("{name} size"), size as u64));
    }
    c.skip(4, name)?;
    let mut v = blank(HeaderKind::Message, ht::MESSAGE, size);
    v.id = c.u16_le(name)?;
    let opts = c.u16_le(name)?;
    v.flags = opts;
    if opts & message_flag::SEQUENCE != 0 {
        c.skip(4, "WPP sequence number")?;
    }
    if opts & message_flag::COMPONENT_ID != 0 {
        c.skip(4, "WPP component id")?;
    } else if opts & message_flag::GUID != 0 {
        v.provider = Some(c.guid("WPP message GUID")?);
    }
    if opts & message_flag::TIMESTAMP != 0 {
        v.raw_ts = Some(c.i64_le("WPP timestamp")?);
    }
    if opts & message_flag::SYSTEMINFO != 0 {
        v.tid = c.u32_le("WPP system info")?;
        v.pid = c.u32_le("WPP system info")?;
    }
    v.user_data = c.rest();
    Ok(v)
}

fn kind_name(kind: HeaderKind) -> &'static str {
    match kind {
        HeaderKind::System => "SYSTEM_TRACE_HEADER",
        HeaderKind::CompactSystem => "compact SYSTEM_TRACE_HEADER",
        HeaderKind::Perfinfo => "PERFINFO_TRACE_HEADER",
        HeaderKind::Classic => "EVENT_TRACE_HEADER",
        HeaderKind::InstanceGuid => "EVENT_INSTANCE_GUID_HEADER",
        HeaderKind::Message => "MESSAGE_TRACE_HEADER",
        HeaderKind::Event => "EVENT_HEADER",
    }
}

/// The extended data items of an EVENT_HEADER record, validated when the
/// record was parsed: iterate to get `(ExtType, data)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtItems<'a> {
    region: &'a [u8],
    count: usize,
}

impl<'a> ExtItems<'a> {
    pub const EMPTY: ExtItems<'static> = ExtItems { region: &[], count: 0 };

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> ExtIter<'a> {
        ExtIter { rest: self.region, left: self.count }
    }
}

pub struct ExtIter<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for ExtIter<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 || self.rest.len() < EXT_ITEM_HEADER_LEN {
            return None;
        }
        let item_size = le_u16(self.rest, 0) as usize;
        let ext_type = le_u16(self.rest, 2);
        let data_size = le_u16(self.rest, 6) as usize;
        // Validated at parse time; stay safe if called on anything else.
        let data = self.rest.get(EXT_ITEM_HEADER_LEN..EXT_ITEM_HEADER_LEN + data_size)?;
        self.rest = self.rest.get(item_size.max(EXT_ITEM_HEADER_LEN)..).unwrap_or(&[]);
        self.left -= 1;
        Some((ext_type, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TraceLogging record from AMSITrace.etl (airbus-cert/etl-parser),
    /// buffer @0x10000, first record: EVENT_HEADER with two extended items
    /// (PROV_TRAITS, EVENT_SCHEMA_TL).
    fn amsi_record() -> Vec<u8> {
        let d = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/etl/airbus-cert_etl-parser__AMSITrace.etl"
        ));
        match d {
            Ok(d) => d[0x10048..0x10048 + 0x800].to_vec(),
            Err(_) => Vec::new(),
        }
    }

    /// The logfile-header record's first 0x20 bytes from lxcore_kernel.etl.
    const LXCORE_SYSTEM_HEADER: [u8; 0x20] = [
        0x02, 0x00, 0x02, 0xc0, 0x88, 0x01, 0x00, 0x00, 0x80, 0x1f, 0x00, 0x00, 0xe0, 0x17, 0x00, 0x00, //
        0x52, 0x17, 0x73, 0xd7, 0x19, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn system_header_of_the_logfile_record() {
        let mut buf = LXCORE_SYSTEM_HEADER.to_vec();
        buf.resize(0x188, 0);
        match parse_at(&buf, 0, 0x48).unwrap() {
            Step::Record(v, adv) => {
                assert_eq!(v.kind, HeaderKind::System);
                assert_eq!(v.size, 0x188);
                assert_eq!(adv, 0x188);
                assert_eq!(v.group_type, Some((0, 0)));
                assert_eq!(v.version, 2);
                assert_eq!(v.pointer_size, 8);
                assert_eq!(v.user_data.len(), 0x188 - 0x20);
            }
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn lying_size_ends_the_buffer_with_its_offset() {
        let mut buf = LXCORE_SYSTEM_HEADER.to_vec();
        buf.resize(0x100, 0); // record says 0x188 bytes, only 0x100 are there
        let e = parse_at(&buf, 0, 0x48).unwrap_err();
        assert_eq!(e.offset, 0x48);
        assert!(e.to_string().contains("record size"), "{e}");
        // Size smaller than the fixed header.
        let mut small = LXCORE_SYSTEM_HEADER.to_vec();
        small[4] = 0x10;
        small[5] = 0;
        assert!(parse_at(&small, 0, 0).is_err());
        // Size 0 never loops.
        let mut zero = LXCORE_SYSTEM_HEADER.to_vec();
        zero[4] = 0;
        zero[5] = 0;
        assert!(parse_at(&zero, 0, 0).is_err());
    }

    #[test]
    fn filler_and_short_tails_end_the_walk() {
        assert_eq!(parse_at(&[0xFF; 16], 0, 0).unwrap(), Step::End);
        assert_eq!(parse_at(&[0x02, 0x00, 0x02], 0, 0).unwrap(), Step::End);
        assert_eq!(parse_at(&[0u8; 16], 16, 0).unwrap(), Step::End);
        assert!(parse_at(&[0u8; 16], 0, 0).is_err()); // no TRACE_HEADER_FLAG
    }

    #[test]
    fn unknown_header_types_are_skipped_by_size() {
        let mut rec = vec![0u8; 0x24];
        rec[0..2].copy_from_slice(&0x21u16.to_le_bytes());
        rec[2] = 0x0D; // ERROR
        rec[3] = 0xC0;
        assert_eq!(parse_at(&rec, 0, 0).unwrap(), Step::Skipped { header_type: 0x0D, advance: 0x28 });
    }

    #[test]
    fn event_header_with_extended_items_from_amsi() {
        let buf = amsi_record();
        if buf.is_empty() {
            eprintln!("corpus not present; skipped");
            return;
        }
        let Step::Record(v, adv) = parse_at(&buf, 0, 0x10048).unwrap() else { panic!() };
        assert_eq!(v.kind, HeaderKind::Event);
        assert_eq!(v.provider.unwrap().to_string(), "8e805eb3-6a8f-4a1e-90fa-a831d94e54a1");
        assert_eq!(v.flags & event_flag::EXTENDED_INFO, event_flag::EXTENDED_INFO);
        let items: Vec<(u16, usize)> = v.ext.iter().map(|(t, d)| (t, d.len())).collect();
        assert_eq!(items.iter().map(|i| i.0).collect::<Vec<_>>(), vec![12, 11]);
        assert_eq!(adv, aligned(v.size));
        assert!(v.size <= buf.len());
    }

    #[test]
    fn extended_item_size_that_lies_is_an_error() {
        let mut rec = vec![0u8; 0x70];
        rec[0..2].copy_from_slice(&0x70u16.to_le_bytes());
        rec[2] = 0x13;
        rec[3] = 0xC0;
        rec[4..6].copy_from_slice(&event_flag::EXTENDED_INFO.to_le_bytes());
        // Item at 0x50 claims 0x40 bytes; only 0x20 are left in the record.
        rec[0x50..0x52].copy_from_slice(&0x40u16.to_le_bytes());
        rec[0x52..0x54].copy_from_slice(&3u16.to_le_bytes());
        rec[0x56..0x58].copy_from_slice(&4u16.to_le_bytes());
        let e = parse_at(&rec, 0, 0x1000).unwrap_err();
        assert!(e.offset >= 0x1050, "{e}");
        // Fixed to 0x18: one item of 4 data bytes, user data after it.
        rec[0x50..0x52].copy_from_slice(&0x10u16.to_le_bytes());
        let Step::Record(v, _) = parse_at(&rec, 0, 0).unwrap() else { panic!() };
        assert_eq!(v.ext.iter().collect::<Vec<_>>(), vec![(3u16, &[0u8, 0, 0, 0][..])]);
        assert_eq!(v.user_data.len(), 0x70 - 0x60);
        // DataSize larger than the item.
        rec[0x56..0x58].copy_from_slice(&9u16.to_le_bytes());
        assert!(parse_at(&rec, 0, 0).is_err());
    }

    #[test]
    fn classic_and_message_headers() {
        let mut rec = vec![0u8; 0x38];
        rec[0..2].copy_from_slice(&0x34u16.to_le_bytes());
        rec[2] = 0x14;
        rec[3] = 0xC0;
        rec[4] = 35; // Class.Type
        rec[5] = 4; // level
        rec[6..8].copy_from_slice(&2u16.to_le_bytes());
        rec[0x10..0x18].copy_from_slice(&77i64.to_le_bytes());
        rec[0x18] = 0x91;
        let Step::Record(v, adv) = parse_at(&rec, 0, 0).unwrap() else { panic!() };
        assert_eq!((v.kind, v.opcode, v.level, v.version, v.raw_ts), (HeaderKind::Classic, 35, 4, 2, Some(77)));
        assert_eq!(v.provider.unwrap().0[0], 0x91);
        assert_eq!(v.user_data.len(), 4);
        assert_eq!(adv, 0x38);

        let mut msg = vec![0u8; 0x28];
        msg[0..2].copy_from_slice(&0x28u16.to_le_bytes());
        msg[2..4].copy_from_slice(&0x9000u16.to_le_bytes());
        msg[4..6].copy_from_slice(&12u16.to_le_bytes());
        let opts = message_flag::GUID | message_flag::TIMESTAMP;
        msg[6..8].copy_from_slice(&opts.to_le_bytes());
        msg[0x18..0x20].copy_from_slice(&5i64.to_le_bytes());
        let Step::Record(v, _) = parse_at(&msg, 0, 0).unwrap() else { panic!() };
        assert_eq!((v.kind, v.id, v.raw_ts, v.user_data.len()), (HeaderKind::Message, 12, Some(5), 8));
        // Options announcing more than the record holds.
        msg[6..8].copy_from_slice(&0x2Fu16.to_le_bytes());
        msg.truncate(0x10);
        msg[0..2].copy_from_slice(&0x10u16.to_le_bytes());
        assert!(parse_at(&msg, 0, 0).is_err());
    }
}
