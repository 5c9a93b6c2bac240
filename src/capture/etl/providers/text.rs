//! Names and messages from event payloads, shared between the events that
//! repeat them.
//!
//! A busy switch names the same few NICs, switches and ports in every
//! event, and every event crosses from the reading thread to the
//! correlating one. Reference-counted names made both threads write the
//! same few counters a million times a second, so names are interned
//! instead: copied once into a process-wide table and handed out as plain
//! `&'static str`, which costs nothing to copy or drop. The table is
//! bounded ([`MAX_INTERNED_BYTES`]); past it, names are reference counted
//! as before.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use super::fields::{utf16_text, utf16_trimmed};

/// A name or message from an event. Interned, or shared when the table is
/// full: the thousands of events that name one NIC, switch or port hold one
/// copy of it (see [`NameCache`]).
#[derive(Clone)]
pub struct Text(Repr);

// `Arc<Box<str>>`, not `Arc<str>`: a thin pointer fits beside the
// interned `&str`'s null niche, so a text is two words, not three, and the
// events and packets that carry several of them are that much less to move.
#[derive(Clone)]
enum Repr {
    Interned(&'static str),
    Shared(Arc<Box<str>>),
}

/// Bytes of text the process-wide table holds at most: thousands of names,
/// far more than any capture has, but bounded when a damaged or crafted
/// file makes every name different.
const MAX_INTERNED_BYTES: usize = 4 << 20;

struct Interned {
    names: HashSet<&'static str>,
    bytes: usize,
}

fn interned() -> &'static Mutex<Interned> {
    static TABLE: OnceLock<Mutex<Interned>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(Interned { names: HashSet::new(), bytes: 0 }))
}

impl Text {
    /// The interned copy of `s`, or a shared one once the table is full.
    /// For names, which repeat: other text is better made with `from`.
    pub fn intern(s: &str) -> Text {
        Text::intern_within(s, MAX_INTERNED_BYTES)
    }

    fn intern_within(s: &str, max_bytes: usize) -> Text {
        // One address per text, the empty one included: `default` has it.
        if s.is_empty() {
            return Text::default();
        }
        // A panic elsewhere while the lock was held cannot leave the table
        // inconsistent: inserts are single calls.
        let mut table = interned().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(&name) = table.names.get(s) {
            return Text(Repr::Interned(name));
        }
        if table.bytes + s.len() > max_bytes {
            return Text(Repr::Shared(Arc::new(Box::from(s))));
        }
        let name: &'static str = Box::leak(Box::from(s));
        table.bytes += name.len();
        table.names.insert(name);
        Text(Repr::Interned(name))
    }

    /// The text when it is interned: the same address for the same text
    /// for as long as the process runs, so it can stand for the text.
    /// (Equal interned texts always have one address; a text that is not
    /// interned may be equal to one that is.)
    pub fn as_interned(&self) -> Option<&'static str> {
        match self.0 {
            Repr::Interned(s) => Some(s),
            Repr::Shared(_) => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Interned(s) => s,
            Repr::Shared(s) => s,
        }
    }
}

impl Default for Text {
    fn default() -> Self {
        Text(Repr::Interned(""))
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        match (self.as_interned(), other.as_interned()) {
            // One address per interned text: no bytes to compare. (Hops
            // compare switch names for every packet bound to its bytes.)
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            _ => self.as_str() == other.as_str(),
        }
    }
}

impl Eq for Text {}

/// Hashes as the `str` does, so a set of texts is searched by `&str`.
impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// As a `String` would print, so that debug output does not change.
impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Not interned: only names repeat ([`NameCache`] interns them).
impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Repr::Shared(Arc::new(Box::from(s))))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Repr::Shared(Arc::new(Box::from(s))))
    }
}

/// Values made from runs of bytes, found again by those bytes. Bounded:
/// emptied when full, which only costs making the values again.
#[derive(Debug)]
pub struct ByBytes<V> {
    /// Where each run's value is in `values`.
    map: HashMap<Box<[u8]>, usize, BuildHasherDefault<SampledHasher>>,
    values: Vec<V>,
}

impl<V> Default for ByBytes<V> {
    fn default() -> Self {
        ByBytes { map: HashMap::default(), values: Vec::new() }
    }
}

impl<V> ByBytes<V> {
    /// The value made from `bytes`, made by `make` if it is not here.
    pub fn get_or_make(&mut self, bytes: &[u8], make: impl FnOnce() -> V) -> &V {
        if let Some(&at) = self.map.get(bytes) {
            return &self.values[at];
        }
        if self.values.len() >= MAX_CACHED_NAMES {
            self.map.clear();
            self.values.clear();
        }
        self.map.insert(bytes.into(), self.values.len());
        self.values.push(make());
        &self.values[self.values.len() - 1]
    }

