//! MS-XCA "plain LZ77" (LZXpress) decompression, as used by compressed ETL
//! buffers (buffer flag 0x40), and the matching compressor the ETL writer
//! (`generate::etl`) uses.
//!
//! The stream is groups of 32 items announced by a u32 flag word (bits
//! consumed from the top): a 0 bit is one literal byte, a 1 bit a match
//! `u16 m` with distance `(m >> 3) + 1` and length `m & 7`, extended by a
//! shared half byte, a byte, a u16 and finally a u32, plus 3.
//!
//! The output is bounded by the caller's expected length; nothing in the
//! input can make this allocate more (plus 32 bytes of scratch), loop
//! without consuming input, or index out of bounds.
//!
//! The decoder is written for speed in safe Rust, and checked against the
//! first, plain one (kept in the tests) byte for byte and error for error:
//! literal runs are taken a flag word's leading zeros at a time and copied
//! as one 32-byte block, most matches are one 32-byte block too, and the
//! output is written through a slice with scratch room past the end
//! instead of pushed. ETL buffers are dense in items (a literal run and a
//! match every 3 or 4 input bytes), so the per-item work is what counts.

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

/// Bytes of scratch kept past the decoded data, so that literal runs and
/// short matches are copied as one fixed-size block (a couple of vector
/// moves) instead of a length-dependent `memcpy` call; they are cut off
/// before returning, so the caller never sees more than `limit` bytes.
const SLACK: usize = 32;

/// Size of the output at first, before any item asks for more: typical
/// ETL buffers compress 3-8x, and a short or garbage input must not make
/// us zero the caller's whole limit up front.
fn initial_len(input_len: usize, limit: usize) -> usize {
    limit.min(input_len.saturating_mul(8).max(4096))
}

/// Lengthens `out` to at least `need` bytes (`need` ≤ `limit + SLACK`,
/// which the callers guarantee), doubling so that growth costs O(output),
/// and hands back the whole of it to write into.
#[cold]
#[inline(never)]
fn grow(out: &mut Vec<u8>, need: usize, limit: usize) -> &mut [u8] {
    let len = out.len().saturating_mul(2).clamp(need, (limit + SLACK).max(need));
    out.resize(len, 0);
    out.as_mut_slice()
}

/// Reads the rest of a long match length (the u16 said 7): the shared half
/// byte, then a byte, a u16 and a u32 as each earlier form saturates.
/// Returns the length minus 3; `at` is the match's offset, for errors.
#[inline]
fn long_length(input: &[u8], ip: &mut usize, half: &mut Option<u8>, at: usize) -> Result<usize, XpressError> {
    let byte = |ip: &mut usize| -> Result<usize, XpressError> {
        let v = *input.get(*ip).ok_or(XpressError::Truncated { at: *ip })?;
        *ip += 1;
        Ok(v as usize)
    };
    let nibble = match half.take() {
        Some(high) => high as usize,
        None => {
            let v = byte(ip)?;
            *half = Some((v >> 4) as u8);
            v & 0x0F
        }
    };
    let mut length = nibble;
    if length == 15 {
        length = byte(ip)?;
        if length == 255 {
            let w = input.get(*ip..*ip + 2).ok_or(XpressError::Truncated { at: *ip })?;
            *ip += 2;
            length = u16::from_le_bytes([w[0], w[1]]) as usize;
            if length == 0 {
                let w = input.get(*ip..*ip + 4).ok_or(XpressError::Truncated { at: *ip })?;
                *ip += 4;
                length = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize;
            }
            // The u16 and u32 forms hold the whole length minus 3.
            if length < 15 + 7 {
                return Err(XpressError::BadLength { at, length });
            }
            length -= 15 + 7;
        }
        length += 15;
    }
    Ok(length + 7)
}

