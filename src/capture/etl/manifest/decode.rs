//! Template-driven payload decoding: fields packed back to back, every
//! length checked against what is left (etl-format.md §6).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::capture::etl::cursor::Cursor;
use crate::time::Timestamp;

use super::{DecodedEvent, Field, FieldKind, FieldValue, InType, Len, OutType, ValueMap};

/// Elements that consume no bytes (empty strings, zero-length binaries,
/// empty structs) allowed per event, so a huge `count` over them ends.
const EMPTY_ELEMENT_BUDGET: u32 = 4096;

/// Array storage reserved up front at most; more grows as data is read.
const MAX_RESERVE: usize = 4096;

pub(crate) struct Output {
    pub(crate) fields: Vec<(String, FieldValue)>,
    pub(crate) trailing: usize,
    pub(crate) stopped: Option<String>,
}

/// Why a field could not be decoded, with what of it could be (a partial
/// array, string or binary).
struct Stop {
    partial: Option<FieldValue>,
    why: String,
}

impl Stop {
    fn new(why: impl Into<String>) -> Stop {
        Stop { partial: None, why: why.into() }
    }
    fn with(partial: FieldValue, why: impl Into<String>) -> Stop {
        Stop { partial: Some(partial), why: why.into() }
    }
}

impl From<crate::error::DecodeError> for Stop {
    fn from(e: crate::error::DecodeError) -> Stop {
        Stop::new(e.to_string())
    }
}

type Frame<'t> = Vec<(&'t str, Option<u64>)>;

struct Decoder<'d, 't> {
    cur: Cursor<'d>,
    ptr: usize,
    budget: u32,
    /// Integer values of the fields decoded so far, innermost struct last,
    /// for `length=`/`count=` references.
    frames: Vec<Frame<'t>>,
}

/// Decodes `data` by `fields`.
pub(crate) fn payload(fields: &[Field], data: &[u8], pointer_size: u8) -> Output {
    let mut d = Decoder {
        cur: Cursor::new(data, 0),
        ptr: if pointer_size == 4 { 4 } else { 8 },
        budget: EMPTY_ELEMENT_BUDGET,
        frames: Vec::new(),
    };
    let (fields, stopped) = d.fields(fields);
    Output { fields, trailing: d.cur.remaining(), stopped }
}

/// A STRING_ONLY event: one NUL-terminated UTF-16LE string.
pub(crate) fn string_only(provider: &str, data: &[u8]) -> DecodedEvent {
    let mut cur = Cursor::new(data, 0);
    let (s, terminated) = utf16_until_nul(&mut cur);
    let stopped = (!terminated).then(|| format!("@{:#x}: string without its NUL terminator", data.len()));
    DecodedEvent {
        provider: provider.to_string(),
        event_name: None,
        fields: vec![("String".to_string(), FieldValue::Str(s))],
        complete: terminated,
        trailing_bytes: cur.remaining(),
        stopped,
    }
}

impl<'d, 't> Decoder<'d, 't> {
    /// Decodes `fields` in order until one fails; returns what was decoded
    /// and why it stopped.
    fn fields(&mut self, fields: &'t [Field]) -> (Vec<(String, FieldValue)>, Option<String>) {
        self.frames.push(Vec::new());
        let mut out = Vec::with_capacity(fields.len());
        let mut stopped = None;
        for f in fields {
            match self.field(f) {
                Ok((v, raw)) => {
                    if let Some(frame) = self.frames.last_mut() {
                        frame.push((&f.name, raw));
                    }
                    out.push((f.name.clone(), v));
                }
                Err(stop) => {
                    if let Some(p) = stop.partial {
                        out.push((f.name.clone(), p));
                    }
                    stopped = Some(stop.why);
                    break;
                }
            }
        }
        self.frames.pop();
        (out, stopped)
    }

