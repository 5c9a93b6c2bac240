//! Absolute time as integer nanoseconds since the Unix epoch.
//!
//! Every reader converts its own clock (pcap seconds + fraction, pcapng units
//! of `if_tsresol`, ETL 100 ns FILETIME ticks) into this one type with integer
//! arithmetic, so that comparisons and differences never lose precision.

use std::fmt;

/// Nanoseconds since 1970-01-01T00:00:00Z. `i64` covers 1677..2262, which
/// holds every timestamp a capture format can express except the most absurd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// Seconds between 1601-01-01 (the Windows FILETIME epoch) and 1970-01-01.
pub const FILETIME_UNIX_OFFSET_SECS: i64 = 11_644_473_600;

impl Timestamp {
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    pub fn from_nanos(ns: i64) -> Self {
        Timestamp(ns)
    }

    /// From whole seconds and a fraction counted in `units_per_sec` units.
    /// Saturates instead of overflowing for values past the year 2262.
    pub fn from_parts(secs: i64, frac: u64, units_per_sec: u64) -> Self {
        let units_per_sec = units_per_sec.max(1) as i128;
        let frac_ns = (frac as i128 * 1_000_000_000) / units_per_sec;
        let ns = secs as i128 * 1_000_000_000 + frac_ns;
        Timestamp(ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }

    /// From a count of `units_per_sec` ticks since the Unix epoch.
    pub fn from_ticks(ticks: i128, units_per_sec: u64) -> Self {
        let units_per_sec = units_per_sec.max(1) as i128;
        // Micro- and nanoseconds, nearly every capture: one multiplication
        // instead of two 128-bit divisions per packet.
        if 1_000_000_000 % units_per_sec == 0 {
            if let Some(ns) = ticks.checked_mul(1_000_000_000 / units_per_sec) {
                return Timestamp(ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64);
            }
        }
        let secs = ticks.div_euclid(units_per_sec);
        let frac = ticks.rem_euclid(units_per_sec);
        // Saturating: ticks far outside i64 nanoseconds end up clamped below.
        let ns = secs.saturating_mul(1_000_000_000).saturating_add(frac * 1_000_000_000 / units_per_sec);
        Timestamp(ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }

    /// From a Windows FILETIME (100 ns ticks since 1601-01-01 UTC).
    pub fn from_filetime(ticks: u64) -> Self {
        let ns = (ticks as i128 - FILETIME_UNIX_OFFSET_SECS as i128 * 10_000_000) * 100;
        Timestamp(ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }

    pub fn nanos(self) -> i64 {
        self.0
    }

    /// `self - earlier` in nanoseconds, saturating: timestamps from damaged
    /// input can be anywhere in the i64 range.
    pub fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// `self - earlier` in microseconds, as a float for reports.
    pub fn micros_since(self, earlier: Timestamp) -> f64 {
        (self.0 as i128 - earlier.0 as i128) as f64 / 1000.0
    }

    /// RFC 3339 in UTC with nanoseconds: `2017-11-08T17:02:15.986383900Z`.
    pub fn rfc3339(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000) as u32;
        // Written field by field: a chrono format string is parsed again on
        // every call, which showed in reports with many thousands of rows.
        // Every i64 of nanoseconds is a year from 1677 to 2262, four digits.
        match chrono::DateTime::from_timestamp(secs, nanos) {
            Some(dt) => {
                use chrono::{Datelike, Timelike};
                let (date, time) = (dt.date_naive(), dt.time());
                write!(
                    f,
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
                    date.year(),
                    date.month(),
                    date.day(),
                    time.hour(),
                    time.minute(),
                    time.second()
                )
            }
            None => write!(f, "@{}ns", self.0),
        }
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn formats_with_nanoseconds() {
        let t = Timestamp::from_parts(1_510_160_535, 986_383_900, 1_000_000_000);
        assert_eq!(t.to_string(), "2017-11-08T17:02:15.986383900Z");
    }

    /// Spread over the whole i64 range, both ends and the epoch included.
    pub(crate) fn sample_times() -> impl Iterator<Item = Timestamp> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let spread = (0..20_000).map(move |_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Timestamp(x as i64)
        });
        [i64::MIN, i64::MIN + 1, -1, 0, 1, 86_399_999_999_999, i64::MAX].into_iter().map(Timestamp).chain(spread)
    }

    #[test]
    fn formats_as_chrono_does() {
        for t in sample_times() {
            let secs = t.0.div_euclid(1_000_000_000);
            let nanos = t.0.rem_euclid(1_000_000_000) as u32;
            let dt = chrono::DateTime::from_timestamp(secs, nanos).unwrap();
            assert_eq!(t.to_string(), dt.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string(), "{}", t.0);
        }
    }

    #[test]
    fn decimal_resolutions_agree_with_the_general_conversion() {
        let general = |ticks: i128, units: i128| {
            let whole = ticks.div_euclid(units).saturating_mul(1_000_000_000);
            let ns = whole.saturating_add(ticks.rem_euclid(units) * 1_000_000_000 / units);
            ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64
        };
        for units in [1u64, 10, 1_000, 1_000_000, 1_000_000_000] {
            for t in sample_times() {
                for ticks in [t.0 as i128, (t.0 as i128) << 40, -((t.0 as i128) << 63)] {
                    assert_eq!(
                        Timestamp::from_ticks(ticks, units).0,
                        general(ticks, units as i128),
                        "{ticks} / {units}"
                    );
                }
            }
        }
    }

    #[test]
    fn binary_resolution_is_exact() {
        // 2^-8 s units: 0x80 ticks = 0.5 s.
        let t = Timestamp::from_ticks(10 * 256 + 0x80, 256);
        assert_eq!(t.0, 10_500_000_000);
    }

    #[test]
    fn filetime_epoch_maps_to_unix() {
        let t = Timestamp::from_filetime(116_444_736_000_000_000);
        assert_eq!(t.0, 0);
    }

    #[test]
    fn year_2106_and_beyond() {
        let t = Timestamp::from_parts(u32::MAX as i64, 999_999, 1_000_000);
        assert_eq!(t.to_string(), "2106-02-07T06:28:15.999999000Z");
    }
}