/// Copies the match of `len` bytes starting `d` back (1 ≤ `d` ≤ `op`) to
/// `op`. `out` holds at least `op + len + SLACK` bytes: the block copies
/// may write up to 31 bytes of scratch past the match, which later items
/// overwrite before anything reads them.
///
/// Most matches are short and reach back at least their length: one
/// 32-byte block moved as a whole (read, then written, so the bytes it
/// reads past `op` are scratch that lands past the match). Longer or
/// overlapping ones go by blocks as wide as the period allows (a block
/// may not read what it writes), down to single bytes for periods of 2
/// and 3; a period of 1 is a fill.
#[inline(always)]
fn copy_match(out: &mut [u8], op: usize, d: usize, len: usize) {
    let src = op - d;
    if len <= d && len <= 32 {
        out.copy_within(src..src + 32, op);
    } else if d == 1 {
        let b = out[src];
        out[op..op + len].fill(b);
    } else if len > 64 && d < len {
        // A short period repeated far (runs, padding, repeated headers):
        // copy what is there, doubling each time. Block copies would
        // stall here: each block would read bytes the previous one has
        // just stored.
        let end = op + len;
        let mut o = op;
        while o < end {
            let n = (end - o).min(o - src);
            out.copy_within(src..src + n, o);
            o += n;
        }
    } else if d >= 32 {
        copy_blocks::<32>(out, src, op, op + len);
    } else if d >= 16 {
        copy_blocks::<16>(out, src, op, op + len);
    } else if d >= 8 {
        copy_blocks::<8>(out, src, op, op + len);
    } else if d >= 4 {
        copy_blocks::<4>(out, src, op, op + len);
    } else {
        for i in 0..len {
            out[op + i] = out[src + i];
        }
    }
}

/// Copies `B`-byte blocks from `s` to `o` (`o - s` ≥ `B`) until `end` is
/// reached or passed by less than `B`.
#[inline(always)]
fn copy_blocks<const B: usize>(out: &mut [u8], mut s: usize, mut o: usize, end: usize) {
    while o < end {
        out.copy_within(s..s + B, o);
        s += B;
        o += B;
    }
}

/// The flags of a word once all 32 are used: the sentinel alone.
const WORD_DONE: u64 = 1 << 63;

/// Decompresses `input` into `out` (its old contents are replaced), and
/// stops when the input is used up or `limit` bytes have been written.
/// The caller checks that `out.len()` is what it expected: input that ends
/// early yields the prefix decoded so far (useful for a file cut short).
/// On error `out` holds every item decoded before the bad one.
pub fn decompress_into(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), XpressError> {
    // Bytes already in `out` (a reused vector) serve as scratch as they
    // are: every byte is written before a match can read it, so only new
    // length is zeroed.
    let first = initial_len(input.len(), limit) + SLACK;
    if out.len() < first {
        out.resize(first, 0);
    }
    let mut op = 0;
    let r = decode(input, out, limit, &mut op);
    out.truncate(op);
    r
}

/// The decoding loop of [`decompress_into`]: `out` is scratch at least
/// `SLACK` long, `*op` the bytes decoded so far.
///
/// Each flag word is consumed a literal run at a time (its leading zero
/// bits), so literals are copied as a block rather than byte by byte.
/// Stopping rules, which callers rely on for cut-short buffers: before
/// every item the input must be non-empty and the output short of
/// `limit`, else decoding ends without error; the one exception is the
/// item right after a flag word, where a literal with no byte left is
/// [`XpressError::Truncated`] and a match ends the stream.
fn decode(input: &[u8], out: &mut Vec<u8>, limit: usize, op_out: &mut usize) -> Result<(), XpressError> {
    let n = input.len();
    // Written through a slice, re-taken only when the vector grows, so the
    // loop keeps its base and length in registers.
    let mut buf: &mut [u8] = out.as_mut_slice();
    let mut ip = 0usize;
    let mut op = 0usize;
    let mut half: Option<u8> = None;
    let r = 'words: loop {
        if ip >= n || op >= limit {
            break Ok(());
        }
        let Some(w) = input.get(ip..ip + 4) else {
            break Err(XpressError::Truncated { at: ip });
        };
        // Next flag in the top bit, then a sentinel 1 after the 32 real
        // ones: a literal run is the count of leading zeros, never more
        // than the flags left, with no test for an empty run; and the word
        // is used up when the sentinel alone is left, at the top.
        let word = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        let mut flags = (word as u64) << 32 | 1 << 31;
        ip += 4;
        if ip >= n {
            break if word >> 31 == 0 { Err(XpressError::Truncated { at: ip }) } else { Ok(()) };
        }
        if op + SLACK > buf.len() {
            buf = grow(out, op + SLACK, limit);
        }
        // Here and at every turn: ip < n, op < limit, flags left, and room
        // for a literal run's block copy (a run starts a word or follows a
        // match, whose own test below left that room).
        loop {
            let run = flags.leading_zeros();
            flags <<= run;
            let want = run as usize;
            // A branch, not a `min`: the run's length then comes from the
            // flags alone, so the input position does not wait on the
            // output position (the loop's critical path).
            if want > n - ip || want > limit - op {
                // Cut by the end of the input or the limit: what is there
                // is the output.
                let k = want.min(n - ip).min(limit - op);
                buf[op..op + k].copy_from_slice(&input[ip..ip + k]);
                op += k;
                break 'words Ok(());
            }
            if let (Some(src), Some(dst)) = (input.get(ip..ip + SLACK), buf.get_mut(op..op + SLACK)) {
                dst.copy_from_slice(src);
            } else {
                buf[op..op + want].copy_from_slice(&input[ip..ip + want]);
            }
            ip += want;
            op += want;
            if flags == WORD_DONE {
                continue 'words;
            }
            if ip >= n || op >= limit {
                break 'words Ok(());
            }
            // A match: the top flag bit is 1.
            flags <<= 1;
            let at = ip;
            let Some(w) = input.get(ip..ip + 2) else {
                break 'words Err(XpressError::Truncated { at: ip });
            };
            ip += 2;
            let m = u16::from_le_bytes([w[0], w[1]]) as usize;
            let d = (m >> 3) + 1;
            let mut len = m & 7;
            if len == 7 {
                len = match long_length(input, &mut ip, &mut half, at) {
                    Ok(l) => l,
                    Err(e) => break 'words Err(e),
                };
            }
            len = len.saturating_add(3);
            if d > op {
                break 'words Err(XpressError::BadDistance { at, distance: d, written: op });
            }
            if len > limit - op {
                break 'words Err(XpressError::Overflow { at, limit });
            }
            if op + len + SLACK > buf.len() {
                buf = grow(out, op + len + SLACK, limit);
            }
            copy_match(buf, op, d, len);
            op += len;
            if flags == WORD_DONE {
                continue 'words;
            }
            if ip >= n || op >= limit {
                break 'words Ok(());
            }
        }
    };
    *op_out = op;
    r
}