    /// The integer value of an earlier field, innermost struct first.
    fn resolve(&self, len: &Len, attr: &str, field: &str) -> Result<u64, Stop> {
        let name = match len {
            Len::Fixed(n) => return Ok(*n),
            Len::Field(name) => name,
        };
        for frame in self.frames.iter().rev() {
            if let Some((_, v)) = frame.iter().rev().find(|(n, _)| *n == name) {
                return v.ok_or_else(|| {
                    Stop::new(format!(
                        "@{:#x}: {attr} of {field} names {name}, which is not an integer",
                        self.cur.pos()
                    ))
                });
            }
        }
        Err(Stop::new(format!("@{:#x}: {attr} of {field} names {name}, which was not decoded", self.cur.pos())))
    }

    /// One field: an element, or `count` of them.
    fn field(&mut self, f: &'t Field) -> Result<(FieldValue, Option<u64>), Stop> {
        let Some(count) = &f.count else { return self.element(f) };
        let n = self.resolve(count, "count", &f.name)?;
        let reserve = usize::try_from(n).unwrap_or(usize::MAX).min(self.cur.remaining()).min(MAX_RESERVE);
        let mut items = Vec::with_capacity(reserve);
        let mut i = 0u64;
        while i < n {
            let before = self.cur.pos();
            match self.element(f) {
                Ok((v, _)) => items.push(v),
                Err(stop) => {
                    items.extend(stop.partial);
                    let why = format!("{} (element {i} of {n})", stop.why);
                    return Err(if items.is_empty() {
                        Stop::new(why)
                    } else {
                        Stop::with(FieldValue::Array(items), why)
                    });
                }
            }
            if self.cur.pos() == before {
                if self.budget == 0 {
                    return Err(Stop::with(
                        FieldValue::Array(items),
                        format!("@{:#x}: {} repeats an empty element {n} times; gave up", before, f.name),
                    ));
                }
                self.budget -= 1;
            }
            i += 1;
        }
        Ok((FieldValue::Array(items), None))
    }

