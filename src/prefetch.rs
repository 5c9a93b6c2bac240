//! Hints that start loading memory into cache before it is read.
//!
//! The readers hop through large inputs in patterns the hardware
//! prefetcher does not follow (one record's length leads to the next
//! record, a batch of packet references points all over a memory map), so
//! without these hints a thread spends most of its time waiting on memory.
//! They are only hints: they never fault, change nothing, and compile to
//! nothing on targets without them.

pub const CACHE_LINE: usize = 64;

/// Starts loading the cache lines of `bytes[from..to]` (clamped to `bytes`).
#[inline]
pub fn range(bytes: &[u8], from: usize, to: usize) {
    let mut at = from;
    while at < to.min(bytes.len()) {
        line(bytes[at..].as_ptr());
        at += CACHE_LINE;
    }
}

/// Starts loading the cache line that holds `ptr`.
#[inline(always)]
pub fn line<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults, even on an address
    // that is not mapped, and it reads or writes nothing.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(ptr as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Starts loading every cache line of `value`.
#[inline]
pub fn object<T>(value: &T) {
    let start = value as *const T as usize;
    let mut at = start & !(CACHE_LINE - 1);
    while at < start + std::mem::size_of::<T>() {
        line(at as *const u8);
        at += CACHE_LINE;
    }
}
