//! `TRACE_LOGFILE_HEADER`: the payload of the file's first record.
//!
//! The record is a SYSTEM_TRACE_HEADER with HookId 0; its header type says
//! whether the session was 32-bit (0x01, pointers of 4 bytes, 0x110-byte
//! struct) or 64-bit (0x02, 0x118 bytes). Two NUL-terminated UTF-16LE
//! strings follow: the logger name and the log file name.

use crate::error::DecodeError;
use crate::time::Timestamp;

use super::clock::{Clock, ClockType};
use super::cursor::Cursor;
use super::raw::{
    header_type, log_file_mode, logfile_field as field, HOOK_LOGFILE_HEADER, LOGFILE_HEADER_LEN_32,
    LOGFILE_HEADER_LEN_64,
};
use super::record::{HeaderKind, RecordView};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogfileHeader {
    /// 4 or 8, from the record's header type (the struct layout follows it).
    pub pointer_size: u8,
    /// The `PointerSize` field as written (4 or 8 in sane files).
    pub pointer_size_field: u32,
    /// Session buffer size in bytes.
    pub buffer_size: u32,
    /// MajorVersion, MinorVersion, SubVersion, SubMinorVersion.
    pub version: [u8; 4],
    /// OS build number.
    pub provider_version: u32,
    pub number_of_processors: u32,
    pub end_time: Timestamp,
    /// 100 ns units.
    pub timer_resolution: u32,
    /// MB.
    pub maximum_file_size: u32,
    pub log_file_mode: u32,
    /// Buffers in the file including the header buffer (a hint only:
    /// circular files hold fewer).
    pub buffers_written: u32,
    pub start_buffers: u32,
    pub events_lost: u32,
    pub cpu_speed_mhz: u32,
    /// Capturing host's time-zone bias in minutes (UTC = local + bias).
    pub timezone_bias_minutes: i32,
    pub boot_time: Timestamp,
    pub perf_freq: i64,
    pub start_time: Timestamp,
    /// Raw `StartTime` FILETIME.
    pub start_filetime: i64,
    /// `ReservedFlags`.
    pub clock_type: ClockType,
    pub buffers_lost: u32,
    pub logger_name: String,
    pub log_file_name: String,
    /// Raw timestamp of the logfile-header record: the clock at StartTime.
    pub t0: i64,
}

impl LogfileHeader {
    /// From the first record of the file. `offset` is the record's absolute
    /// offset, for errors.
    pub fn parse(rec: &RecordView<'_>, offset: u64) -> Result<LogfileHeader, DecodeError> {
        let is_logfile = rec.kind == HeaderKind::System
            && rec.group_type.map(|(g, t)| (g as u16) << 8 | t as u16) == Some(HOOK_LOGFILE_HEADER);
        if !is_logfile {
            return Err(DecodeError::other(
                offset,
                format!(
                    "first record is not the logfile header (kind {}, group/type {:?})",
                    rec.kind.name(),
                    rec.group_type
                ),
            ));
        }
        let (pointer_size, len) = match rec.header_type {
            header_type::SYSTEM32 => (4u8, LOGFILE_HEADER_LEN_32),
            _ => (8u8, LOGFILE_HEADER_LEN_64),
        };
        let data_at = offset + (rec.size - rec.user_data.len()) as u64;
        let mut all = Cursor::new(rec.user_data, data_at);
        let mut c = all.split(len, "TRACE_LOGFILE_HEADER")?;
        let what = "TRACE_LOGFILE_HEADER";
        let buffer_size = c.u32_le(what)?;
        let v = c.bytes(4, what)?;
        let version = [v[0], v[1], v[2], v[3]];
        let provider_version = c.u32_le(what)?;
        let number_of_processors = c.u32_le(what)?;
        let end_time = c.i64_le(what)?;
        let timer_resolution = c.u32_le(what)?;
        let maximum_file_size = c.u32_le(what)?;
        let log_file_mode = c.u32_le(what)?;
        let buffers_written = c.u32_le(what)?;
        let start_buffers = c.u32_le(what)?;
        let pointer_size_field = c.u32_le(what)?;
        let events_lost = c.u32_le(what)?;
        let cpu_speed_mhz = c.u32_le(what)?;
        debug_assert_eq!(c.pos(), field::LOGGER_NAME_PTR);
        c.skip(2 * pointer_size as usize, what)?; // LoggerName, LogFileName pointers
        let tz = c.split(field::TIME_ZONE_LEN, what)?;
        let timezone_bias_minutes = tz.rest().get(..4).map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        c.skip(4, what)?; // alignment
        let boot_time = c.i64_le(what)?;
        let perf_freq = c.i64_le(what)?;
        let start_filetime = c.i64_le(what)?;
        let reserved_flags = c.u32_le(what)?;
        let buffers_lost = c.u32_le(what)?;
        debug_assert!(c.is_empty());
        let logger_name = utf16z(&mut all);
        let log_file_name = utf16z(&mut all);
        let ft = |v: i64| Timestamp::from_filetime(v.max(0) as u64);
        Ok(LogfileHeader {
            pointer_size,
            pointer_size_field,
            buffer_size,
            version,
            provider_version,
            number_of_processors,
            end_time: ft(end_time),
            timer_resolution,
            maximum_file_size,
            log_file_mode,
            buffers_written,
            start_buffers,
            events_lost,
            cpu_speed_mhz,
            timezone_bias_minutes,
            boot_time: ft(boot_time),
            perf_freq,
            start_time: ft(start_filetime),
            start_filetime,
            clock_type: ClockType::from_reserved_flags(reserved_flags),
            buffers_lost,
            logger_name,
            log_file_name,
            t0: rec.raw_ts.unwrap_or(0),
        })
    }