/// Convenience: decompress to a new vector of at most `limit` bytes.
pub fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, XpressError> {
    let mut out = Vec::new();
    decompress_into(input, &mut out, limit)?;
    Ok(out)
}

/// Farthest a match can reach back: the distance takes the top 13 bits of
/// the match's u16, stored minus one.
const MAX_DISTANCE: usize = 1 << 13;
/// Shortest match the format can express.
const MIN_MATCH: usize = 3;
/// Hash table of 3-byte prefixes: 2^15 chain heads.
const HASH_BITS: u32 = 15;
/// Candidates tried per position before settling for the best so far.
const MAX_CHAIN: usize = 64;
/// A match this long is taken at once, without looking further or trying
/// the next position.
const NICE_MATCH: usize = 128;

/// Hash chains over the last [`MAX_DISTANCE`] positions: `head[h]` is the
/// newest position whose 3 bytes hash to `h`, `prev[p % MAX_DISTANCE]` the
/// one before it. A ring of links is enough because a candidate is only
/// followed while it is within reach, and a slot is reused only by the
/// position exactly `MAX_DISTANCE` later.
struct Chains {
    head: Vec<u32>,
    prev: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Chains {
    fn new() -> Self {
        Chains { head: vec![NONE; 1 << HASH_BITS], prev: vec![NONE; MAX_DISTANCE] }
    }

    fn hash(data: &[u8], i: usize) -> usize {
        let v = u32::from_le_bytes([data[i], data[i + 1], data[i + 2], 0]);
        (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
    }

    /// Records position `i` (if 3 bytes start there).
    fn insert(&mut self, data: &[u8], i: usize) {
        if i + MIN_MATCH > data.len() || i >= NONE as usize {
            return;
        }
        let h = Self::hash(data, i);
        self.prev[i % MAX_DISTANCE] = self.head[h];
        self.head[h] = i as u32;
    }

    /// The longest earlier match for the bytes at `i`: (distance, length),
    /// length 0 when there is none of at least [`MIN_MATCH`] bytes. Call
    /// before inserting `i`.
    fn longest(&self, data: &[u8], i: usize) -> (usize, usize) {
        if i + MIN_MATCH > data.len() {
            return (0, 0);
        }
        let want = &data[i..];
        let mut best = (0usize, 0usize);
        let mut cand = self.head[Self::hash(data, i)];
        let mut tries = 0;
        while cand != NONE && tries < MAX_CHAIN {
            let c = cand as usize;
            if c >= i || i - c > MAX_DISTANCE {
                break;
            }
            tries += 1;
            // Cheap reject: a longer match must agree at the current best end.
            if want.get(best.1) == data.get(c + best.1) {
                let len = data[c..].iter().zip(want).take_while(|(a, b)| a == b).count();
                if len > best.1 {
                    best = (i - c, len);
                    if len >= NICE_MATCH || len == want.len() {
                        break;
                    }
                }
            }
            cand = self.prev[c % MAX_DISTANCE];
        }
        if best.1 < MIN_MATCH {
            (0, 0)
        } else {
            best
        }
    }
}

/// The compressed stream being built: flag words reserved ahead of the 32
/// items they announce, and the shared half byte of long lengths.
struct Encoder {
    out: Vec<u8>,
    flag_pos: usize,
    flags: u32,
    nflags: u32,
    half_byte: Option<usize>,
}

impl Encoder {
    fn new(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(&[0; 4]);
        Encoder { out, flag_pos: 0, flags: 0, nflags: 0, half_byte: None }
    }

    /// Adds the flag bit of the item just written; a full word is stored
    /// and the next one reserved after the item.
    fn flag(&mut self, bit: u32) {
        self.flags = (self.flags << 1) | bit;
        self.nflags += 1;
        if self.nflags == 32 {
            self.out[self.flag_pos..self.flag_pos + 4].copy_from_slice(&self.flags.to_le_bytes());
            self.flag_pos = self.out.len();
            self.out.extend_from_slice(&[0; 4]);
            self.flags = 0;
            self.nflags = 0;
        }
    }

    fn literal(&mut self, b: u8) {
        self.out.push(b);
        self.flag(0);
    }

    /// A match of `len` ≥ 3 bytes starting `distance` (1..=8192) back.
    fn matched(&mut self, distance: usize, len: usize) {
        let l = len - MIN_MATCH;
        let d = ((distance - 1) << 3) as u16;
        if l < 7 {
            self.out.extend_from_slice(&(d | l as u16).to_le_bytes());
        } else {
            self.out.extend_from_slice(&(d | 7).to_le_bytes());
            let rest = l - 7;
            let nibble = rest.min(15) as u8;
            match self.half_byte.take() {
                Some(p) => self.out[p] |= nibble << 4,
                None => {
                    self.half_byte = Some(self.out.len());
                    self.out.push(nibble);
                }
            }
            if rest >= 15 {
                let rest = rest - 15;
                if rest < 255 {
                    self.out.push(rest as u8);
                } else {
                    self.out.push(255);
                    // The u16/u32 forms hold the whole length minus 3.
                    match u16::try_from(l) {
                        Ok(w) => self.out.extend_from_slice(&w.to_le_bytes()),
                        Err(_) => {
                            self.out.extend_from_slice(&0u16.to_le_bytes());
                            self.out.extend_from_slice(&(l as u32).to_le_bytes());
                        }
                    }
                }
            }
        }
        self.flag(1);
    }

    /// Ends the stream: the unused flag bits are ones, so a decoder that
    /// reads on finds a match with no input left and stops.
    fn finish(mut self) -> Vec<u8> {
        let free = 32 - self.nflags;
        let flags = ((self.flags as u64) << free) as u32 | ((1u64 << free) - 1) as u32;
        self.out[self.flag_pos..self.flag_pos + 4].copy_from_slice(&flags.to_le_bytes());
        self.out
    }
}

/// Compresses `data` as MS-XCA plain LZ77 (what [`decompress_into`]
/// reads): hash chains over the 8 KiB window, the longest match among up
/// to 64 candidates, and one step of lazy matching (a literal is emitted
/// when the next position starts a longer match). Inputs up to 4 GiB; the
/// output is at most `len + len / 8 + 4` bytes (a flag bit per literal).
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut enc = Encoder::new(data.len() / 2 + 16);
    let mut chains = Chains::new();
    let mut i = 0;
    while i < data.len() {
        let (dist, len) = chains.longest(data, i);
        chains.insert(data, i);
        if len == 0 {
            enc.literal(data[i]);
            i += 1;
            continue;
        }
        if len < NICE_MATCH && chains.longest(data, i + 1).1 > len {
            enc.literal(data[i]);
            i += 1;
            continue;
        }
        enc.matched(dist, len);
        for j in i + 1..i + len {
            chains.insert(data, j);
        }
        i += len;
    }
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The first decoder, item by item with a push per byte: slow but plain,
    /// kept as the oracle the fast one must match byte for byte, error for
    /// error.
    fn reference(input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), XpressError> {
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

    /// Decodes with both decoders and insists on the same result and the
    /// same bytes; the fast one starts from a dirty vector, since callers
    /// reuse theirs.
    fn same_as_reference(input: &[u8], limit: usize) -> Result<Vec<u8>, XpressError> {
        let mut want = Vec::new();
        let want_r = reference(input, &mut want, limit);
        let mut got = vec![0xA5; 77];
        let got_r = decompress_into(input, &mut got, limit);
        assert_eq!(got_r, want_r, "input {} bytes, limit {limit}", input.len());
        assert_eq!(got, want, "input {} bytes, limit {limit}", input.len());
        assert!(got.len() <= limit);
        // A vector longer than the output (left by a bigger buffer).
        let mut big = vec![0x5A; limit.min(1 << 20) + 100];
        assert_eq!(decompress_into(input, &mut big, limit), want_r);
        assert_eq!(big, want);
        got_r.map(|()| got)
    }

    // The generator's deterministic RNG, with the one helper these tests use.
    use crate::generate::Rng;
    trait Below {
        fn below(&mut self, n: usize) -> usize;
    }
    impl Below for Rng {
        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n.max(1) as u64) as usize
        }
    }

