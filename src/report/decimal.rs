//! Numbers with a fixed count of decimals, written as `format!("{v:.N}")`
//! writes them, without its general machinery.
//!
//! Every duration in a table goes through here (each hop of ten thousand
//! listed paths, each flow), and the standard formatting of a float to a
//! precision, exact for any value, cost a twentieth of a switching host's
//! run. A duration is small enough that the exact answer is a few integer
//! operations.

use std::fmt::Write as _;

/// Values below this (in magnitude) are written here; larger ones, and
/// infinities and NaN, by the standard formatter.
const LIMIT: f64 = 1e15;

/// Writes `v` with `decimals` (at most 3) digits after the point, exactly
/// as `format!("{v:.decimals$}")` does: rounded half to even on the exact
/// binary value, with the sign of a negative value (zero included).
pub fn write_fixed(out: &mut String, v: f64, decimals: u32) {
    debug_assert!(decimals <= 3);
    // NaN is not below the limit either.
    let small = v.abs() < LIMIT;
    if !small || decimals > 3 {
        let _ = write!(out, "{v:.*}", decimals as usize);
        return;
    }
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7FF) as i32;
    let fraction = bits & ((1 << 52) - 1);
    // v = mantissa * 2^exponent, exactly.
    let (mantissa, exponent) = match biased {
        0 => (fraction, -1074),
        _ => (fraction | 1 << 52, biased - 1075),
    };
    let scale = 10u64.pow(decimals);
    // Below LIMIT the exponent is negative: v * 10^decimals is the integer
    // part of `scaled >> shift`, and the bits shifted out are the rest.
    // (mantissa < 2^53 and scale <= 1000: `scaled` < 2^63.)
    let scaled = mantissa * scale;
    let shift = (-exponent) as u32;
    let units = if shift >= 64 {
        0 // scaled < 2^63 <= one half
    } else {
        let whole = scaled >> shift;
        let rest = scaled & ((1u64 << shift) - 1);
        let half = 1u64 << (shift - 1);
        if rest > half || (rest == half && whole & 1 == 1) {
            whole + 1
        } else {
            whole
        }
    };
    if bits >> 63 == 1 {
        out.push('-');
    }
    push_digits(out, units / scale, 1);
    if decimals > 0 {
        out.push('.');
        push_digits(out, units % scale, decimals as usize);
    }
}

/// `n` in decimal, with leading zeros up to `min_digits`.
pub(crate) fn push_digits(out: &mut String, mut n: u64, min_digits: usize) {
    // Most numbers in a report are one or two digits (times of day, counts).
    if n < 100 && (1..=2).contains(&min_digits) {
        if n >= 10 || min_digits == 2 {
            out.push(char::from(b'0' + (n / 10) as u8));
        }
        out.push(char::from(b'0' + (n % 10) as u8));
        return;
    }
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    while n > 0 || digits.len() - start < min_digits {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    // A char at a time: checking the digits as UTF-8 cost more than
    // making them.
    out.reserve(digits.len() - start);
    digits[start..].iter().for_each(|&d| out.push(char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::write_fixed;

    fn fixed(v: f64, decimals: u32) -> String {
        let mut s = String::new();
        write_fixed(&mut s, v, decimals);
        s
    }

    fn check(v: f64) {
        for decimals in 0..=3 {
            assert_eq!(
                fixed(v, decimals),
                format!("{v:.*}", decimals as usize),
                "{v:e} ({:#x}) to {decimals}",
                v.to_bits()
            );
        }
    }

    #[test]
    fn digits_are_those_of_the_standard_formatter() {
        let mut rng = crate::test_rng::XorShift64::new(0x0123_4567_89AB_CDEF);
        for k in 0..5_000u64 {
            let n = match k % 4 {
                0 => k / 4,
                1 => rng.next() % 1_000,
                2 => rng.next() >> (rng.next() % 64),
                _ => u64::MAX - k,
            };
            for min in 0..=7 {
                let mut s = String::from("x");
                super::push_digits(&mut s, n, min);
                let expected = if n == 0 && min == 0 { String::new() } else { format!("{n:0min$}") };
                assert_eq!(s, format!("x{expected}"), "{n} to {min} digits");
            }
        }
    }

    #[test]
    fn the_same_text_as_the_standard_formatter() {
        // Ties on the exact value, both ways, and values just beside them.
        for k in -1000..1000 {
            for denominator in [2.0, 4.0, 8.0, 16.0, 20.0, 200.0, 2000.0] {
                let v = k as f64 / denominator;
                check(v);
                check(f64::from_bits(v.to_bits() + 1));
                check(f64::from_bits(v.to_bits().saturating_sub(1)));
            }
        }
        // Durations as the report makes them: nanoseconds to micro-,
        // milli- and seconds.
        let mut rng = crate::test_rng::XorShift64::new(0x2545_F491_4F6C_DD1D);
        for _ in 0..20_000 {
            let seed = rng.next();
            let ns = (seed % 10_000_000_000) as i64 - 1_000_000_000;
            let us = ns as f64 / 1000.0;
            for v in [us, us / 1_000.0, us / 1_000_000.0, (us * 1000.0).round() / 1000.0] {
                check(v);
            }
            // Any bit pattern, most of them tiny, huge or not numbers.
            check(f64::from_bits(seed));
        }
        for v in [0.0, -0.0, 1e-320, -1e-320, 5e-324, 999.95, 1e15, -1e15, 1e300, f64::INFINITY, f64::NAN] {
            check(v);
        }
    }
}
