//! Names and messages from event payloads, shared between the events that
//! repeat them.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::fields::{utf16_text, utf16_trimmed};

/// A name or message from an event. Shared: the thousands of events that
/// name one NIC, switch or port hold one copy of it (see [`NameCache`]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Text(Arc<str>);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared string itself, for holders of `Arc<str>`: no copy.
    pub fn shared(&self) -> Arc<str> {
        self.0.clone()
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// As a `String` would print, so that debug output does not change.
impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Arc::from(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Arc::from(s))
    }
}

/// Names already decoded, by their UTF-16LE bytes: a busy switch logs the
/// same few NIC, switch and port names in every event. Bounded: emptied
/// when full, which only costs decoding names again.
#[derive(Debug)]
pub struct NameCache {
    map: FxHashMap<Box<[u8]>, Text>,
    /// How this cache's strings are stored, which decides their text.
    convert: fn(&[u8]) -> String,
}

/// Names a [`NameCache`] holds at most.
const MAX_CACHED_NAMES: usize = 1024;

impl NameCache {
    /// For counted strings, which may include their NUL terminator.
    pub fn counted() -> NameCache {
        NameCache { map: FxHashMap::default(), convert: utf16_trimmed }
    }

    /// For NUL-terminated strings, given without their terminator.
    pub fn terminated() -> NameCache {
        NameCache { map: FxHashMap::default(), convert: utf16_text }
    }

    /// The text of `units` (UTF-16LE).
    pub fn text(&mut self, units: &[u8]) -> Text {
        if let Some(t) = self.map.get(units) {
            return t.clone();
        }
        if self.map.len() >= MAX_CACHED_NAMES {
            self.map.clear();
        }
        let t = Text::from((self.convert)(units));
        self.map.insert(units.into(), t.clone());
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_text_is_the_text_and_the_cache_stays_bounded() {
        let units: Vec<u8> = "nic\0".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(NameCache::counted().text(&units), "nic");
        assert_eq!(NameCache::terminated().text(&units), "nic\0");
        let mut names = NameCache::counted();
        for i in 0..3 * MAX_CACHED_NAMES as u32 {
            names.text(&i.to_le_bytes());
        }
        assert!(names.map.len() <= MAX_CACHED_NAMES);
    }
}
