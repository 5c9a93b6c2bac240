//! A hash index from keys to their numbers in a [`super::ChunkStore`], by
//! open addressing. The flow table and the NAT mappings use it.
//!
//! A general hash map would do, but it keeps its buckets to itself, and the
//! thread that applies a batch of packets knows their keys' hashes long
//! before it looks them up: with the slot's address known, the slot and
//! then the flow can be asked into cache a few packets ahead
//! ([`prefetch_slot`](TagIndex::prefetch_slot), [`likely`](TagIndex::likely)).
//!
//! The index keeps no keys, only 32 bits of each hash (its tag) and the
//! number: the keys are in the items, which may be in a file by now
//! ([`super::store`]). Eight bytes a slot is what the index costs per item.
//! The slot a key belongs in is taken from the top bits of its tag, so the
//! index can grow without the keys.

/// One slot: a key's tag and its number, or `EMPTY`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    tag: u32,
    number: u32,
}

const EMPTY: Slot = Slot { tag: 0, number: u32::MAX };
const INITIAL_SLOTS: usize = 64;

/// Keys the index can number: twice as many slots must still be homed by
/// a 32-bit tag.
pub const MAX_KEYS: usize = (u32::MAX >> 1) as usize;

use super::{ChunkStore, Spill};

/// Where [`TagIndex::find`] would have found a key it did not find.
#[derive(Debug, Clone, Copy)]
pub struct Vacant {
    at: usize,
}

/// Keys numbered 0, 1, 2, ... in the order they were first inserted.
pub struct TagIndex {
    /// A power of two long, at most three quarters full, probed linearly:
    /// eight slots share a cache line, so a probe past the first few costs
    /// little, and the index is what stays in memory per item.
    slots: Vec<Slot>,
    len: usize,
}

/// The top half of `hash` after a multiplication that spreads every bit
/// of it there (Fx hashes are weak in their low bits, which clustered the
/// slots).
fn tag(hash: u64) -> u32 {
    (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32
}

impl std::fmt::Debug for TagIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TagIndex {{ len: {}, slots: {} }}", self.len, self.slots.len())
    }
}

impl Default for TagIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl TagIndex {
    pub fn new() -> Self {
        TagIndex { slots: vec![EMPTY; INITIAL_SLOTS], len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of the key whose hash is `hash` and for whose number
    /// `is_key` holds, or where it would go. `is_key` is asked only about
    /// numbers whose tag matches.
    pub fn find(&self, hash: u64, mut is_key: impl FnMut(usize) -> bool) -> Result<usize, Vacant> {
        let mask = self.slots.len() - 1;
        let tag = tag(hash);
        let mut at = self.home(tag);
        loop {
            let slot = self.slots[at];
            if slot.number == u32::MAX {
                return Err(Vacant { at });
            }
            if slot.tag == tag && is_key(slot.number as usize) {
                return Ok(slot.number as usize);
            }
            at = (at + 1) & mask;
        }
    }

    /// The number of the item of `store` whose key has `hash` and for
    /// which `is_key` holds; if there is none, `make(number)` makes it and
    /// it is pushed to `store` under the next number. `None` when `make`
    /// declines (no room) or the index is full. The index numbers exactly
    /// the items of `store`, in order.
    pub fn find_or_push<T: Spill>(
        &mut self,
        store: &mut ChunkStore<T>,
        hash: u64,
        is_key: impl Fn(&T) -> bool,
        make: impl FnOnce(usize) -> Option<T>,
    ) -> Option<usize> {
        debug_assert_eq!(self.len, store.len(), "the index numbers the store's items");
        match self.find(hash, |n| is_key(store.get_mut(n))) {
            Ok(n) => Some(n),
            Err(_) if store.len() >= MAX_KEYS => None,
            Err(vacant) => {
                store.push(make(store.len())?);
                Some(self.insert(vacant, hash))
            }
        }
    }

    /// Inserts the key with `hash` (which [`find`](Self::find) did not
    /// find) where `find` said it would go; returns its number, the next
    /// one. At most [`MAX_KEYS`] keys.
    pub fn insert(&mut self, vacant: Vacant, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        // Still the first empty slot of the probe unless something was
        // inserted in between; then the next empty one is.
        let mut at = vacant.at & mask;
        while self.slots[at].number != u32::MAX {
            at = (at + 1) & mask;
        }
        let number = self.len;
        self.len += 1;
        self.slots[at] = Slot { tag: tag(hash), number: number as u32 };
        if 4 * self.len > 3 * self.slots.len() {
            self.grow();
        }
        number
    }

    fn grow(&mut self) {
        let doubled = vec![EMPTY; 2 * self.slots.len()];
        let old = std::mem::replace(&mut self.slots, doubled);
        let mask = self.slots.len() - 1;
        for slot in old.into_iter().filter(|s| s.number != u32::MAX) {
            let mut at = self.home(slot.tag);
            while self.slots[at].number != u32::MAX {
                at = (at + 1) & mask;
            }
            self.slots[at] = slot;
        }
    }

    /// The first slot to look in for a key with `tag`: its top bits.
    fn home(&self, tag: u32) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (tag as u64 >> (32 - bits)) as usize
    }

    /// Starts loading the first slot a lookup of `hash` reads.
    pub fn prefetch_slot(&self, hash: u64) {
        crate::prefetch::line(&self.slots[self.home(tag(hash))]);
    }

    /// The number the key with `hash` most likely has (the one in its first
    /// slot, when the tags agree); for prefetching what a lookup will touch
    /// next.
    pub fn likely(&self, hash: u64) -> Option<usize> {
        let tag = tag(hash);
        let slot = self.slots[self.home(tag)];
        (slot.number != u32::MAX && slot.tag == tag).then_some(slot.number as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keys_in_first_insertion_order_through_collisions_and_growth() {
        let mut index = TagIndex::new();
        // The keys, by number, as the flows keep them for the index.
        let mut keys: Vec<u32> = Vec::new();
        // Few distinct hashes: every lookup probes past other keys.
        let hash = |k: u32| (k % 7) as u64 * 0x1_0000_0001;
        let mut find_or_insert = |index: &mut TagIndex, k: u32| match index.find(hash(k), |n| keys[n] == k) {
            Ok(n) => (n, false),
            Err(vacant) => {
                keys.push(k);
                (index.insert(vacant, hash(k)), true)
            }
        };
        for round in 0..2 {
            for k in 0..5000u32 {
                assert_eq!(find_or_insert(&mut index, k), (k as usize, round == 0), "key {k}");
            }
        }
        assert_eq!(index.likely(hash(0)), Some(0));
        assert_eq!(index.find(hash(7), |n| n == 7).ok(), Some(7));
        assert!(index.find(hash(5000), |_| false).is_err());
        assert_eq!(index.len(), 5000);
        assert_eq!(index.likely(0xdead), None);
    }

    #[test]
    fn a_stale_vacancy_still_inserts_into_an_empty_slot() {
        let mut index = TagIndex::new();
        let Err(first) = index.find(1, |_| false) else { panic!("empty index") };
        let Err(second) = index.find(1, |_| false) else { panic!("empty index") };
        assert_eq!(index.insert(first, 1), 0);
        assert_eq!(index.insert(second, 1), 1);
        assert_eq!(index.find(1, |n| n == 0).ok(), Some(0));
        assert_eq!(index.find(1, |n| n == 1).ok(), Some(1));
    }
}
