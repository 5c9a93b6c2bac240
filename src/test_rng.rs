//! A small deterministic generator for unit tests (xorshift64): the same
//! numbers on every run, so a failing case can be found again.

pub(crate) struct XorShift64(u64);

impl XorShift64 {
    /// `seed` must not be zero.
    pub(crate) fn new(seed: u64) -> Self {
        XorShift64(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
