//! MS-XCA "plain LZ77" (LZXpress) decompression, as used by compressed ETL
//! buffers (buffer flag 0x40).
//!
//! The stream is groups of 32 items announced by a u32 flag word (bits
//! consumed from the top): a 0 bit is one literal byte, a 1 bit a match
//! `u16 m` with distance `(m >> 3) + 1` and length `m & 7`, extended by a
//! shared half byte, a byte, a u16 and finally a u32, plus 3.
//!
//! The output is bounded by the caller's expected length; nothing in the
//! input can make this allocate more, loop without consuming input, or
//! index out of bounds.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XpressError {
    /// The input ended inside an item (flag word, match or length bytes).
    Truncated { at: usize },
    /// A match points before the start of the output.
    BadDistance { at: usize, distance: usize, written: usize },
    /// A match would write past the expected output length.
    Overflow { at: usize, limit: usize },
    /// An extended length below its encoding's minimum.
    BadLength { at: usize, length: usize },
}

impl fmt::Display for XpressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XpressError::Truncated { at } => write!(f, "compressed data ends inside an item at +{at:#x}"),
            XpressError::BadDistance { at, distance, written } => {
                write!(f, "match at +{at:#x} reaches {distance} bytes back with only {written} written")
            }
            XpressError::Overflow { at, limit } => {
                write!(f, "match at +{at:#x} runs past the expected {limit} decompressed bytes")
            }
            XpressError::BadLength { at, length } => write!(f, "invalid match length {length} at +{at:#x}"),
        }
    }
}

impl std::error::Error for XpressError {}

