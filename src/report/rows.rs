//! The report's long lists: flows, NAT mappings and drops. A long capture
//! has hundreds of thousands of each, most of them in a temporary file by
//! the time the report is written ([`crate::spill`]), so their rows are
//! made a chunk at a time as they are written, never all at once.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::ser::{Serialize, SerializeSeq, Serializer};

use crate::spill::{ChunkStore, Spill, CHUNK_LEN};

/// Rows of type `R`, made already or to be made from stored `S`s.
pub enum Rows<S, R> {
    /// Rows made already.
    Made(Vec<R>),
    /// What the rows are made of, each chunk when it is written.
    Stored(ChunkStore<S>),
}

/// What [`Rows`] need of what they are made from and of their rows.
pub trait Stored: Spill + Clone + Sync {}
impl<S: Spill + Clone + Sync> Stored for S {}
pub trait Row<S>: for<'a> From<&'a S> + Clone + Send + Sync {}
impl<S, R: for<'a> From<&'a S> + Clone + Send + Sync> Row<S> for R {}

impl<S, R> Default for Rows<S, R> {
    fn default() -> Self {
        Rows::Made(Vec::new())
    }
}

impl<S, R> From<Vec<R>> for Rows<S, R> {
    fn from(rows: Vec<R>) -> Self {
        Rows::Made(rows)
    }
}

/// The rows of `items`, on every core: a chunk is a thousand of them.
fn rows_of<S: Stored, R: Row<S>>(items: &[S]) -> Vec<R> {
    items.par_iter().map(R::from).collect()
}

impl<S: Stored, R: Row<S>> Rows<S, R> {
    /// Every row of `store`, made now.
    pub fn made_from(store: &ChunkStore<S>) -> Self {
        Rows::Made((0..store.chunk_count()).flat_map(|k| rows_of(&store.chunk(k))).collect())
    }

    pub fn len(&self) -> usize {
        match self {
            Rows::Made(rows) => rows.len(),
            Rows::Stored(store) => store.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows in each chunk but the last.
    fn chunk_len(&self) -> usize {
        match self {
            Rows::Made(_) => CHUNK_LEN,
            Rows::Stored(store) => store.chunk_len(),
        }
    }

    fn chunk_count(&self) -> usize {
        self.len().div_ceil(self.chunk_len())
    }

    /// The rows of chunk `k`: rows `k * chunk_len ..`.
    pub fn chunk(&self, k: usize) -> Cow<'_, [R]> {
        match self {
            Rows::Made(rows) => {
                let start = (k * CHUNK_LEN).min(rows.len());
                Cow::Borrowed(&rows[start..rows.len().min(start + CHUNK_LEN)])
            }
            Rows::Stored(store) => Cow::Owned(rows_of(&store.chunk(k))),
        }
    }

    /// Every chunk in order, each made when it is reached.
    pub fn chunks(&self) -> impl Iterator<Item = Cow<'_, [R]>> + '_ {
        (0..self.chunk_count()).map(|k| self.chunk(k))
    }

    /// Every row in order, made a chunk at a time.
    pub fn iter(&self) -> impl Iterator<Item = R> + '_ {
        self.chunks().flat_map(Cow::into_owned)
    }

    pub fn to_vec(&self) -> Vec<R> {
        match self {
            Rows::Made(rows) => rows.clone(),
            Rows::Stored(_) => self.iter().collect(),
        }
    }

    /// Random access for renderers that ask for rows by number from
    /// several threads, each mostly in order.
    pub fn by_number(&self) -> RowsByNumber<'_, S, R> {
        RowsByNumber { rows: self, recent: Mutex::new(Vec::new()) }
    }
}

/// Chunks asked for recently, made once each.
pub struct RowsByNumber<'a, S, R> {
    rows: &'a Rows<S, R>,
    recent: Mutex<Vec<(usize, Arc<Vec<R>>)>>,
}

/// Chunks [`RowsByNumber`] keeps: a few per thread.
const RECENT_CHUNKS: usize = 8;

impl<S: Stored, R: Row<S>> RowsByNumber<'_, S, R> {
    /// `f` of row `i` (`i < len`).
    pub fn with<T>(&self, i: usize, f: impl FnOnce(&R) -> T) -> T {
        let k = i / self.rows.chunk_len();
        let at = i % self.rows.chunk_len();
        let store = match self.rows {
            Rows::Made(rows) => return f(&rows[i]),
            Rows::Stored(store) => store,
        };
        let lock = || self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let cached = lock().iter().find(|(n, _)| *n == k).map(|(_, rows)| rows.clone());
        let chunk = match cached {
            Some(rows) => rows,
            None => {
                // Made with no lock held and on this thread alone: the
                // caller is a rayon task, and a task that waited here for
                // a pool could be handed another row of this table, whose
                // look-up would then wait for this one's lock. Two threads
                // may make the same chunk at once; both are the same rows.
                let made: Arc<Vec<R>> = Arc::new(store.chunk(k).iter().map(R::from).collect());
                let mut recent = lock();
                if !recent.iter().any(|(n, _)| *n == k) {
                    if recent.len() == RECENT_CHUNKS {
                        recent.remove(0);
                    }
                    recent.push((k, made.clone()));
                }
                made
            }
        };
        f(&chunk[at])
    }
}

impl<S: Stored, R: Row<S> + Serialize> Serialize for Rows<S, R> {
    fn serialize<Ser: Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for chunk in self.chunks() {
            for row in chunk.iter() {
                seq.serialize_element(row)?;
            }
        }
        seq.end()
    }
}

impl<S: Stored, R: Row<S> + PartialEq> PartialEq for Rows<S, R> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<S: Stored, R: Row<S>> Clone for Rows<S, R> {
    fn clone(&self) -> Self {
        Rows::Made(self.to_vec())
    }
}

impl<S: Stored, R: Row<S> + fmt::Debug> fmt::Debug for Rows<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