    /// Data shaped to reach every copy path: runs, short periods repeated
    /// far, long literal stretches, far and near repeats.
    fn shaped(rng: &mut Rng, len: usize) -> Vec<u8> {
        let mut v: Vec<u8> = Vec::with_capacity(len);
        while v.len() < len {
            let n = 1 + rng.below(300);
            match rng.below(6) {
                0 => v.extend((0..n).map(|_| rng.next_u64() as u8)),
                1 => v.extend(std::iter::repeat_n(rng.next_u64() as u8, n)),
                2 => {
                    let period: Vec<u8> = (0..1 + rng.below(20)).map(|_| rng.next_u64() as u8).collect();
                    v.extend(period.iter().cycle().take(n));
                }
                3 if !v.is_empty() => {
                    let from = rng.below(v.len());
                    let n = n.min(v.len() - from);
                    v.extend_from_within(from..from + n);
                }
                _ => v.extend((0..n).map(|_| b"ETW header "[rng.below(11)])),
            }
        }
        v.truncate(len);
        v
    }

    #[test]
    fn many_random_round_trips_match_the_reference() {
        let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
        for case in 0..400 {
            let len = match case % 4 {
                0 => rng.below(64),
                1 => rng.below(4096),
                2 => rng.below(70_000),
                _ => 8192 + rng.below(300),
            };
            let data = shaped(&mut rng, len);
            let c = compress(&data);
            assert_eq!(same_as_reference(&c, data.len()).unwrap(), data, "case {case}");
            // Limits below and above the true length stop at the same place.
            for limit in [0, 1, len / 2, len.saturating_sub(1), len + 1, len + 100] {
                let _ = same_as_reference(&c, limit);
            }
        }
    }

