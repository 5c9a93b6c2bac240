//! A record's payload where it lies: a range of the bytes its buffer was
//! decoded into (or of the mapped file), shared with that buffer rather
//! than copied out of it. Handing out a record then costs a reference
//! count, not a copy of the packet it carries.

use std::ops::{Deref, Range};
use std::sync::Arc;

use memmap2::Mmap;

/// Bytes that records lie in.
#[derive(Clone, Default)]
pub enum Source {
    #[default]
    Empty,
    /// A decompressed buffer, or one copied out of a stream.
    Owned(Arc<Vec<u8>>),
    /// The mapped file itself.
    Mapped(Arc<Mmap>),
}

impl Source {
    fn bytes(&self) -> &[u8] {
        match self {
            Source::Empty => &[],
            Source::Owned(v) => v,
            Source::Mapped(m) => m,
        }
    }

    /// `range` of these bytes; empty should it not fit (it was cut from
    /// them, so it always does).
    pub(super) fn range(&self, range: &Range<usize>) -> &[u8] {
        self.bytes().get(range.clone()).unwrap_or(&[])
    }

    fn same(&self, other: &Source) -> bool {
        match (self, other) {
            (Source::Empty, Source::Empty) => true,
            (Source::Owned(a), Source::Owned(b)) => Arc::ptr_eq(a, b),
            (Source::Mapped(a), Source::Mapped(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// Where `inner` lies within `outer`, if it is a part of it.
pub(super) fn subrange(outer: &[u8], inner: &[u8]) -> Option<Range<usize>> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    let end = start.checked_add(inner.len())?;
    (end <= outer.len()).then_some(start..end)
}

/// A record's payload: `range` of `source`.
#[derive(Clone, Default)]
pub struct Payload {
    source: Source,
    range: Range<usize>,
}

impl Payload {
    /// Points this payload at `range` of `source`, keeping its reference
    /// when it already holds that source (the common case: consecutive
    /// records of one buffer).
    pub(super) fn set(&mut self, source: &Source, range: Range<usize>) {
        if !self.source.same(source) {
            self.source = source.clone();
        }
        self.range = range;
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Payload {
        let range = 0..v.len();
        Payload { source: Source::Owned(Arc::new(v)), range }
    }
}

impl Deref for Payload {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.source.range(&self.range)
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        **self == **other
    }
}

impl Eq for Payload {}

/// Serialized as the byte sequence it is, as a `Vec<u8>` would be.
impl serde::Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_is_its_range_of_the_source() {
        let source = Source::Owned(Arc::new((0u8..10).collect()));
        let mut p = Payload::default();
        assert!(p.is_empty());
        p.set(&source, 2..5);
        assert_eq!(&*p, &[2, 3, 4]);
        p.set(&source, 9..12);
        assert!(p.is_empty(), "a range past the bytes reads as empty, not a panic");
        assert_eq!(Payload::from(vec![7, 8]), Payload::from(vec![7, 8]));
        assert_eq!(serde_json::to_string(&Payload::from(vec![1, 2])).unwrap(), "[1,2]");
    }

    #[test]
    fn a_payload_holds_its_source_alive() {
        let bytes = Arc::new(vec![1u8, 2, 3]);
        let mut p = Payload::default();
        p.set(&Source::Owned(bytes.clone()), 1..3);
        p.set(&Source::Owned(bytes.clone()), 0..1);
        assert_eq!(Arc::strong_count(&bytes), 2, "setting the same source again takes no new reference");
        drop(bytes);
        assert_eq!(&*p, &[1]);
    }
}
