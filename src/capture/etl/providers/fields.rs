//! Reading a provider's packed payload: fields back to back, no alignment,
//! little-endian, every read checked against what is left.

/// A cursor over one event's user data. Every read returns `None` when the
/// data ends first, so a template decoder is a chain of `?`.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
}

/// UTF-16LE bytes as text (an odd last byte is ignored, bad units become
/// U+FFFD). Names in these events are almost always ASCII: those are built
/// without the detour through UTF-16 code units.
pub fn utf16_text(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len() & !1];
    // One pass: checking first and copying after read the bytes twice.
    let mut ascii = Vec::with_capacity(bytes.len() / 2);
    if bytes.chunks_exact(2).all(|p| {
        ascii.push(p[0]);
        p[1] == 0 && p[0] < 0x80
    }) {
        return String::from_utf8(ascii).unwrap_or_default();
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect();
    String::from_utf16_lossy(&units)
}

/// UTF-16LE bytes as text without trailing NULs (counted strings that
/// include their terminator).
pub fn utf16_trimmed(bytes: &[u8]) -> String {
    let mut text = utf16_text(bytes);
    text.truncate(text.trim_end_matches('\0').len());
    text
}

impl<'a> Fields<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Fields { data, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let b = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }

    pub fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    /// A pointer of the record's bitness (4 or 8 bytes).
    pub fn pointer(&mut self, size: usize) -> Option<u64> {
        match size {
            4 => self.u32().map(u64::from),
            _ => self.u64(),
        }
    }

    /// A NUL-terminated UTF-16LE string (manifest `win:UnicodeString`). A
    /// string that runs to the end of the data without its NUL is taken as
    /// it is, since writers cut payloads short.
    pub fn wstr(&mut self) -> Option<String> {
        self.wstr_units().map(utf16_text)
    }

    /// [`wstr`](Self::wstr) left as UTF-16LE bytes (terminator excluded),
    /// for a reader that only steps over the string.
    pub fn wstr_units(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest();
        let end = utf16_nul(rest);
        let (text, used) = match end {
            Some(units) => (&rest[..units * 2], units * 2 + 2),
            None if rest.len() == 1 => return None,
            None => (&rest[..rest.len() & !1], rest.len() & !1),
        };
        self.pos += used;
        Some(text)
    }

    /// `len` bytes of UTF-16LE, without a terminator.
    pub fn utf16(&mut self, len_bytes: usize) -> Option<String> {
        self.bytes(len_bytes).map(utf16_trimmed)
    }
}

/// The index (in UTF-16 units) of the first NUL unit of `bytes`. Eight
/// bytes are tested at a time: names in switch events run to a hundred
/// bytes or more, and every packet's event has three of them.
fn utf16_nul(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0001_0001_0001_0001;
    const HIGHS: u64 = 0x8000_8000_8000_8000;
    let mut words = bytes.chunks_exact(8);
    let mut skipped = 0;
    for word in words.by_ref() {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        // Nonzero exactly when one of the four units is zero.
        if w.wrapping_sub(ONES) & !w & HIGHS != 0 {
            break;
        }
        skipped += 8;
    }
    bytes[skipped..].chunks_exact(2).position(|p| p == [0, 0]).map(|units| skipped / 2 + units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_stops_at_the_end() {
        let mut f = Fields::new(&[1, 0, 2, 0, 0, 0, b'a', 0, 0, 0, 9]);
        assert_eq!(f.u16(), Some(1));
        assert_eq!(f.u32(), Some(2));
        assert_eq!(f.wstr().as_deref(), Some("a"));
        assert_eq!(f.u16(), None);
        assert_eq!(f.u8(), Some(9));
        assert!(f.is_empty());
    }

    #[test]
    fn the_word_scan_finds_the_first_nul_unit_as_a_unit_scan_does() {
        let mut rng = crate::test_rng::XorShift64::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let seed = rng.next();
            let len = (seed % 40) as usize;
            // Mostly small values, so zero bytes and zero units are common.
            let bytes: Vec<u8> = (0..len).map(|i| ((seed >> (i % 60)) & 3) as u8 * (i as u8 & 0x41)).collect();
            let naive = bytes.chunks_exact(2).position(|p| p == [0, 0]);
            assert_eq!(utf16_nul(&bytes), naive, "{bytes:?}");
        }
        assert_eq!(utf16_nul(&[0x00, 0x01, 0x00, 0x00]), Some(1));
        assert_eq!(utf16_nul(&[0x01, 0x00, 0x00, 0x01, 1, 1, 1, 1, 0, 0]), Some(4));
    }

    #[test]
    fn unterminated_string_is_kept() {
        let mut f = Fields::new(&[b'h', 0, b'i', 0]);
        assert_eq!(f.wstr().as_deref(), Some("hi"));
    }
}
