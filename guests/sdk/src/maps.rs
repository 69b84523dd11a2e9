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

// ---------------------------------------------------------------------------
// Typed maps, in the style of aya-ebpf: declare them once with
// [`crate::declare_maps!`], which also writes the `kwasm.maps` section.

use crate::abi::{MapStatus, UPDATE_ADD, UPDATE_ANY, UPDATE_NOEXIST};
use crate::host::Map;
use crate::sys;
use core::marker::PhantomData;
use kwasm_abi::maps::{DECL_LEN, MAX_KEY_SIZE, MAX_VALUE_SIZE, MapDecl};

/// Plain data that crosses to the host as its bytes: the keys and values of
/// a [`HashMap`].
///
/// # Safety
/// The type has no padding and every bit pattern is a valid value (the
/// host hands back whatever bytes were stored, possibly by userspace).
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod {
    ($($t:ty),*) => {$(
        // SAFETY: integers have no padding and no invalid bit patterns.
        unsafe impl Pod for $t {}
    )*};
}
pod!(u8, u16, u32, u64, i8, i16, i32, i64);
// SAFETY: an array of padding-free types with no invalid patterns has none.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// A map type [`crate::declare_maps!`] can declare: its `kwasm.maps` record.
pub trait MapType {
    /// The v2 declaration record (`kwasm_abi::maps::MapDecl::encode`).
    const DECL: [u8; DECL_LEN];
}

/// `Ok` for status 0, else the status (`kwasm_abi::maps::MapStatus`).
fn status(s: i32) -> Result<(), MapStatus> {
    MapStatus::check(s)
}

/// `N` `u64` shared by every CPU; `add` is atomic. Dereferences to the
/// untyped [`Map`] handle (`get`, `set`, `add`, `incr`).
#[derive(Clone, Copy, Debug)]
pub struct Array<const N: u32>(Map);

/// `N` `u64` per CPU: `get`, `set` and `add` (through [`Map`]) reach the
/// calling CPU's copy, with plain loads and stores (no atomics). Userspace
/// reads one CPU's copy or the sum.
#[derive(Clone, Copy, Debug)]
pub struct PerCpuArray<const N: u32>(Map);

macro_rules! array_kind {
    ($($ty:ident => $decl:ident),*) => {$(
        impl<const N: u32> $ty<N> {
            /// Map number `index` (what [`crate::declare_maps!`] assigns).
            pub const fn at(index: u32) -> Self {
                $ty(Map::new(index))
            }
            /// The untyped handle, for code that takes a [`Map`].
            pub const fn map(&self) -> Map {
                self.0
            }
        }

        impl<const N: u32> core::ops::Deref for $ty<N> {
            type Target = Map;
            fn deref(&self) -> &Map {
                &self.0
            }
        }

        impl<const N: u32> MapType for $ty<N> {
            const DECL: [u8; DECL_LEN] = MapDecl::$decl(N).encode();
        }
    )*};
}
array_kind!(Array => array, PerCpuArray => per_cpu_array);

/// Up to `N` keys `K` with values `V`, shared with userspace (`kwasm map
/// lookup|update|delete|dump`). Operations take the map's lock in the
/// host; an insert into a full map fails with [`MapStatus::Full`].
#[derive(Debug)]
pub struct HashMap<K: Pod, V: Pod, const N: u32> {
    map: u32,
    _kv: PhantomData<(K, V)>,
}

impl<K: Pod, V: Pod, const N: u32> HashMap<K, V, N> {
    /// Map number `index`.
    pub const fn at(index: u32) -> Self {
        HashMap {
            map: index,
            _kv: PhantomData,
        }
    }

    fn update(&self, key: &K, value: &V, flags: u32) -> Result<(), MapStatus> {
        // SAFETY: `key` and `value` are live values of the map's declared
        // sizes (`MapType::DECL`); the host only reads them.
        status(unsafe {
            sys::map_update(
                self.map as i32,
                (key as *const K).cast(),
                (value as *const V).cast(),
                flags as i32,
            )
        })
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &K) -> Option<V> {
        let mut v = core::mem::MaybeUninit::<V>::uninit();
        // SAFETY: the host writes exactly `size_of::<V>()` bytes to `v` on
        // success, and any bytes are a valid `V` (`Pod`).
        let s = unsafe {
            sys::map_lookup(
                self.map as i32,
                (key as *const K).cast(),
                v.as_mut_ptr().cast(),
            )
        };
        // SAFETY: status 0 means the value was written.
        (s == 0).then(|| unsafe { v.assume_init() })
    }