    /// One element of a field, and its integer value when it has one.
    fn element(&mut self, f: &'t Field) -> Result<(FieldValue, Option<u64>), Stop> {
        let (in_type, out_type, length, map) = match &f.kind {
            FieldKind::Struct(members) => {
                let (m, stopped) = self.fields(members);
                return match stopped {
                    None => Ok((FieldValue::Struct(m), None)),
                    Some(why) if m.is_empty() => Err(Stop::new(why)),
                    Some(why) => Err(Stop::with(FieldValue::Struct(m), why)),
                };
            }
            FieldKind::Data { in_type, out_type, length, map } => (in_type, *out_type, length, map),
        };
        let length = match length {
            Some(l) => Some(self.resolve(l, "length", &f.name)?),
            None => None,
        };
        let name = f.name.as_str();
        let c = &mut self.cur;
        let int = |v: u64, shown: FieldValue| -> Result<(FieldValue, Option<u64>), Stop> {
            Ok((mapped(map.as_deref(), out_type, v, shown), Some(v)))
        };
        match in_type {
            InType::Int8 => {
                let v = c.u8(name)?;
                int(v as u64, FieldValue::I64(v as i8 as i64))
            }
            InType::UInt8 => {
                let v = c.u8(name)?;
                int(v as u64, FieldValue::U64(v as u64))
            }
            InType::Int16 => {
                let v = c.u16_le(name)?;
                int(v as u64, FieldValue::I64(v as i16 as i64))
            }
            InType::UInt16 => {
                let v = c.u16_le(name)?;
                if out_type == OutType::Port {
                    let port = v.swap_bytes();
                    return Ok((FieldValue::U64(port as u64), Some(port as u64)));
                }
                int(v as u64, FieldValue::U64(v as u64))
            }
            InType::Int32 => {
                let v = c.u32_le(name)?;
                int(v as u64, FieldValue::I64(v as i32 as i64))
            }
            InType::UInt32 | InType::HexInt32 | InType::IpAddrV4 => {
                let v = c.u32_le(name)?;
                if out_type == OutType::Ipv4 || *in_type == InType::IpAddrV4 {
                    let ip = Ipv4Addr::from(v.to_le_bytes());
                    return Ok((FieldValue::Ip(IpAddr::V4(ip)), Some(v as u64)));
                }
                int(v as u64, FieldValue::U64(v as u64))
            }
            InType::Int64 => {
                let v = c.u64_le(name)?;
                int(v, FieldValue::I64(v as i64))
            }
            InType::UInt64 | InType::HexInt64 => {
                let v = c.u64_le(name)?;
                int(v, FieldValue::U64(v))
            }
            InType::Pointer | InType::SizeT => {
                let v = if self.ptr == 4 { c.u32_le(name)? as u64 } else { c.u64_le(name)? };
                int(v, FieldValue::U64(v))
            }
            InType::Boolean => {
                let v = c.u32_le(name)?;
                Ok((FieldValue::Bool(v != 0), Some(v as u64)))
            }
            InType::Float => {
                let v = f32::from_bits(c.u32_le(name)?);
                Ok((FieldValue::F64(v as f64), None))
            }
            InType::Double => Ok((FieldValue::F64(f64::from_bits(c.u64_le(name)?)), None)),
            InType::Guid => {
                let g = c.guid(name)?;
                if out_type == OutType::Ipv6 {
                    return Ok((FieldValue::Ip(IpAddr::V6(Ipv6Addr::from(g.0))), None));
                }
                Ok((FieldValue::Guid(g), None))
            }
            InType::IpAddrV6 => {
                let b: [u8; 16] = c.bytes(16, name)?.try_into().unwrap_or([0; 16]);
                Ok((FieldValue::Ip(IpAddr::V6(Ipv6Addr::from(b))), None))
            }
            InType::FileTime => {
                let v = c.u64_le(name)?;
                Ok((filetime(v), None))
            }
            InType::SystemTime => {
                let b = c.bytes(16, name)?;
                Ok((systemtime(b), None))
            }
            InType::Sid => Ok((FieldValue::Str(sid(c, name)?), None)),
            InType::WbemSid => {
                c.skip(2 * self.ptr, name)?;
                Ok((FieldValue::Str(sid(c, name)?), None))
            }
            InType::UnicodeChar => {
                let v = c.u16_le(name)?;
                Ok((FieldValue::Str(String::from_utf16_lossy(&[v])), Some(v as u64)))
            }
            InType::AnsiChar => {
                let v = c.u8(name)?;
                Ok((FieldValue::Str(ansi(&[v], out_type)), Some(v as u64)))
            }
            InType::Binary => {
                let n = match length {
                    Some(n) => n,
                    None if out_type == OutType::Ipv6 => 16,
                    None => c.remaining() as u64,
                };
                let b = bytes(c, n, name)?;
                Ok((binary(b, out_type), None))
            }
            InType::CountedBinary => {
                let n = c.u16_le(name)?;
                let b = bytes(c, n as u64, name)?;
                Ok((binary(b, out_type), None))
            }
            InType::HexDump => {
                let n = c.u32_le(name)?;
                Ok((FieldValue::Bytes(bytes(c, n as u64, name)?.to_vec()), None))
            }
            InType::UnicodeString | InType::NonNulUnicodeString => {
                if let Some(chars) = length {
                    let b = bytes(c, chars.saturating_mul(2), name).map_err(partial_utf16)?;
                    return Ok((FieldValue::Str(cut_at_nul(utf16(b))), None));
                }
                if *in_type == InType::NonNulUnicodeString {
                    let n = c.remaining();
                    return Ok((FieldValue::Str(utf16(c.bytes(n, name)?)), None));
                }
                unicode_z(c, name)
            }
            InType::AnsiString | InType::NonNulAnsiString => {
                if let Some(n) = length {
                    let b = bytes(c, n, name).map_err(|s| partial_ansi(s, out_type))?;
                    return Ok((FieldValue::Str(cut_at_nul(ansi(b, out_type))), None));
                }
                let rest = c.rest();
                if *in_type == InType::NonNulAnsiString {
                    let b = c.bytes(rest.len(), name)?;
                    return Ok((FieldValue::Str(ansi(b, out_type)), None));
                }
                match rest.iter().position(|&b| b == 0) {
                    Some(i) => {
                        let b = c.bytes(i + 1, name)?;
                        Ok((FieldValue::Str(ansi(&b[..i], out_type)), None))
                    }
                    None => unterminated(c, name, |b| ansi(b, out_type)),
                }
            }
            InType::CountedUnicodeString | InType::ReversedCountedUnicodeString => {
                let n = c.u16_le(name)?;
                let n = if *in_type == InType::ReversedCountedUnicodeString { n.swap_bytes() } else { n };
                let b = bytes(c, n as u64, name).map_err(partial_utf16)?;
                Ok((FieldValue::Str(utf16(b)), None))
            }
            InType::CountedAnsiString | InType::ReversedCountedAnsiString => {
                let n = c.u16_le(name)?;
                let n = if *in_type == InType::ReversedCountedAnsiString { n.swap_bytes() } else { n };
                let b = bytes(c, n as u64, name).map_err(|s| partial_ansi(s, out_type))?;
                Ok((FieldValue::Str(ansi(b, out_type)), None))
            }
            InType::Unknown(t) => Err(Stop::new(format!("@{:#x}: in-type {t} of {name} is not supported", c.pos()))),
        }
    }
}