struct Input<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn u8(&mut self) -> Result<u8, XpressError> {
        let v = *self.b.get(self.pos).ok_or(XpressError::Truncated { at: self.pos })?;
        self.pos += 1;
        Ok(v)
    }
    fn u16(&mut self) -> Result<u16, XpressError> {
        let s = self.b.get(self.pos..self.pos + 2).ok_or(XpressError::Truncated { at: self.pos })?;
        self.pos += 2;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, XpressError> {
        let s = self.b.get(self.pos..self.pos + 4).ok_or(XpressError::Truncated { at: self.pos })?;
        self.pos += 4;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn done(&self) -> bool {
        self.pos >= self.b.len()
    }
}

/// Decompresses `input`, appending to `out` (which is cleared first), and
/// stops when the input is used up or `limit` bytes have been written.
/// The caller checks that `out.len()` is what it expected: input that ends
/// early yields the prefix decoded so far (useful for a file cut short).
pub fn decompress_into(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), XpressError> {
    out.clear();
    out.reserve(limit.min(input.len().saturating_mul(8)));
    let mut inp = Input { b: input, pos: 0 };
    let mut flags: u32 = 0;
    let mut flag_count: u32 = 0;
    // Position of the byte whose high nibble is still unused.
    let mut half_byte: Option<usize> = None;

    while !inp.done() && out.len() < limit {
        if flag_count == 0 {
            flags = inp.u32()?;
            flag_count = 32;
        }
        flag_count -= 1;
        if flags & (1 << flag_count) == 0 {
            out.push(inp.u8()?);
            continue;
        }
        if inp.done() {
            // The compressor marks the end with a final 1 bit.
            break;
        }
        let at = inp.pos;
        let m = inp.u16()? as usize;
        let distance = (m >> 3) + 1;
        let mut length = m & 7;
        if length == 7 {
            let nibble = match half_byte.take() {
                Some(p) => (input[p] >> 4) as usize,
                None => {
                    let p = inp.pos;
                    let v = inp.u8()?;
                    half_byte = Some(p);
                    (v & 0x0F) as usize
                }
            };
            length = nibble;
            if length == 15 {
                length = inp.u8()? as usize;
                if length == 255 {
                    length = inp.u16()? as usize;
                    if length == 0 {
                        length = inp.u32()? as usize;
                    }
                    if length < 15 + 7 {
                        return Err(XpressError::BadLength { at, length });
                    }
                    length -= 15 + 7;
                }
                length += 15;
            }
            length += 7;
        }
        length += 3;
        let written = out.len();
        if distance > written {
            return Err(XpressError::BadDistance { at, distance, written });
        }
        if length > limit - written {
            return Err(XpressError::Overflow { at, limit });
        }
        // Overlapping copy: the source region repeats with period
        // `distance`, so copy in chunks that are multiples of it.
        let start = written - distance;
        let mut left = length;
        while left > 0 {
            let n = left.min(out.len() - start);
            out.extend_from_within(start..start + n);
            left -= n;
        }
    }
    Ok(())
}

/// Convenience: decompress to a new vector of at most `limit` bytes.
pub fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, XpressError> {
    let mut out = Vec::new();
    decompress_into(input, &mut out, limit)?;
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small greedy MS-XCA plain LZ77 compressor, for tests only: finds
    /// matches through a 3-byte hash table, emits all length encodings
    /// (in-line, shared half byte, byte, u16, u32) and the final 1 bit.
    pub(crate) fn compress(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; 4];
        let mut flag_pos = 0usize;
        let mut flags: u32 = 0;
        let mut nflags = 0u32;
        let mut half: Option<usize> = None;
        let mut table = vec![usize::MAX; 1 << 12];
        let hash = |b: &[u8]| ((b[0] as usize) << 4 ^ (b[1] as usize) << 2 ^ b[2] as usize) & 0xFFF;
        let push_flag = |out: &mut Vec<u8>, bit: u32, flags: &mut u32, nflags: &mut u32, flag_pos: &mut usize| {
            *flags = (*flags << 1) | bit;
            *nflags += 1;
            if *nflags == 32 {
                out[*flag_pos..*flag_pos + 4].copy_from_slice(&flags.to_le_bytes());
                *flag_pos = out.len();
                out.extend_from_slice(&[0; 4]);
                *flags = 0;
                *nflags = 0;
            }
        };
        let mut i = 0;
        while i < data.len() {
            let mut best = (0usize, 0usize);
            if i + 3 <= data.len() {
                let h = hash(&data[i..]);
                let cand = table[h];
                table[h] = i;
                if cand != usize::MAX && i - cand <= 8192 {
                    let mut l = 0;
                    while i + l < data.len() && data[cand + l] == data[i + l] {
                        l += 1;
                    }
                    if l >= 3 {
                        best = (i - cand, l);
                    }
                }
            }
            if best.1 == 0 {
                out.push(data[i]);
                push_flag(&mut out, 0, &mut flags, &mut nflags, &mut flag_pos);
                i += 1;
                continue;
            }
            let (dist, len) = best;
            let l = len - 3;
            let d = (dist - 1) << 3;
            if l < 7 {
                out.extend_from_slice(&((d | l) as u16).to_le_bytes());
            } else {
                out.extend_from_slice(&((d | 7) as u16).to_le_bytes());
                let l2 = l - 7;
                let nib = l2.min(15) as u8;
                match half.take() {
                    Some(p) => out[p] |= nib << 4,
                    None => {
                        half = Some(out.len());
                        out.push(nib);
                    }
                }
                if l2 >= 15 {
                    let l3 = l2 - 15;
                    if l3 < 255 {
                        out.push(l3 as u8);
                    } else {
                        out.push(255);
                        let full = l + 3 - 3; // l3 + 15 + 7 as the spec counts it
                        if full <= 0xFFFF {
                            out.extend_from_slice(&(full as u16).to_le_bytes());
                        } else {
                            out.extend_from_slice(&0u16.to_le_bytes());
                            out.extend_from_slice(&(full as u32).to_le_bytes());
                        }
                    }
                }
            }
            push_flag(&mut out, 1, &mut flags, &mut nflags, &mut flag_pos);
            i += len;
        }
        // Final 1 bit marks the end; fill the rest of the word with ones.
        flags = ((flags as u64) << (32 - nflags)) as u32 | ((1u64 << (32 - nflags)) - 1) as u32;
        out[flag_pos..flag_pos + 4].copy_from_slice(&flags.to_le_bytes());
        out
    }

    #[test]
    fn literals_only() {
        // Flag word 0 → 32 literals; input ends after 3.
        let mut v = vec![0, 0, 0, 0];
        v.extend_from_slice(b"abc");
        assert_eq!(decompress(&v, 100).unwrap(), b"abc");
    }

    #[test]
    fn hand_made_vector_with_overlapping_match() {
        // "abc" then a match distance 3, length 9 (m = (2<<3)|6), then end.
        // Flags (MSB first): 0 0 0 1, then a final 1 bit.
        let flags: u32 = 0b00011 << 27;
        let mut v = flags.to_le_bytes().to_vec();
        v.extend_from_slice(b"abc");
        v.extend_from_slice(&((2u16 << 3) | 6).to_le_bytes());
        assert_eq!(decompress(&v, 100).unwrap(), b"abcabcabcabc");
    }

    #[test]
    fn shared_half_byte_and_long_lengths() {
        // Two matches of length 10 + 7 + 3 share one length byte: low
        // nibble for the first, high nibble for the second.
        let flags: u32 = 0b0111 << 28;
        let mut v = flags.to_le_bytes().to_vec();
        v.push(b'x');
        v.extend_from_slice(&7u16.to_le_bytes()); // distance 1, length 7
        v.push(0x53); // first: 3, second: 5
        v.extend_from_slice(&7u16.to_le_bytes());
        let out = decompress(&v, 1000).unwrap();
        assert_eq!(out.len(), 1 + (3 + 7 + 3) + (5 + 7 + 3));
        assert!(out.iter().all(|&b| b == b'x'));
    }

    #[test]
    fn round_trips_through_the_test_compressor() {
        let mut seed = 0x1234_5678u32;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"a".to_vec(),
            vec![7u8; 100_000], // u32 length
            vec![9u8; 300],     // byte and u16 lengths
            b"the quick brown fox jumps over the lazy dog; the quick brown fox".repeat(50),
        ];
        for n in [10usize, 33, 64, 1000, 5000] {
            cases.push((0..n).map(|_| (rnd() % 4) as u8).collect());
            cases.push((0..n).map(|_| rnd() as u8).collect());
        }
        for data in cases {
            let c = compress(&data);
            let d = decompress(&c, data.len()).unwrap();
            assert_eq!(d, data, "len {}", data.len());
        }
    }

    #[test]
    fn bad_inputs_fail_cleanly() {
        // Match before any output.
        let mut v = (1u32 << 31).to_le_bytes().to_vec();
        v.extend_from_slice(&0u16.to_le_bytes());
        v.push(0);
        assert!(matches!(decompress(&v, 10), Err(XpressError::BadDistance { .. })));
        // Flag word cut short.
        assert!(matches!(decompress(&[1, 2], 10), Err(XpressError::Truncated { .. })));
        // Output bound: a long match is refused, not allocated.
        let c = compress(&vec![1u8; 1 << 20]);
        assert!(matches!(decompress(&c, 1000), Err(XpressError::Overflow { .. })));
        // Limit reached exactly: trailing input is ignored.
        let c = compress(b"hello hello hello");
        assert_eq!(decompress(&c, 5).unwrap(), b"hello");
    }

    #[test]
    fn every_truncation_and_byte_flip_is_handled() {
        let data: Vec<u8> = b"ETW buffer ETW buffer 0123456789 ETW".repeat(40);
        let c = compress(&data);
        for cut in 0..c.len() {
            let r = decompress(&c[..cut], data.len());
            if let Ok(d) = r {
                assert!(data.starts_with(&d));
            }
        }
        for i in 0..c.len() {
            let mut m = c.clone();
            m[i] ^= 0x5A;
            let _ = decompress(&m, data.len());
        }
    }
}
