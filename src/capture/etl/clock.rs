//! Raw record timestamps to UTC, with integer arithmetic only.
//!
//! The logfile-header record's own raw timestamp `T0` is the session clock
//! at `StartTime` (etl-format.md §1.6), so for tick clocks
//! `t = StartTime + (T − T0) / frequency`, computed in i128 nanoseconds.

use crate::time::Timestamp;

use super::raw::FILETIME_UNIX_DIFF;

/// `TRACE_LOGFILE_HEADER.ReservedFlags`: the session's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ClockType {
    /// 1: QueryPerformanceCounter ticks at `PerfFreq` Hz.
    Qpc,
    /// 2: FILETIME (100 ns since 1601, UTC).
    SystemTime,
    /// 3: CPU cycle counter at `CpuSpeedInMHz`.
    CpuCycle,
    Unknown(u32),
}

impl ClockType {
    pub fn from_reserved_flags(v: u32) -> ClockType {
        match v {
            1 => ClockType::Qpc,
            2 => ClockType::SystemTime,
            3 => ClockType::CpuCycle,
            n => ClockType::Unknown(n),
        }
    }
}

/// How raw timestamps become [`Timestamp`]s for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    mode: Mode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Ticks at `hz` since `t0`, which was `start_ns`.
    Ticks { t0: i64, start_ns: i128, hz: u64 },
    /// The raw value is a FILETIME.
    FileTime,
}

fn filetime_ns(ft: i64) -> i128 {
    (ft as i128 - FILETIME_UNIX_DIFF as i128) * 100
}