/// The shown value of an integer: its map's text when the map names it,
/// `false`/`true` for outType Boolean, else `shown`.
fn mapped(map: Option<&ValueMap>, out_type: OutType, v: u64, shown: FieldValue) -> FieldValue {
    if let Some(text) = map.and_then(|m| m.render(v)) {
        return FieldValue::Str(text);
    }
    if out_type == OutType::Boolean {
        return FieldValue::Bool(v != 0);
    }
    shown
}

/// `n` bytes; when fewer are left, a stop carrying those as `Bytes`.
fn bytes<'d>(c: &mut Cursor<'d>, n: u64, name: &str) -> Result<&'d [u8], Stop> {
    let have = c.remaining();
    match usize::try_from(n) {
        Ok(n) if n <= have => Ok(c.bytes(n, name)?),
        _ => {
            let why = format!("@{:#x}: truncated {name} (need {n} bytes, have {have})", c.pos());
            let b = c.rest().to_vec();
            let _ = c.skip(have, name);
            Err(if b.is_empty() { Stop::new(why) } else { Stop::with(FieldValue::Bytes(b), why) })
        }
    }
}

fn partial_utf16(s: Stop) -> Stop {
    match s.partial {
        Some(FieldValue::Bytes(b)) => Stop::with(FieldValue::Str(cut_at_nul(utf16(&b))), s.why),
        _ => s,
    }
}

fn partial_ansi(s: Stop, out_type: OutType) -> Stop {
    match s.partial {
        Some(FieldValue::Bytes(b)) => Stop::with(FieldValue::Str(cut_at_nul(ansi(&b, out_type))), s.why),
        _ => s,
    }
}

/// The rest of the data as an unterminated string: kept as a partial value.
fn unterminated(
    c: &mut Cursor<'_>,
    name: &str,
    text: impl Fn(&[u8]) -> String,
) -> Result<(FieldValue, Option<u64>), Stop> {
    let at = c.pos();
    let rest = c.rest();
    let _ = c.skip(rest.len(), name);
    if rest.is_empty() {
        return Err(Stop::new(format!("@{at:#x}: data ended before {name}")));
    }
    Err(Stop::with(
        FieldValue::Str(text(rest)),
        format!("@{at:#x}: {name} runs to the end of the data without its NUL"),
    ))
}

fn unicode_z(c: &mut Cursor<'_>, name: &str) -> Result<(FieldValue, Option<u64>), Stop> {
    let at = c.pos();
    let (s, terminated) = utf16_until_nul(c);
    if terminated {
        return Ok((FieldValue::Str(s), None));
    }
    if s.is_empty() && c.pos() == at {
        return Err(Stop::new(format!("@{at:#x}: data ended before {name}")));
    }
    Err(Stop::with(FieldValue::Str(s), format!("@{at:#x}: {name} runs to the end of the data without its NUL")))
}

