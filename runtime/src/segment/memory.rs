//! [`Memory`]: the bytes of a segment, reached only through bounds-checked atomics and raw
//! pointers.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

/// A pointer to `len` bytes of memory that other processes may read and write at any time.
///
/// Only atomics and raw pointers are ever derived from it.
///
/// Invariants, established by whoever builds a `Memory` (`Segment::create`, `Segment::heap`,
/// `Segment::open`) and relied on by the `unsafe` blocks below:
///
/// - `base` points to the start of a readable and writable allocation or shared mapping of
///   exactly `len` bytes, which stays allocated or mapped for as long as this `Memory` can be
///   used: until the `Segment` that owns it is dropped (`Segment::drop` frees a heap block last
///   thing, and `mem` is declared before the `backing` that unmaps a mapping).
/// - `base` is 4096-byte aligned (a page-aligned mapping, or a heap layout aligned to 4096).
/// - `len ≤ isize::MAX` (the size of any allocation or mapping).
/// - Each header field is accessed with one width only: the width of its type in `layout`
///   (`u8`, `u32` or `u64`), here and in the ring layer, and accesses of different fields do
///   not overlap. The data area is reached only through raw pointers (`Segment::data_ptr`),
///   never through the atomics below.
pub(super) struct Memory {
    pub(super) base: NonNull<u8>,
    pub(super) len: usize,
}

impl Memory {
    /// A pointer to `size` bytes at `offset`, after checking they are in bounds and aligned to
    /// `size` (which is 1, 4 or 8).
    ///
    /// # Panics
    ///
    /// If `offset..offset + size` is outside the memory or `offset` is not a multiple of `size`.
    #[inline] // so that `size` is a constant and `offset % size` a mask, not a division
    pub(super) fn ptr_at(&self, offset: usize, size: usize) -> *mut u8 {
        assert!(
            offset.checked_add(size).is_some_and(|end| end <= self.len),
            "segment access at {offset}+{size} is outside the {} mapped bytes",
            self.len
        );
        assert!(offset % size == 0, "segment access at {offset} is not aligned to {size}");
        // SAFETY:
        // - In bounds: `offset + size ≤ len` (checked above), so the result stays within the
        //   allocation or mapping of `len` bytes that `base` points to (type invariant).
        // - No `isize` overflow: `offset ≤ len ≤ isize::MAX` (type invariant), and the pointee
        //   is `u8`, so the byte offset is `offset` itself.
        unsafe { self.base.as_ptr().add(offset) }
    }

    pub(super) fn atomic_u8(&self, offset: usize) -> &AtomicU8 {
        let ptr = self.ptr_at(offset, 1);
        // SAFETY:
        // - Aligned: `align_of::<AtomicU8>()` is 1, so any pointer is aligned.
        // - Valid for reads and writes for the returned lifetime: `ptr_at` checked that the byte
        //   is in bounds, and the memory is readable, writable and stays allocated or mapped as
        //   long as `self` can be used (type invariant); the returned lifetime borrows `self`.
        // - Memory model: within this process every access to header bytes goes through
        //   atomics of the field's one width (type invariant); other processes are outside the
        //   Rust abstract machine and the protocol requires them to use atomics too.
        unsafe { AtomicU8::from_ptr(ptr) }
    }

    #[inline]
    pub(super) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        let ptr = self.ptr_at(offset, 4).cast::<u32>();
        // SAFETY:
        // - Aligned: `align_of::<AtomicU32>()` is 4, and `ptr` is 4-byte aligned (`ptr_at`
        //   checks `offset % 4 == 0` and `base` is page-aligned, type invariant).
        // - Valid for reads and writes for the returned lifetime: `ptr_at` checked that the 4
        //   bytes are in bounds; see `atomic_u8` for the lifetime.
        // - Memory model: see `atomic_u8`.
        unsafe { AtomicU32::from_ptr(ptr) }
    }

    #[inline]
    pub(super) fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        let ptr = self.ptr_at(offset, 8).cast::<u64>();
        // SAFETY:
        // - Aligned: `align_of::<AtomicU64>()` is 8, and `ptr` is 8-byte aligned (`ptr_at`
        //   checks `offset % 8 == 0` and `base` is page-aligned, type invariant).
        // - Valid for reads and writes for the returned lifetime: `ptr_at` checked that the 8
        //   bytes are in bounds; see `atomic_u8` for the lifetime.
        // - Memory model: see `atomic_u8`.
        unsafe { AtomicU64::from_ptr(ptr) }
    }

    pub(super) fn load_u8(&self, offset: usize) -> u8 {
        self.atomic_u8(offset).load(Ordering::Relaxed)
    }
    pub(super) fn load_u32(&self, offset: usize) -> u32 {
        self.atomic_u32(offset).load(Ordering::Relaxed)
    }
    pub(super) fn load_u64(&self, offset: usize) -> u64 {
        self.atomic_u64(offset).load(Ordering::Relaxed)
    }
    pub(super) fn store_u8(&self, offset: usize, value: u8) {
        self.atomic_u8(offset).store(value, Ordering::Relaxed);
    }
    pub(super) fn store_u32(&self, offset: usize, value: u32) {
        self.atomic_u32(offset).store(value, Ordering::Relaxed);
    }
    pub(super) fn store_u64(&self, offset: usize, value: u64) {
        self.atomic_u64(offset).store(value, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use crate::segment::layout::OFF_WRITE_POS;
    use crate::segment::test_support::spec;
    use crate::segment::Segment;

    #[test]
    #[should_panic(expected = "not aligned")]
    fn misaligned_atomic_panics() {
        let _ = Segment::heap(&spec()).atomic_u32(OFF_WRITE_POS + 2);
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn out_of_bounds_atomic_panics() {
        let segment = Segment::heap(&spec());
        let _ = segment.atomic_u64(segment.mem.len);
    }
}