fn clamp(ns: i128) -> Timestamp {
    Timestamp(ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

impl Clock {
    /// `start_time` is the header's StartTime FILETIME, `t0` the raw
    /// timestamp of the logfile-header record. A tick clock with a zero
    /// frequency cannot be converted; it falls back to reading raw values
    /// as FILETIME (and `is_degraded` says so).
    pub fn new(kind: ClockType, t0: i64, start_time: i64, perf_freq: i64, cpu_mhz: u32) -> Clock {
        let ticks = |hz: u64| Mode::Ticks { t0, start_ns: filetime_ns(start_time), hz };
        let qpc = (perf_freq > 0).then(|| ticks(perf_freq as u64));
        let cycles = (cpu_mhz > 0).then(|| ticks(cpu_mhz as u64 * 1_000_000));
        let mode = match kind {
            ClockType::SystemTime => Mode::FileTime,
            ClockType::Qpc => qpc.unwrap_or(Mode::FileTime),
            ClockType::CpuCycle => cycles.unwrap_or(Mode::FileTime),
            ClockType::Unknown(_) => qpc.or(cycles).unwrap_or(Mode::FileTime),
        };
        Clock { mode }
    }

    /// Ticks per second of the raw clock (10 MHz for FILETIME).
    pub fn frequency(&self) -> u64 {
        match self.mode {
            Mode::Ticks { hz, .. } => hz,
            Mode::FileTime => 10_000_000,
        }
    }

    pub fn to_timestamp(&self, raw: i64) -> Timestamp {
        match self.mode {
            Mode::FileTime => clamp(filetime_ns(raw)),
            Mode::Ticks { t0, start_ns, hz } => {
                // Every record's time goes through here: in 64 bits when
                // nothing can overflow (always, on real captures), as the
                // 128-bit divisions were a fifth of decoding a buffer.
                ticks_to_ns_64(raw, t0, start_ns, hz).unwrap_or_else(|| clamp(ticks_to_ns(raw, t0, start_ns, hz)))
            }
        }
    }
}

/// Nanoseconds at tick `raw`, in 128 bits: exact for any input.
fn ticks_to_ns(raw: i64, t0: i64, start_ns: i128, hz: u64) -> i128 {
    let delta = raw as i128 - t0 as i128;
    let hz = hz as i128;
    // Floor division keeps ordering for deltas of either sign.
    let secs = delta.div_euclid(hz);
    let frac = delta.rem_euclid(hz);
    start_ns + secs * 1_000_000_000 + frac * 1_000_000_000 / hz
}

/// [`ticks_to_ns`] in 64 bits, clamped the same way; `None` where a step
/// would overflow.
fn ticks_to_ns_64(raw: i64, t0: i64, start_ns: i128, hz: u64) -> Option<Timestamp> {
    let delta = raw.checked_sub(t0)?;
    let hz = i64::try_from(hz).ok().filter(|&hz| hz > 0)?;
    let secs = delta.div_euclid(hz);
    let frac = delta.rem_euclid(hz);
    let ns = i64::try_from(start_ns)
        .ok()?
        .checked_add(secs.checked_mul(1_000_000_000)?)?
        .checked_add(frac.checked_mul(1_000_000_000)? / hz)?;
    Some(Timestamp(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    // lxcore_kernel.etl: StartTime 0x01d659d6ee639ce3, T0 0x19d7731752,
    // PerfFreq 10 MHz, QPC.
    const START: i64 = 0x01d6_59d6_ee63_9ce3;
    const T0: i64 = 0x19_d773_1752;

    #[test]
    fn sixty_four_bits_give_what_128_do() {
        let mut rng = crate::test_rng::XorShift64::new(0x9E37_79B9_7F4A_7C15);
        let mut next = || rng.next();
        let starts = [filetime_ns(START), 0, -5, i64::MAX as i128, i64::MAX as i128 + 1];
        for _ in 0..100_000 {
            let (a, b) = (next(), next());
            // Ticks near the anchor, anywhere, and at the extremes.
            let t0 = [T0, a as i64, i64::MIN, i64::MAX][(b % 4) as usize];
            let raw = match b >> 62 {
                0 => t0.wrapping_add((a % 1_000_000_000_000) as i64),
                1 => t0.wrapping_sub((a % 1_000_000_000_000) as i64),
                _ => a as i64,
            };
            let hz = [10_000_000, 1_000_000_000, 3_000_000_000, u64::MAX, 1, (b >> 20) | 1][(a % 6) as usize];
            let start = starts[(b % 5) as usize];
            let exact = clamp(ticks_to_ns(raw, t0, start, hz));
            if let Some(fast) = ticks_to_ns_64(raw, t0, start, hz) {
                assert_eq!(fast, exact, "raw {raw} t0 {t0} start {start} hz {hz}");
            }
        }
        // The usual case takes the 64-bit way.
        assert!(ticks_to_ns_64(T0 + 12_345_678, T0, filetime_ns(START), 10_000_000).is_some());
    }

    #[test]
    fn qpc_anchor_is_start_time() {
        let c = Clock::new(ClockType::Qpc, T0, START, 10_000_000, 0);
        assert_eq!(c.to_timestamp(T0).to_string(), "2020-07-14T12:04:31.138736300Z");
        assert_eq!(c.to_timestamp(T0 + 10_000_000).0 - c.to_timestamp(T0).0, 1_000_000_000);
        assert_eq!(c.to_timestamp(T0 - 1).0 - c.to_timestamp(T0).0, -100);
    }

    #[test]
    fn odd_frequency_stays_exact() {
        // 3 579 545 Hz (ACPI PM timer): one second of ticks is one second.
        let c = Clock::new(ClockType::Qpc, 1000, START, 3_579_545, 0);
        assert_eq!(c.to_timestamp(1000 + 3_579_545).0 - c.to_timestamp(1000).0, 1_000_000_000);
        // A single tick is 279 ns (floor), never rounded up past the next.
        assert_eq!(c.to_timestamp(1001).0 - c.to_timestamp(1000).0, 279);
    }

    #[test]
    fn system_time_and_cycles() {
        let c = Clock::new(ClockType::SystemTime, 0, 0, 0, 0);
        assert_eq!(c.to_timestamp(116_444_736_000_000_000).0, 0);
        let c = Clock::new(ClockType::CpuCycle, 0, START, 0, 2000);
        assert_eq!(c.to_timestamp(2_000_000_000).0 - c.to_timestamp(0).0, 1_000_000_000);
        // Extreme raw values saturate instead of overflowing.
        let _ = c.to_timestamp(i64::MAX);
        let _ = c.to_timestamp(i64::MIN);
        let ft = Clock::new(ClockType::SystemTime, 0, 0, 0, 0);
        assert_eq!(ft.to_timestamp(i64::MAX), Timestamp::MAX);
        assert_eq!(ft.to_timestamp(i64::MIN), Timestamp::MIN);
        let c = Clock::new(ClockType::Qpc, i64::MAX, i64::MIN, 1, 0);
        let _ = c.to_timestamp(i64::MIN);
    }

    #[test]
    fn unknown_clock_falls_back() {
        let c = Clock::new(ClockType::Unknown(0), T0, START, 10_000_000, 0);
        assert_eq!(c, Clock::new(ClockType::Qpc, T0, START, 10_000_000, 0));
        let c = Clock::new(ClockType::Qpc, T0, START, 0, 0);
        assert_eq!(c.frequency(), 10_000_000);
    }
}
