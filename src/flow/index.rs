//! The flow table's index: flow keys to flow numbers, by open addressing.
//!
//! A general hash map would do, but it keeps its buckets to itself, and the
//! thread that applies a batch of packets knows their keys' hashes long
//! before it looks them up: with the slot's address known, the slot and
//! then the flow can be asked into cache a few packets ahead
//! ([`prefetch_slot`](FlowIndex::prefetch_slot), [`likely`](FlowIndex::likely)),
//! where a lookup would otherwise wait on memory for each of them.

/// One slot: a key's hash and its number, or `EMPTY`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    number: usize,
}

const EMPTY: Slot = Slot { hash: 0, number: usize::MAX };
const INITIAL_SLOTS: usize = 64;

/// Where [`FlowIndex::find`] would have found a key it did not find.
#[derive(Debug, Clone, Copy)]
pub(super) struct Vacant {
    at: usize,
}

/// Keys numbered 0, 1, 2, ... in the order they were first inserted.
pub(super) struct FlowIndex<K> {
    /// A power of two long, at most half full, probed linearly.
    slots: Vec<Slot>,
    /// By number.
    keys: Vec<K>,
}

impl<K> FlowIndex<K> {
    pub fn new() -> Self {
        FlowIndex { slots: vec![EMPTY; INITIAL_SLOTS], keys: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The number of the key whose hash is `hash` and for which `is_key`
    /// holds, or where it would go.
    pub fn find(&self, hash: u64, is_key: impl Fn(&K) -> bool) -> Result<usize, Vacant> {
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        loop {
            let slot = self.slots[at];
            if slot.number == usize::MAX {
                return Err(Vacant { at });
            }
            if slot.hash == hash && self.keys.get(slot.number).is_some_and(&is_key) {
                return Ok(slot.number);
            }
            at = (at + 1) & mask;
        }
    }

    /// Inserts `key` (whose hash is `hash`, and which [`find`](Self::find)
    /// did not find) where `find` said it would go; returns its number, the
    /// next one.
    pub fn insert(&mut self, vacant: Vacant, hash: u64, key: K) -> usize {
        let mask = self.slots.len() - 1;
        // Still the first empty slot of the probe unless something was
        // inserted in between; then the next empty one is.
        let mut at = vacant.at & mask;
        while self.slots[at].number != usize::MAX {
            at = (at + 1) & mask;
        }
        let number = self.keys.len();
        self.keys.push(key);
        self.slots[at] = Slot { hash, number };
        if 2 * self.keys.len() > self.slots.len() {
            self.grow();
        }
        number
    }

    fn grow(&mut self) {
        let doubled = vec![EMPTY; 2 * self.slots.len()];
        let old = std::mem::replace(&mut self.slots, doubled);
        let mask = self.slots.len() - 1;
        for slot in old.into_iter().filter(|s| s.number != usize::MAX) {
            let mut at = self.home(slot.hash);
            while self.slots[at].number != usize::MAX {
                at = (at + 1) & mask;
            }
            self.slots[at] = slot;
        }
    }

    /// The first slot to look in for `hash`: from its top bits, after a
    /// multiplication that spreads every bit of it there (Fx hashes are
    /// weak in their low bits, which clustered the slots).
    fn home(&self, hash: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
    }

    /// Starts loading the first slot a lookup of `hash` reads.
    pub fn prefetch_slot(&self, hash: u64) {
        crate::prefetch::line(&self.slots[self.home(hash)]);
    }

    /// The number the key with `hash` most likely has (the one in its first
    /// slot, when the hashes agree), with its key asked into cache; for
    /// prefetching what a lookup will touch next.
    pub fn likely(&self, hash: u64) -> Option<usize> {
        let slot = self.slots[self.home(hash)];
        let key = self.keys.get(slot.number).filter(|_| slot.hash == hash)?;
        crate::prefetch::object(key);
        Some(slot.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keys_in_first_insertion_order_through_collisions_and_growth() {
        let mut index = FlowIndex::new();
        // Few distinct hashes: every lookup probes past other keys.
        let hash = |k: u32| (k % 7) as u64 * 0x1_0000_0001;
        let find_or_insert = |index: &mut FlowIndex<u32>, k: u32| match index.find(hash(k), |x| *x == k) {
            Ok(n) => (n, false),
            Err(vacant) => (index.insert(vacant, hash(k), k), true),
        };
        for round in 0..2 {
            for k in 0..5000u32 {
                assert_eq!(find_or_insert(&mut index, k), (k as usize, round == 0), "key {k}");
            }
        }
        assert_eq!(index.likely(hash(0)), Some(0));
        assert_eq!(index.find(hash(7), |x| *x == 7).ok(), Some(7));
        assert!(index.find(hash(5000), |x| *x == 5000).is_err());
        assert_eq!(index.len(), 5000);
        assert_eq!(index.likely(0xdead), None);
    }

    #[test]
    fn a_stale_vacancy_still_inserts_into_an_empty_slot() {
        let mut index = FlowIndex::new();
        let Err(first) = index.find(1, |_: &u32| false) else { panic!("empty index") };
        let Err(second) = index.find(1, |_: &u32| false) else { panic!("empty index") };
        assert_eq!(index.insert(first, 1, 10), 0);
        assert_eq!(index.insert(second, 1, 11), 1);
        assert_eq!(index.find(1, |k| *k == 10).ok(), Some(0));
        assert_eq!(index.find(1, |k| *k == 11).ok(), Some(1));
    }
}