    /// Values held: for tests of the bound.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }
}

/// Names already decoded, by their UTF-16LE bytes: a busy switch logs the
/// same few NIC, switch and port names in every event.
#[derive(Debug)]
pub struct NameCache {
    map: ByBytes<Text>,
    /// How this cache's strings are stored, which decides their text.
    convert: fn(&[u8]) -> String,
}

/// Hashes a name by its length and three words of it (its start, middle
/// and end), not every byte: names are tens of UTF-16 units, a switching
/// host's events carry four to six of them, and the names of one capture
/// differ in those words (GUIDs, numbered adapters, container ids). Names
/// alike there share a hash and are told apart by comparing them whole,
/// as always; the cache's bound keeps that bounded too.
#[derive(Default)]
struct SampledHasher(u64);

impl Hasher for SampledHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
        // From 8 to 24 bytes the three words cover the whole name.
        let (start, middle, end) = if n >= 8 {
            (word(0), word(n / 2 - 4), word(n - 8))
        } else {
            let mut short = [0u8; 8];
            short[..n].copy_from_slice(bytes);
            (u64::from_le_bytes(short), 0, 0)
        };
        let mixed = (start ^ middle.rotate_left(21) ^ end.rotate_left(42)).wrapping_add(n as u64);
        self.0 = (self.0 ^ mixed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0 ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The table takes its control bits from the top and its slot from
        // the bottom.
        self.0 ^ (self.0 >> 29)
    }
}

/// Values a [`ByBytes`] (such as a [`NameCache`]) holds at most.
const MAX_CACHED_NAMES: usize = 1024;

impl NameCache {
    /// For counted strings, which may include their NUL terminator.
    pub fn counted() -> NameCache {
        NameCache { map: ByBytes::default(), convert: utf16_trimmed }
    }

    /// For NUL-terminated strings, given without their terminator.
    pub fn terminated() -> NameCache {
        NameCache { map: ByBytes::default(), convert: utf16_text }
    }

    /// The text of `units` (UTF-16LE).
    pub fn text(&mut self, units: &[u8]) -> Text {
        let convert = self.convert;
        self.map.get_or_make(units, || Text::intern(&convert(units))).clone()
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

    #[test]
    fn names_are_one_copy_across_caches_and_a_full_table_still_gives_the_text() {
        let units: Vec<u8> = "vNIC:Synthetic:one".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let a = NameCache::counted().text(&units);
        let b = NameCache::counted().text(&units);
        assert_eq!(a, "vNIC:Synthetic:one");
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr(), "the same interned copy");
        let full = Text::intern_within("a name past the table's limit", 0);
        assert!(matches!(full.0, Repr::Shared(_)));
        assert_eq!(full, Text::from("a name past the table's limit"));
        assert_eq!(Text::default(), "");
    }

    #[test]
    fn texts_are_equal_by_their_text_however_they_are_kept() {
        let interned = Text::intern("vSwitch equality one");
        let again = Text::intern("vSwitch equality one");
        let shared = Text::from("vSwitch equality one");
        let other = Text::intern("vSwitch equality two");
        let full = Text::intern_within("vSwitch equality one", 0);
        for (a, b) in [(&interned, &again), (&interned, &shared), (&shared, &interned), (&interned, &full)] {
            assert!(a == b, "{:?} == {:?}", a.as_str(), b.as_str());
        }
        for (a, b) in [(&interned, &other), (&other, &shared), (&other, &full)] {
            assert!(a != b, "{:?} != {:?}", a.as_str(), b.as_str());
        }
        assert_eq!(Text::intern(""), Text::default());
        assert_eq!(Text::from(""), Text::default());
        assert_ne!(Text::intern("vSwitch"), Text::intern("vSwitch equality one"));
    }

    #[test]
    fn names_alike_where_hashed_are_still_told_apart() {
        // Same length, start, middle and end: one hash, two names.
        let name = |c: char| -> Vec<u8> {
            format!("vNIC:Synthetic:{c}C90961B-7F93-6D22-1098-7A47C025A152")
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect()
        };
        let mut names = NameCache::counted();
        let (a, b) = (name('5'), name('6'));
        for _ in 0..2 {
            assert_eq!(names.text(&a), "vNIC:Synthetic:5C90961B-7F93-6D22-1098-7A47C025A152");
            assert_eq!(names.text(&b), "vNIC:Synthetic:6C90961B-7F93-6D22-1098-7A47C025A152");
        }
        assert_eq!(names.map.len(), 2);
    }

    #[test]
    fn a_text_is_two_words() {
        assert_eq!(std::mem::size_of::<Text>(), 2 * std::mem::size_of::<usize>());
    }
}