    /// The clock that converts this file's raw timestamps.
    pub fn clock(&self) -> Clock {
        Clock::new(self.clock_type, self.t0, self.start_filetime, self.perf_freq, self.cpu_speed_mhz)
    }

    pub fn is_circular(&self) -> bool {
        self.log_file_mode & log_file_mode::CIRCULAR != 0
    }

    pub fn is_compressed_mode(&self) -> bool {
        self.log_file_mode & log_file_mode::COMPRESSED != 0
    }
}

/// A NUL-terminated UTF-16LE string; stops at the end of the input.
fn utf16z(c: &mut Cursor<'_>) -> String {
    let mut units = Vec::new();
    while let Ok(u) = c.u16_le("string") {
        if u == 0 {
            break;
        }
        units.push(u);
    }
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::etl::record::{parse_at, Step};

    fn first_record_of(name: &str) -> Option<Vec<u8>> {
        let path = format!("{}/../shared/corpus/etl/{name}", env!("CARGO_MANIFEST_DIR"));
        let d = std::fs::read(path).ok()?;
        Some(d[0x48..0x400.min(d.len())].to_vec())
    }

    #[test]
    fn lxcore_logfile_header() {
        let Some(buf) = first_record_of("airbus-cert_etl-parser__lxcore_kernel.etl") else {
            eprintln!("corpus not present; skipped");
            return;
        };
        let Step::Record(rec, _) = parse_at(&buf, 0, 0x48).unwrap() else { panic!() };
        let h = LogfileHeader::parse(&rec, 0x48).unwrap();
        assert_eq!(h.pointer_size, 8);
        assert_eq!(h.pointer_size_field, 8);
        assert_eq!(h.buffer_size, 8192);
        assert_eq!(h.buffers_written, 3);
        assert_eq!(h.perf_freq, 10_000_000);
        assert_eq!(h.clock_type, ClockType::Qpc);
        assert_eq!(h.t0, 0x19_d773_1752);
        assert_eq!(h.start_time.to_string(), "2020-07-14T12:04:31.138736300Z");
        assert!(h.end_time > h.start_time);
        assert!(h.boot_time < h.start_time);
        assert!(!h.logger_name.is_empty(), "{h:?}");
    }

    #[test]
    fn x86_header_from_small_etl() {
        // perfview smallEtlFile.etl: a 32-bit session (marker 0xC0010002).
        let Some(buf) = first_record_of("perfview/microsoft_perfview__smallEtlFile.etl") else {
            return;
        };
        let Step::Record(rec, _) = parse_at(&buf, 0, 0x48).unwrap() else { panic!() };
        assert_eq!(rec.pointer_size, 4);
        let h = LogfileHeader::parse(&rec, 0x48).unwrap();
        assert_eq!(h.pointer_size, 4);
        assert_eq!(h.pointer_size_field, 4);
        assert!(h.number_of_processors > 0);
        assert!(h.end_time >= h.start_time, "{h:?}");
        assert_eq!(h.start_time.to_string().get(..10), Some("2016-08-17"));
    }

    #[test]
    fn short_logfile_record_is_truncated_error() {
        let Some(mut buf) = first_record_of("airbus-cert_etl-parser__lxcore_kernel.etl") else {
            return;
        };
        // Record claims 0x80 bytes: too small for the 0x118-byte struct.
        buf[4] = 0x80;
        buf[5] = 0;
        let Step::Record(rec, _) = parse_at(&buf, 0, 0x48).unwrap() else { panic!() };
        let e = LogfileHeader::parse(&rec, 0x48).unwrap_err();
        assert_eq!(e.offset, 0x68);
    }
}
