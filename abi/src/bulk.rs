//! The semantics of bulk operations on linear memory and tables
//! (`memory.fill/copy/init`, `table.fill/copy/init`), written once for the
//! userspace runtime and `kwasm.ko` so that both trap on exactly the same
//! ranges.
//!
//! Every function works on slices of the *current* contents and returns
//! `false`, having written nothing, when a range is out of bounds; the
//! caller turns that into its trap code. A zero-length operation at the very
//! end is in bounds, as the spec requires.

use core::ops::Range;

/// `[off, off + len)` as an index range, if it lies within `size` elements.
pub fn range(off: u32, len: u32, size: usize) -> Option<Range<usize>> {
    let end = off as u64 + len as u64;
    (end <= size as u64).then_some(off as usize..end as usize)
}

/// `buf[off..off + len]`, if it lies within `buf`: the memory a host
/// function reads (a key, a log line), checked as the bulk operations are.
pub fn slice<T>(buf: &[T], off: u32, len: u32) -> Option<&[T]> {
    buf.get(range(off, len, buf.len())?)
}

/// [`slice`], mutably: the memory a host function writes.
pub fn slice_mut<T>(buf: &mut [T], off: u32, len: u32) -> Option<&mut [T]> {
    let r = range(off, len, buf.len())?;
    buf.get_mut(r)
}

/// `memory.fill` / `table.fill`.
pub fn fill<T: Copy>(buf: &mut [T], dst: u32, len: u32, val: T) -> bool {
    match range(dst, len, buf.len()) {
        Some(r) => {
            buf[r].fill(val);
            true
        }
        None => false,
    }
}

/// `memory.copy` / `table.copy` within one buffer; the ranges may overlap.
pub fn copy_within<T: Copy>(buf: &mut [T], dst: u32, src: u32, len: u32) -> bool {
    match (range(dst, len, buf.len()), range(src, len, buf.len())) {
        (Some(d), Some(s)) => {
            buf.copy_within(s, d.start);
            true
        }
        _ => false,
    }
}

/// `memory.init` / `table.init` / `table.copy` between two tables: copy
/// `len` items from `from[src..]` to `to[dst..]`.
pub fn copy<T: Copy>(to: &mut [T], dst: u32, from: &[T], src: u32, len: u32) -> bool {
    match (range(dst, len, to.len()), range(src, len, from.len())) {
        (Some(d), Some(s)) => {
            // Equal lengths by construction; a zip (rather than
            // `copy_from_slice`) has no length-mismatch panic path, which
            // the kernel's objtool would flag as falling through.
            for (t, f) in to[d].iter_mut().zip(&from[s]) {
                *t = *f;
            }
            true
        }
        _ => false,
    }
}

/// `memory.grow` / `table.grow`: the new size, if `cur + delta` fits `cap`.
pub fn grow(cur: u64, delta: u32, cap: u64) -> Option<u64> {
    let new = cur + delta as u64;
    (new <= cap).then_some(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_before_writing() {
        let mut m = [0u8; 8];
        assert!(fill(&mut m, 6, 2, 7));
        assert_eq!(m, [0, 0, 0, 0, 0, 0, 7, 7]);
        assert!(!fill(&mut m, 7, 2, 9));
        assert_eq!(m[7], 7, "nothing written on a failed fill");
        assert!(fill(&mut m, 8, 0, 1), "empty range at the end is in bounds");
        assert!(!fill(&mut m, 9, 0, 1));
        assert!(!fill(&mut m, u32::MAX, 2, 1), "no overflow");
    }

    #[test]
    fn copies_handle_overlap_and_bounds() {
        let mut m = [1u8, 2, 3, 4, 5];
        assert!(copy_within(&mut m, 1, 0, 4));
        assert_eq!(m, [1, 1, 2, 3, 4]);
        assert!(copy_within(&mut m, 0, 1, 4));
        assert_eq!(m, [1, 2, 3, 4, 4]);
        assert!(!copy_within(&mut m, 0, 2, 4));
        let mut t = [0u64; 3];
        assert!(copy(&mut t, 1, &[9, 8], 0, 2));
        assert_eq!(t, [0, 9, 8]);
        assert!(!copy(&mut t, 0, &[9, 8], 1, 2));
        assert_eq!(t, [0, 9, 8]);
    }

    #[test]
    fn grow_respects_the_cap() {
        assert_eq!(grow(1, 2, 3), Some(3));
        assert_eq!(grow(1, 3, 3), None);
        assert_eq!(grow(0, u32::MAX, u64::MAX), Some(u32::MAX as u64));
    }
}
