//! Windows GUIDs as stored on disk (mixed endian).

use std::fmt;

/// A GUID's 16 bytes exactly as stored in the file: `Data1` u32 LE,
/// `Data2` u16 LE, `Data3` u16 LE, `Data4` 8 bytes as-is. Displays as the
/// Windows text form, lowercase, no braces:
/// `2ed6006e-4729-4609-b423-3ee7bcd678ef`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    pub const NULL: Guid = Guid([0; 16]);

    pub fn data1(&self) -> u32 {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }
    pub fn data2(&self) -> u16 {
        u16::from_le_bytes([self.0[4], self.0[5]])
    }
    pub fn data3(&self) -> u16 {
        u16::from_le_bytes([self.0[6], self.0[7]])
    }
    pub fn data4(&self) -> [u8; 8] {
        let mut d = [0u8; 8];
        d.copy_from_slice(&self.0[8..]);
        d
    }

    /// From the text form, with or without braces, any case.
    pub fn parse(s: &str) -> Option<Guid> {
        let s = s.trim();
        let s = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(s);
        let parts: Vec<&str> = s.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        if parts.len() != 5 || parts.iter().zip(lens).any(|(p, l)| p.len() != l) {
            return None;
        }
        let hex = |p: &str| u64::from_str_radix(p, 16).ok();
        let d1 = hex(parts[0])? as u32;
        let d2 = hex(parts[1])? as u16;
        let d3 = hex(parts[2])? as u16;
        let d4a = hex(parts[3])? as u16;
        let d4b = hex(parts[4])?;
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&d1.to_le_bytes());
        b[4..6].copy_from_slice(&d2.to_le_bytes());
        b[6..8].copy_from_slice(&d3.to_le_bytes());
        b[8..10].copy_from_slice(&d4a.to_be_bytes());
        b[10..16].copy_from_slice(&d4b.to_be_bytes()[2..]);
        Some(Guid(b))
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d4 = self.data4();
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.data1(),
            self.data2(),
            self.data3(),
            d4[0],
            d4[1],
            d4[2],
            d4[3],
            d4[4],
            d4[5],
            d4[6],
            d4[7]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

impl serde::Serialize for Guid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_windows_field_order() {
        // NDIS-PacketCapture provider id as it sits in an EVENT_HEADER.
        let raw = [0x6e, 0x00, 0xd6, 0x2e, 0x29, 0x47, 0x09, 0x46, 0xb4, 0x23, 0x3e, 0xe7, 0xbc, 0xd6, 0x78, 0xef];
        assert_eq!(Guid(raw).to_string(), "2ed6006e-4729-4609-b423-3ee7bcd678ef");
    }

    #[test]
    fn parse_round_trips() {
        let g = Guid::parse("{4D4F80D9-C8BD-4D73-BB5B-19C90402C5AC}").unwrap();
        assert_eq!(g.to_string(), "4d4f80d9-c8bd-4d73-bb5b-19c90402c5ac");
        assert_eq!(g.0[0], 0xd9);
        assert!(Guid::parse("4d4f80d9-c8bd-4d73-bb5b").is_none());
        assert!(Guid::parse("zzzzzzzz-c8bd-4d73-bb5b-19c90402c5ac").is_none());
    }
}