    /// Inserts or replaces `key`'s value.
    pub fn insert(&self, key: &K, value: &V) -> Result<(), MapStatus> {
        self.update(key, value, UPDATE_ANY)
    }

    /// Inserts `key` only if absent ([`MapStatus::Exists`] otherwise).
    pub fn insert_new(&self, key: &K, value: &V) -> Result<(), MapStatus> {
        self.update(key, value, UPDATE_NOEXIST)
    }

    /// Adds `value`'s `u64` words to `key`'s value, or inserts it, in one
    /// operation no other CPU can interleave: a counter. `V` must be made
    /// of `u64`s (the host refuses other sizes with `Invalid`).
    pub fn add(&self, key: &K, value: &V) -> Result<(), MapStatus> {
        self.update(key, value, UPDATE_ADD)
    }

    /// Removes `key`.
    pub fn remove(&self, key: &K) -> Result<(), MapStatus> {
        // SAFETY: `key` is a live value of the map's key size.
        status(unsafe { sys::map_delete(self.map as i32, (key as *const K).cast()) })
    }
}

impl<K: Pod, V: Pod, const N: u32> MapType for HashMap<K, V, N> {
    const DECL: [u8; DECL_LEN] = {
        let (k, v) = (size_of::<K>(), size_of::<V>());
        assert!(
            k >= 1 && k <= MAX_KEY_SIZE as usize,
            "HashMap: a key has 1 to 64 bytes"
        );
        assert!(
            v >= 1 && v <= MAX_VALUE_SIZE as usize,
            "HashMap: a value has 1 to 256 bytes"
        );
        MapDecl::hash(k as u32, v as u32, N).encode()
    };
}

/// A ring of `BYTES` bytes (a power of two, 64 to 1 MiB) of records for
/// userspace (`kwasm events`). A record that does not fit is dropped and
/// counted.
#[derive(Clone, Copy, Debug)]
pub struct RingBuf<const BYTES: u32> {
    map: u32,
}

impl<const BYTES: u32> RingBuf<BYTES> {
    /// Map number `index`.
    pub const fn at(index: u32) -> Self {
        RingBuf { map: index }
    }

    /// Appends a record of `data` ([`MapStatus::Full`]: dropped, counted).
    pub fn output(&self, data: &[u8]) -> Result<(), MapStatus> {
        // SAFETY: `data` is a live slice; the host only reads it.
        status(unsafe { sys::event_output(self.map as i32, data.as_ptr(), data.len()) })
    }
}

impl<const BYTES: u32> MapType for RingBuf<BYTES> {
    const DECL: [u8; DECL_LEN] = {
        assert!(
            kwasm_abi::ring::valid_size(BYTES),
            "RingBuf: a power of two from 64 bytes to 1 MiB"
        );
        MapDecl::ring_buf(BYTES).encode()
    };
}

/// Concatenates declaration records into the `kwasm.maps` section's
/// contents (`N` is `16 * recs.len()`).
pub const fn concat<const N: usize>(recs: &[[u8; DECL_LEN]]) -> [u8; N] {
    assert!(
        N == recs.len() * DECL_LEN,
        "kwasm.maps: N must be 16 * number of maps"
    );
    assert!(
        recs.len() <= MAX_MAPS,
        "kwasm.maps: more than MAX_MAPS maps"
    );
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = recs[i / DECL_LEN][i % DECL_LEN];
        i += 1;
    }
    out
}

