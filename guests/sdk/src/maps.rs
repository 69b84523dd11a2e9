//! Declaring maps: the `kwasm.maps` custom section.
//!
//! A program's maps are arrays of `u64` shared with userspace. They are
//! declared by a custom section named `kwasm.maps` holding one little-endian
//! `u32` entry count per map; map `i` is the `i`-th count. The loader allocates
//! them (zeroed) and rejects more than [`MAX_MAPS`] maps or more than
//! [`MAX_MAP_ENTRIES`] entries in one map.
//!
//! Use the [`crate::maps!`] macro:
//!
//! ```ignore
//! kwasm_guest::maps!(2, 256); // map 0: 2 entries, map 1: 256 entries
//! ```
//!
//! which expands to the documented pattern
//!
//! ```ignore
//! #[used]
//! #[unsafe(link_section = "kwasm.maps")]
//! static MAPS: [u8; 8] = [2, 0, 0, 0, 0, 1, 0, 0];
//! ```
//!
//! The linker concatenates custom sections of the same name from every object
//! it links, so declare maps once, in the program crate, never in a library.
//!
//! This macro writes the section's original (v1) records, one `u32` per
//! map, each an `array`. The section also takes v2 records, which declare
//! other kinds such as a `per_cpu_array` (`kwasm_abi::maps`,
//! `docs/maps.md`); the SDK has no typed maps for them yet.

/// Name of the custom section declaring the maps.
pub use crate::abi::MAPS_SECTION;
/// Most entries one map may have.
pub use crate::abi::MAX_MAP_ENTRIES;
/// Most maps a program may declare (`kwasm_abi::host::MAX_MAPS`).
pub const MAX_MAPS: usize = crate::abi::MAX_MAPS as usize;

/// Encodes entry counts as the contents of the `kwasm.maps` section. `N` must
/// be `4 * counts.len()`. Fails to compile (in a const context) when there are
/// too many maps or a map is too large or empty.
pub const fn encode<const N: usize>(counts: &[u32]) -> [u8; N] {
    assert!(
        N == counts.len() * 4,
        "kwasm.maps: N must be 4 * number of maps"
    );
    assert!(
        counts.len() <= MAX_MAPS,
        "kwasm.maps: more than MAX_MAPS maps"
    );
    let mut out = [0u8; N];
    let mut i = 0;
    while i < counts.len() {
        let c = counts[i];
        assert!(c > 0, "kwasm.maps: a map needs at least one entry");
        assert!(
            c <= MAX_MAP_ENTRIES,
            "kwasm.maps: a map has more than MAX_MAP_ENTRIES entries"
        );
        let b = c.to_le_bytes();
        out[i * 4] = b[0];
        out[i * 4 + 1] = b[1];
        out[i * 4 + 2] = b[2];
        out[i * 4 + 3] = b[3];
        i += 1;
    }
    out
}

/// Declares the program's maps: one `u32` entry count per map, in map order.
/// Emits the `kwasm.maps` custom section (see the [module docs](mod@crate::maps)).
/// Use it once per program. Limits are checked at compile time.
///
/// ```ignore
/// kwasm_guest::maps!(2);        // one map of 2 counters
/// kwasm_guest::maps!(256, 256); // two maps of 256 entries
/// ```
#[macro_export]
macro_rules! maps {
    // `#[link_section]` takes only a literal: the section name is written
    // once, here, and checked against `kwasm_abi::host::MAPS_SECTION`.
    (@section $section:literal, $($count:expr),+) => {
        const _: () = {
            assert!(
                $crate::abi::str_eq($section, $crate::abi::MAPS_SECTION),
                "maps!: the section name is not kwasm_abi::host::MAPS_SECTION"
            );
            const COUNTS: &[u32] = &[$($count),+];
            const LEN: usize = COUNTS.len() * 4;
            #[used]
            #[unsafe(link_section = $section)]
            static KWASM_MAPS: [u8; LEN] = $crate::maps::encode::<LEN>(COUNTS);
        };
    };
    ($($count:expr),+ $(,)?) => {
        $crate::maps!(@section "kwasm.maps", $($count),+);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_little_endian() {
        const E: [u8; 12] = encode::<12>(&[2, 256, 0x01_0000]);
        assert_eq!(E, [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    }

    #[test]
    #[should_panic]
    fn rejects_oversized_maps() {
        let _ = encode::<4>(&[MAX_MAP_ENTRIES + 1]);
    }

    #[test]
    #[should_panic]
    fn rejects_wrong_length() {
        let _ = encode::<8>(&[1]);
    }
}