    #[test]
    fn damaged_streams_match_the_reference() {
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
        for case in 0..3000 {
            let len = 1 + rng.below(3000);
            let data = shaped(&mut rng, len);
            let mut c = compress(&data);
            match case % 4 {
                0 => c.truncate(rng.below(c.len() + 1)),
                1 => {
                    for _ in 0..1 + rng.below(4) {
                        let i = rng.below(c.len());
                        c[i] ^= 1 << rng.below(8);
                    }
                }
                2 => {
                    let i = rng.below(c.len());
                    let junk: Vec<u8> = (0..1 + rng.below(12)).map(|_| rng.next_u64() as u8).collect();
                    c.splice(i..i, junk);
                }
                _ => c = (0..rng.below(200)).map(|_| rng.next_u64() as u8).collect(),
            }
            let limit = match rng.below(3) {
                0 => data.len(),
                1 => rng.below(2 * data.len() + 1),
                _ => 1 << 16,
            };
            let _ = same_as_reference(&c, limit);
        }
    }

    /// Streams built item by item: every flag pattern, the long-length
    /// forms including the lying ones, distances up to the format's 8192.
    #[test]
    fn synthetic_item_streams_match_the_reference() {
        let mut rng = Rng::new(0xD1B5_4A32_D192_ED03);
        for _ in 0..3000 {
            let mut v = Vec::new();
            for _ in 0..1 + rng.below(4) {
                v.extend_from_slice(&(rng.next_u64() as u32).to_le_bytes());
                for _ in 0..rng.below(40) {
                    match rng.below(8) {
                        0..=2 => v.push(rng.next_u64() as u8),
                        3 | 4 => {
                            let reach = if rng.below(2) == 0 { 20 } else { 8192 };
                            let d = rng.below(reach);
                            let l = rng.below(8);
                            v.extend_from_slice(&(((d << 3) | l) as u16).to_le_bytes());
                        }
                        5 => v.push(if rng.below(2) == 0 { 0xFF } else { rng.next_u64() as u8 }),
                        6 => v.extend_from_slice(&(rng.below(300) as u16).to_le_bytes()),
                        _ => v.extend_from_slice(&(rng.below(100_000) as u32).to_le_bytes()),
                    }
                }
            }
            let limits = [rng.below(100), rng.below(5000), 1 << 16, 1 << 20];
            let limit = limits[rng.below(4)];
            let _ = same_as_reference(&v, limit);
        }
    }