/// Declares the program's maps with their types, numbered in order, and
/// writes the `kwasm.maps` section (v2 records). Use it once per program,
/// instead of [`crate::maps!`].
///
/// ```ignore
/// use kwasm_guest::maps::{Array, HashMap, PerCpuArray, RingBuf};
/// kwasm_guest::declare_maps! {
///     static COUNTERS: Array<4>;
///     static PER_CPU: PerCpuArray<1>;
///     static FLOWS: HashMap<[u8; 9], [u64; 2], 4096>;
///     static EVENTS: RingBuf<65536>;
/// }
/// FLOWS.add(&key, &[1, len as u64]);
/// ```
#[macro_export]
macro_rules! declare_maps {
    ($($(#[$m:meta])* $vis:vis static $name:ident : $ty:ty;)+) => {
        $crate::declare_maps!(@at 0u32; $($(#[$m])* $vis static $name : $ty;)+);
        $crate::declare_maps!(@section "kwasm.maps", $($ty),+);
    };
    (@at $i:expr; $(#[$m:meta])* $vis:vis static $name:ident : $ty:ty; $($rest:tt)*) => {
        $(#[$m])* $vis static $name: $ty = <$ty>::at($i);
        $crate::declare_maps!(@at $i + 1; $($rest)*);
    };
    (@at $i:expr;) => {};
    (@section $section:literal, $($ty:ty),+) => {
        const _: () = {
            assert!(
                $crate::abi::str_eq($section, $crate::abi::MAPS_SECTION),
                "declare_maps!: the section name is not kwasm_abi::host::MAPS_SECTION"
            );
            const RECS: &[[u8; 16]] = &[$(<$ty as $crate::maps::MapType>::DECL),+];
            const LEN: usize = RECS.len() * 16;
            #[used]
            #[unsafe(link_section = $section)]
            static KWASM_MAPS: [u8; LEN] = $crate::maps::concat::<LEN>(RECS);
        };
    };
}

#[cfg(test)]
mod typed_tests {
    use super::*;
    use crate::sys::mock;

    crate::declare_maps! {
        static COUNTS: Array<2>;
        static PER_CPU: PerCpuArray<1>;
        static FLOWS: HashMap<[u8; 3], [u64; 2], 2>;
        static EVENTS: RingBuf<4096>;
    }

    #[test]
    fn typed_maps_reach_the_host() {
        mock::reset(&[]);
        mock::hash(2, 3, 16, 2);
        COUNTS.add(1, 5);
        PER_CPU.set(0, 9);
        assert_eq!((COUNTS.get(1), PER_CPU.get(0)), (5, 9));
        FLOWS.add(&[1, 2, 3], &[1, 40]).unwrap();
        FLOWS.add(&[1, 2, 3], &[1, 60]).unwrap();
        assert_eq!(FLOWS.get(&[1, 2, 3]), Some([2, 100]));
        FLOWS.insert(&[4, 5, 6], &[0, 0]).unwrap();
        assert_eq!(
            FLOWS.insert_new(&[4, 5, 6], &[1, 1]),
            Err(MapStatus::Exists)
        );
        assert_eq!(FLOWS.insert(&[7, 8, 9], &[0, 0]), Err(MapStatus::Full));
        FLOWS.remove(&[4, 5, 6]).unwrap();
        assert_eq!(FLOWS.get(&[4, 5, 6]), None);
        assert_eq!(FLOWS.remove(&[4, 5, 6]), Err(MapStatus::NotFound));
        EVENTS.output(b"hello").unwrap();
        assert_eq!(mock::with(|h| h.events.clone()), [(3, b"hello".to_vec())]);
    }

    #[test]
    fn the_section_holds_v2_records_in_order() {
        let recs = [
            <Array<2> as MapType>::DECL,
            <PerCpuArray<1> as MapType>::DECL,
            <HashMap<[u8; 3], [u64; 2], 2> as MapType>::DECL,
            <RingBuf<4096> as MapType>::DECL,
        ];
        let sec = concat::<64>(&recs);
        let mut decls = std::vec::Vec::new();
        kwasm_abi::maps::parse_decls(&sec, |d| decls.push(d)).unwrap();
        assert_eq!(
            decls,
            [
                MapDecl::array(2),
                MapDecl::per_cpu_array(1),
                MapDecl::hash(3, 16, 2),
                MapDecl::ring_buf(4096)
            ]
        );
    }
}
