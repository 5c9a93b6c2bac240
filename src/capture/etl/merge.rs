//! Global time order over per-CPU buffers, in a bounded window.
//!
//! Each buffer is one CPU's run of records, (nearly) sorted by time; file
//! order is flush order, not time order. The [`Window`] holds a bounded
//! number of runs and always releases the earliest record among them (a
//! k-way merge over a heap of run heads). A run read later may still hold
//! records older than one already released: those are released anyway and
//! counted as *late*, never dropped.

use std::cmp::Reverse;
use std::collections::binary_heap::{BinaryHeap, PeekMut};

use crate::time::Timestamp;

/// One buffer's records, sorted by timestamp.
pub trait Run {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn ts(&self, i: usize) -> Timestamp;
    /// Bytes held, counted against the window's byte budget.
    fn weight(&self) -> usize;
}

/// Ordering key: time, then file order of the run, then position in it,
/// so equal timestamps come out in a reproducible order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Head {
    ts: Timestamp,
    order: u64,
    idx: usize,
    slot: usize,
}

pub struct Window<R: Run> {
    slots: Vec<Option<(R, u64)>>,
    free: Vec<usize>,
    heap: BinaryHeap<Reverse<Head>>,
    next_order: u64,
    runs: usize,
    bytes: usize,
    released: Option<Timestamp>,
    late: u64,
    /// Runs fully released, handed back for their allocations.
    spent: Vec<R>,
}

impl<R: Run> Default for Window<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Run> Window<R> {
    pub fn new() -> Self {
        Window {
            slots: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            next_order: 0,
            runs: 0,
            bytes: 0,
            released: None,
            late: 0,
            spent: Vec::new(),
        }
    }

    /// Runs held.
    pub fn runs(&self) -> usize {
        self.runs
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Records released behind an already released time.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Adds a run (ignored when empty, but still given back by
    /// [`Window::take_spent`]).
    pub fn push(&mut self, run: R) {
        let order = self.next_order;
        self.next_order += 1;
        if run.is_empty() {
            self.spent.push(run);
            return;
        }
        let ts = run.ts(0);
        self.bytes += run.weight();
        self.runs += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = Some((run, order));
                s
            }
            None => {
                self.slots.push(Some((run, order)));
                self.slots.len() - 1
            }
        };
        self.heap.push(Reverse(Head { ts, order, idx: 0, slot }));
    }

    /// Releases the earliest record: `f` sees its run and index.
    pub fn pop<T>(&mut self, f: impl FnOnce(&R, usize) -> T) -> Option<T> {
        let mut top = self.heap.peek_mut()?;
        let Reverse(head) = *top;
        let Some((run, order)) = self.slots[head.slot].as_ref() else {
            PeekMut::pop(top);
            return None; // unreachable: heads only point at live slots
        };
        match self.released {
            Some(r) if head.ts < r => self.late += 1,
            _ => self.released = Some(head.ts),
        }
        let out = f(run, head.idx);
        let next = head.idx + 1;
        if next < run.len() {
            // The run's next record takes its place at the top: one sift
            // down instead of a pop and a push. Keys are unique, so the
            // order records come out in is the same.
            *top = Reverse(Head { ts: run.ts(next), order: *order, idx: next, slot: head.slot });
        } else {
            PeekMut::pop(top);
            if let Some((run, _)) = self.slots[head.slot].take() {
                self.bytes -= run.weight();
                self.runs -= 1;
                self.free.push(head.slot);
                self.spent.push(run);
            }
        }
        Some(out)
    }

    /// Runs that have been fully released, for reuse of their memory.
    pub fn take_spent(&mut self) -> Option<R> {
        self.spent.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct V(Vec<i64>);
    impl Run for V {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn ts(&self, i: usize) -> Timestamp {
            Timestamp(self.0[i])
        }
        fn weight(&self) -> usize {
            self.0.len() * 8
        }
    }

    fn drain(w: &mut Window<V>) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(t) = w.pop(|r, i| r.0[i]) {
            out.push(t);
        }
        out
    }

    #[test]
    fn merges_runs_by_time() {
        let mut w = Window::new();
        w.push(V(vec![1, 4, 7]));
        w.push(V(vec![2, 5, 8]));
        w.push(V(vec![]));
        w.push(V(vec![3, 6, 9]));
        assert_eq!(w.runs(), 3);
        assert_eq!(drain(&mut w), (1..=9).collect::<Vec<_>>());
        assert_eq!(w.late(), 0);
        assert_eq!((w.runs(), w.bytes()), (0, 0));
    }

    #[test]
    fn records_behind_the_released_time_are_late_not_lost() {
        let mut w = Window::new();
        w.push(V(vec![10, 20]));
        assert_eq!(w.pop(|r, i| r.0[i]), Some(10));
        assert_eq!(w.pop(|r, i| r.0[i]), Some(20));
        // A CPU's buffer flushed late, with older records.
        w.push(V(vec![5, 15, 25]));
        assert_eq!(drain(&mut w), vec![5, 15, 25]);
        assert_eq!(w.late(), 2);
    }

    /// Runs pushed between releases come out as a plain scan for the
    /// earliest (time, run, index) head says they should.
    #[test]
    fn releases_match_a_linear_scan() {
        let mut rng = crate::test_rng::XorShift64::new(0x2545_F491_4F6C_DD1D);
        let mut rnd = |n: u64| rng.next() % n;
        let mut w = Window::new();
        // The reference: every run with its next index.
        let mut runs: Vec<(Vec<i64>, usize)> = Vec::new();
        for _ in 0..2000 {
            if rnd(3) == 0 {
                let mut v: Vec<i64> = (0..rnd(6)).map(|_| rnd(50) as i64).collect();
                v.sort();
                w.push(V(v.clone()));
                runs.push((v, 0));
            } else {
                let want = runs
                    .iter()
                    .enumerate()
                    .filter(|(_, (v, i))| *i < v.len())
                    .min_by_key(|(k, (v, i))| (v[*i], *k))
                    .map(|(k, _)| k);
                let got = w.pop(|r, i| (r.0[i], i));
                match want {
                    Some(k) => {
                        let (v, i) = &mut runs[k];
                        assert_eq!(got, Some((v[*i], *i)));
                        *i += 1;
                    }
                    None => assert_eq!(got, None),
                }
            }
        }
    }

    #[test]
    fn ties_keep_file_order() {
        let mut w = Window::new();
        w.push(V(vec![1, 1]));
        w.push(V(vec![1]));
        let mut order = Vec::new();
        while let Some(x) = w.pop(|r, i| (r.0.len(), i)) {
            order.push(x);
        }
        assert_eq!(order, vec![(2, 0), (2, 1), (1, 0)]);
    }

    #[test]
    fn spent_runs_come_back_and_slots_are_reused() {
        let mut w = Window::new();
        for round in 0..100 {
            w.push(V(vec![round, round + 1]));
            w.pop(|_, _| ());
            w.pop(|_, _| ());
            assert!(w.take_spent().is_some());
        }
        assert!(w.slots.len() <= 1);
    }
}