    /// Every compressed buffer of the shared corpus (when this checkout has
    /// it beside it) decodes exactly as the reference decodes it.
    #[test]
    fn corpus_buffers_match_the_reference() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/etl");
        let mut dirs = vec![root];
        let mut buffers = 0;
        while let Some(d) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else { continue };
            for p in entries.flatten().map(|e| e.path()) {
                if p.is_dir() {
                    dirs.push(p);
                    continue;
                }
                if p.extension().is_none_or(|x| x != "etl") {
                    continue;
                }
                let bytes = std::fs::read(&p).unwrap();
                let mut off = 0usize;
                while let Some(head) = bytes.get(off..off + 0x48) {
                    let size = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
                    let saved = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
                    let flags = u16::from_le_bytes([head[0x34], head[0x35]]);
                    if size < 0x48 {
                        break;
                    }
                    if flags & 0x40 != 0 && saved >= 0x48 {
                        let input = &bytes[off + 0x48..(off + size).min(bytes.len())];
                        let out = same_as_reference(input, saved - 0x48).unwrap();
                        assert_eq!(out.len(), saved - 0x48, "{} @{off:#x}", p.display());
                        buffers += 1;
                    }
                    off += size;
                }
            }
        }
        eprintln!("{buffers} compressed corpus buffers compared");
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
    fn round_trips_through_the_compressor() {
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
    fn every_length_encoding_at_its_boundaries() {
        // One literal, then one match of distance 1 covering the rest.
        let lens = (3..=40).chain(270..=290).chain(65_530..=65_545).chain([1 << 20]);
        for len in lens {
            let data = vec![b'a'; len + 1];
            let c = compress(&data);
            assert_eq!(decompress(&c, data.len()).unwrap(), data, "match length {len}");
            assert!(c.len() <= 16, "length {len} took {} bytes", c.len());
        }
    }

    #[test]
    fn compresses_event_like_data_and_bounds_random_data() {
        // Records with repeated headers and varying fields, like a buffer.
        let mut data = Vec::new();
        for i in 0u32..2000 {
            data.extend_from_slice(&[0x58, 0x00, 0x13, 0xC0, 0x40, 0x00, 0x00, 0x00]);
            data.extend_from_slice(&(i * 37).to_le_bytes());
            data.extend_from_slice(b"Microsoft Hyper-V Network Adapter #5");
            data.extend_from_slice(&(i as u64 * 1234567).to_le_bytes());
        }
        let c = compress(&data);
        assert!(c.len() * 3 < data.len(), "{} -> {}", data.len(), c.len());
        assert_eq!(decompress(&c, data.len()).unwrap(), data);

        let mut seed = 0x9E37_79B9u32;
        let random: Vec<u8> = (0..70_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        let c = compress(&random);
        assert!(c.len() <= random.len() + random.len() / 8 + 4);
        assert_eq!(decompress(&c, random.len()).unwrap(), random);
        // Matches reach back exactly 8192 bytes and no further.
        let mut far = random[..8192].to_vec();
        far.extend_from_slice(&random[..100]);
        let c = compress(&far);
        assert_eq!(decompress(&c, far.len()).unwrap(), far);
        assert!(c.len() < 8192 + 8192 / 8 + 40, "the repeat 8192 back was not matched: {}", c.len());
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