/// UTF-16LE up to a NUL unit (consumed); without one, everything left
/// (an odd last byte included) and `false`.
fn utf16_until_nul(c: &mut Cursor<'_>) -> (String, bool) {
    let rest = c.rest();
    let end = rest.chunks_exact(2).position(|p| p == [0, 0]);
    match end {
        Some(i) => {
            let _ = c.skip(2 * i + 2, "string");
            (utf16(&rest[..2 * i]), true)
        }
        None => {
            let _ = c.skip(rest.len(), "string");
            (utf16(rest), false)
        }
    }
}

fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
    String::from_utf16_lossy(&units)
}

/// 8-bit text: UTF-8 when it is valid (or the outType says so), else
/// Latin-1 (the provider's code page is not known).
fn ansi(b: &[u8], out_type: OutType) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) if out_type == OutType::Utf8 => String::from_utf8_lossy(b).into_owned(),
        Err(_) => b.iter().map(|&x| x as char).collect(),
    }
}

/// Fixed-length strings are padded with NULs.
fn cut_at_nul(mut s: String) -> String {
    if let Some(i) = s.find('\0') {
        s.truncate(i);
    }
    s
}

fn binary(b: &[u8], out_type: OutType) -> FieldValue {
    match out_type {
        OutType::Ipv6 if b.len() == 16 => {
            let a: [u8; 16] = b.try_into().unwrap_or([0; 16]);
            FieldValue::Ip(IpAddr::V6(Ipv6Addr::from(a)))
        }
        OutType::Ipv4 if b.len() == 4 => FieldValue::Ip(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        OutType::SocketAddress => sockaddr(b).map_or_else(|| FieldValue::Bytes(b.to_vec()), FieldValue::Str),
        _ => FieldValue::Bytes(b.to_vec()),
    }
}

/// SOCKADDR_IN (family 2) / SOCKADDR_IN6 (family 23) as `addr:port`.
fn sockaddr(b: &[u8]) -> Option<String> {
    let family = u16::from_le_bytes([*b.first()?, *b.get(1)?]);
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    match family {
        2 => {
            let a: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(format!("{}:{port}", Ipv4Addr::from(a)))
        }
        23 => {
            let a: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some(format!("[{}]:{port}", Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

/// A FILETIME as a time; one outside what [`Timestamp`] holds
/// (1677..2262, so also 0 = "not set") stays the raw tick count.
fn filetime(ticks: u64) -> FieldValue {
    let ns = (ticks as i128 - crate::time::FILETIME_UNIX_OFFSET_SECS as i128 * 10_000_000) * 100;
    match i64::try_from(ns) {
        Ok(ns) => FieldValue::Time(Timestamp::from_nanos(ns)),
        Err(_) => FieldValue::U64(ticks),
    }
}

/// SYSTEMTIME (UTC assumed) as a time; an invalid date stays raw bytes.
fn systemtime(b: &[u8]) -> FieldValue {
    let w = |i: usize| u16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
    let (y, mo, d, h, mi, s, ms) = (w(0), w(1), w(3), w(4), w(5), w(6), w(7));
    let t = chrono::NaiveDate::from_ymd_opt(y as i32, mo as u32, d as u32)
        .and_then(|date| date.and_hms_milli_opt(h as u32, mi as u32, s as u32, ms as u32))
        .and_then(|dt| dt.and_utc().timestamp_nanos_opt());
    match t {
        Some(ns) => FieldValue::Time(Timestamp::from_nanos(ns)),
        None => FieldValue::Bytes(b.to_vec()),
    }
}

/// A SID as `S-1-5-21-…`.
fn sid(c: &mut Cursor<'_>, name: &str) -> Result<String, Stop> {
    let rev = c.u8(name)?;
    let n = c.u8(name)?;
    let auth = c.bytes(6, name)?;
    let auth = auth.iter().fold(0u64, |a, &x| (a << 8) | x as u64);
    let mut s = if auth < (1 << 32) { format!("S-{rev}-{auth}") } else { format!("S-{rev}-{auth:#x}") };
    for _ in 0..n {
        s.push_str(&format!("-{}", c.u32_le(name)?));
    }
    Ok(s)
}
