//! The report's flows. A long capture has hundreds of thousands, most of
//! them in the flow table's temporary file by the time the report is
//! written ([`crate::flow::FlowStore`]), so their rows are made a chunk at
//! a time as they are written, never all at once.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::ser::{Serialize, SerializeSeq, Serializer};

use super::FlowRow;
use crate::flow::{FlowStore, CHUNK_FLOWS};

pub enum FlowRows {
    /// Rows made already.
    Made(Vec<FlowRow>),
    /// Flows whose rows are made when they are written.
    Stored(FlowStore),
}

impl Default for FlowRows {
    fn default() -> Self {
        FlowRows::Made(Vec::new())
    }
}

impl From<Vec<FlowRow>> for FlowRows {
    fn from(rows: Vec<FlowRow>) -> Self {
        FlowRows::Made(rows)
    }
}

impl FlowRows {
    pub fn len(&self) -> usize {
        match self {
            FlowRows::Made(rows) => rows.len(),
            FlowRows::Stored(store) => store.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows in each chunk but the last: the store's chunk.
    pub const CHUNK: usize = CHUNK_FLOWS;

    fn chunk_count(&self) -> usize {
        self.len().div_ceil(Self::CHUNK)
    }

    /// The rows of chunk `k`: rows `k * CHUNK ..`.
    pub fn chunk(&self, k: usize) -> Cow<'_, [FlowRow]> {
        match self {
            FlowRows::Made(rows) => {
                let start = (k * Self::CHUNK).min(rows.len());
                Cow::Borrowed(&rows[start..rows.len().min(start + Self::CHUNK)])
            }
            // On every core: a chunk is a thousand flows.
            FlowRows::Stored(store) => Cow::Owned(store.chunk(k).par_iter().map(FlowRow::from).collect()),
        }
    }

    /// Every row in order, made a chunk at a time.
    pub fn iter(&self) -> impl Iterator<Item = FlowRow> + '_ {
        (0..self.chunk_count()).flat_map(|k| self.chunk(k).into_owned())
    }

    pub fn to_vec(&self) -> Vec<FlowRow> {
        match self {
            FlowRows::Made(rows) => rows.clone(),
            FlowRows::Stored(_) => self.iter().collect(),
        }
    }

    /// Random access for renderers that ask for rows by number from
    /// several threads, each mostly in order.
    pub fn by_number(&self) -> RowsByNumber<'_> {
        RowsByNumber { rows: self, recent: Mutex::new(Vec::new()) }
    }
}

/// Chunks asked for recently, made once each.
pub struct RowsByNumber<'a> {
    rows: &'a FlowRows,
    recent: Mutex<Vec<(usize, Arc<Vec<FlowRow>>)>>,
}

/// Chunks [`RowsByNumber`] keeps: a few per thread.
const RECENT_CHUNKS: usize = 8;

impl RowsByNumber<'_> {
    /// `f` of row `i` (`i < len`).
    pub fn with<R>(&self, i: usize, f: impl FnOnce(&FlowRow) -> R) -> R {
        let k = i / FlowRows::CHUNK;
        let at = i % FlowRows::CHUNK;
        if let FlowRows::Made(rows) = self.rows {
            return f(&rows[i]);
        }
        let chunk = {
            let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            match recent.iter().position(|(n, _)| *n == k) {
                Some(p) => recent[p].1.clone(),
                None => {
                    let made = Arc::new(self.rows.chunk(k).into_owned());
                    if recent.len() == RECENT_CHUNKS {
                        recent.remove(0);
                    }
                    recent.push((k, made.clone()));
                    made
                }
            }
        };
        f(&chunk[at])
    }
}

impl Serialize for FlowRows {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for k in 0..self.chunk_count() {
            for row in self.chunk(k).iter() {
                seq.serialize_element(row)?;
            }
        }
        seq.end()
    }
}

impl PartialEq for FlowRows {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && (0..self.chunk_count()).all(|k| self.chunk(k) == other.chunk(k))
    }
}

impl Clone for FlowRows {
    fn clone(&self) -> Self {
        FlowRows::Made(self.to_vec())
    }
}

impl fmt::Debug for FlowRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
