//! Maps: their kinds and how a program declares them.
//!
//! A program declares its maps in the `kwasm.maps` custom section
//! ([`MAPS_SECTION`]): a sequence of records, map `i` being the `i`-th. Two
//! record forms may be mixed, since the linker concatenates the section
//! from every object it links:
//!
//! - **v1**: one little-endian `u32` entry count: an [`MapKind::Array`] of
//!   that many `u64`. The original format, still accepted unchanged.
//! - **v2**: [`DECL_LEN`] bytes, four little-endian `u32`: `DECL_TAG | kind`,
//!   key size, value size and entry count. The tag's value is above
//!   [`MAX_MAP_ENTRIES`], so a reader tells the two forms apart by their
//!   first word.
//!
//! The compiler turns the declarations into the metadata's map records
//! (`meta::MapRec`), which both runtimes validate again ([`MapDecl::check`])
//! and allocate when the program loads, never on the packet path.
//!
//! Kinds and their semantics (the same in `kwasm run` and `kwasm.ko`):
//! - [`MapKind::Array`]: `entries` `u64` slots shared by every CPU;
//!   `map_add` is an atomic add.
//! - [`MapKind::PerCpuArray`]: `entries` `u64` slots per CPU. Wasm reads and
//!   writes its own CPU's slots with plain loads and stores (no atomic
//!   read-modify-write on the packet path); userspace reads one CPU's slots
//!   or their sum. The userspace runner has one CPU.
//!
//! - [`MapKind::Hash`]: up to `entries` keys of `key_size` bytes
//!   (1 to [`MAX_KEY_SIZE`]), each with a value of `value_size` bytes (1
//!   to [`MAX_VALUE_SIZE`]), in a fixed table ([`super::hash`]) allocated
//!   when the program loads. Wasm and userspace look up, insert, update
//!   and delete under the map's lock; an insert into a full map fails with
//!   [`MapStatus::Full`].
//!
//! - [`MapKind::RingBuf`]: a ring of `entries` bytes (a power of two,
//!   [`ring::MIN_RING_BYTES`] to [`ring::MAX_RING_BYTES`]) of
//!   variable-size records that wasm writes with `event_output` and
//!   userspace drains ([`super::ring`]); key and value sizes are 0.
//!
//! Both array kinds have 4-byte keys (the index) and 8-byte values.
//!
//! Every kind has a lock ([`MapLock`]) that the runtime provides: in the
//! kernel a spinlock taken with bottom halves off, so that wasm in softirq
//! on every CPU and userspace's ioctls exclude each other. Arrays do not
//! use it (their slots are single atomics); hash maps take it around every
//! operation, and nothing that can trap runs while it is held.

use core::ops::{Deref, Range};
use core::sync::atomic::{AtomicU64, Ordering};

use super::hash::{self, HashTable, Scan, Update};
pub use super::hash::{MAX_KEY_SIZE, MAX_VALUE_SIZE, MapStatus};
use super::ring::{self, Ring};

/// Name of the custom section that declares a program's maps.
pub const MAPS_SECTION: &str = "kwasm.maps";
/// Upper bounds on maps, so that the kernel can bound its allocation.
pub const MAX_MAPS: u32 = 16;
pub const MAX_MAP_ENTRIES: u32 = 1 << 20;
/// Most u64 slots one map may take with its per-CPU copies (64 MiB): a
/// per-CPU map of [`MAX_MAP_ENTRIES`] fits on 8 CPUs, smaller ones on more.
pub const MAX_MAP_SLOTS: usize = 1 << 23;

/// First word of a v2 declaration record, or'ed with the kind.
pub const DECL_TAG: u32 = 0x4b4d_0000;
// No v1 record (an entry count) can be mistaken for a v2 one.
const _: () = assert!(DECL_TAG > MAX_MAP_ENTRIES);
/// Bytes of a v2 declaration record.
pub const DECL_LEN: usize = 16;
/// Bytes of a v1 declaration record.
pub const DECL_V1_LEN: usize = 4;

/// The kind of a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MapKind {
    Array = 0,
    PerCpuArray = 1,
    Hash = 2,
    RingBuf = 3,
}

impl MapKind {
    /// Every kind, in numeric order.
    pub const ALL: [MapKind; 4] = [
        MapKind::Array,
        MapKind::PerCpuArray,
        MapKind::Hash,
        MapKind::RingBuf,
    ];

    /// The kind of a name ([`Self::name`]).
    pub fn from_name(name: &str) -> Option<MapKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn from_u32(v: u32) -> Option<MapKind> {
        match v {
            0 => Some(MapKind::Array),
            1 => Some(MapKind::PerCpuArray),
            2 => Some(MapKind::Hash),
            3 => Some(MapKind::RingBuf),
            _ => None,
        }
    }

    /// The name used in declarations, listings and errors.
    pub fn name(self) -> &'static str {
        match self {
            MapKind::Array => "array",
            MapKind::PerCpuArray => "per_cpu_array",
            MapKind::Hash => "hash",
            MapKind::RingBuf => "ring_buf",
        }
    }

    /// Whether each CPU has its own copy of the values.
    pub fn per_cpu(self) -> bool {
        matches!(self, MapKind::PerCpuArray)
    }

    /// Whether keys are `u32` indices of `u64` slots.
    pub fn is_array(self) -> bool {
        matches!(self, MapKind::Array | MapKind::PerCpuArray)
    }
}

/// One declared map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapDecl {
    pub kind: MapKind,
    pub key_size: u32,
    pub value_size: u32,
    pub entries: u32,
}

impl core::fmt::Display for MapDecl {
    /// `per_cpu_array(2)`: the kind and entry count (an array's sizes
    /// follow from its kind); `hash(16, 4 -> 8)` with key and value sizes.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.kind {
            MapKind::Hash => write!(
                f,
                "hash({}, {} -> {})",
                self.entries, self.key_size, self.value_size
            ),
            MapKind::RingBuf => write!(f, "ring_buf({} bytes)", self.entries),
            k => write!(f, "{}({})", k.name(), self.entries),
        }
    }
}

/// Why a map declaration or record is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// More than [`MAX_MAPS`] maps.
    TooMany,
    /// The section ends inside a record.
    Truncated { map: u32 },
    /// A kind this format does not know.
    UnknownKind { map: u32, kind: u32 },
    /// Key or value size not what the kind requires.
    BadSizes {
        map: u32,
        kind: MapKind,
        key_size: u32,
        value_size: u32,
    },
    /// More than [`MAX_MAP_ENTRIES`] entries (or none, in a v2 record).
    BadEntries { map: u32, entries: u32 },
    /// A ring size that is not a power of two in range.
    BadRingSize { map: u32, bytes: u32 },
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            MapError::TooMany => write!(f, "more than {MAX_MAPS} maps"),
            MapError::Truncated { map } => write!(f, "map {map}: the record is truncated"),
            MapError::UnknownKind { map, kind } => write!(f, "map {map}: unknown kind {kind}"),
            MapError::BadSizes {
                map,
                kind: MapKind::Hash,
                key_size,
                value_size,
            } => write!(
                f,
                "map {map}: a hash has keys of 1 to {MAX_KEY_SIZE} bytes and values of 1 to \
                 {MAX_VALUE_SIZE}, not {key_size} and {value_size}"
            ),
            MapError::BadSizes {
                map,
                kind: MapKind::RingBuf,
                key_size,
                value_size,
            } => write!(
                f,
                "map {map}: a ring_buf has no keys or values (sizes 0), not {key_size} and {value_size}"
            ),
            MapError::BadSizes {
                map,
                kind,
                key_size,
                value_size,
            } => write!(
                f,
                "map {map}: a {} has 4-byte keys and 8-byte values, not {key_size} and {value_size}",
                kind.name()
            ),
            MapError::BadRingSize { map, bytes } => write!(
                f,
                "map {map}: a ring_buf of {bytes} bytes: it must be a power of two from {} to {}",
                ring::MIN_RING_BYTES,
                ring::MAX_RING_BYTES
            ),
            MapError::BadEntries { map, entries } => write!(
                f,
                "map {map}: {entries} entries, it must have 1 to {MAX_MAP_ENTRIES}"
            ),
        }
    }
}

impl MapDecl {
    /// An array of `entries` u64 shared by every CPU.
    pub const fn array(entries: u32) -> MapDecl {
        MapDecl {
            kind: MapKind::Array,
            key_size: 4,
            value_size: 8,
            entries,
        }
    }

    /// An array of `entries` u64 per CPU.
    pub const fn per_cpu_array(entries: u32) -> MapDecl {
        MapDecl {
            kind: MapKind::PerCpuArray,
            key_size: 4,
            value_size: 8,
            entries,
        }
    }

    /// A ring of `bytes` bytes of records.
    pub const fn ring_buf(bytes: u32) -> MapDecl {
        MapDecl {
            kind: MapKind::RingBuf,
            key_size: 0,
            value_size: 0,
            entries: bytes,
        }
    }

    /// A hash map of up to `entries` keys.
    pub const fn hash(key_size: u32, value_size: u32, entries: u32) -> MapDecl {
        MapDecl {
            kind: MapKind::Hash,
            key_size,
            value_size,
            entries,
        }
    }

    /// Checks the sizes and entry count against the kind (map number `map`,
    /// for the error). A v1 array of 0 entries stays allowed, as it always
    /// was; `allow_empty` says whether this record may be one.
    pub fn check(&self, map: u32, allow_empty: bool) -> Result<(), MapError> {
        let sizes_ok = match self.kind {
            MapKind::Hash => {
                (1..=MAX_KEY_SIZE).contains(&self.key_size)
                    && (1..=MAX_VALUE_SIZE).contains(&self.value_size)
            }
            MapKind::RingBuf => (self.key_size, self.value_size) == (0, 0),
            _ => (self.key_size, self.value_size) == (4, 8),
        };
        if !sizes_ok {
            return Err(MapError::BadSizes {
                map,
                kind: self.kind,
                key_size: self.key_size,
                value_size: self.value_size,
            });
        }
        if self.kind == MapKind::RingBuf && !ring::valid_size(self.entries) {
            return Err(MapError::BadRingSize {
                map,
                bytes: self.entries,
            });
        }
        if self.entries > MAX_MAP_ENTRIES || (self.entries == 0 && !allow_empty) {
            return Err(MapError::BadEntries {
                map,
                entries: self.entries,
            });
        }
        Ok(())
    }

    /// The v2 record of this declaration.
    pub const fn encode(&self) -> [u8; DECL_LEN] {
        let words = [
            DECL_TAG | self.kind as u32,
            self.key_size,
            self.value_size,
            self.entries,
        ];
        let mut out = [0u8; DECL_LEN];
        let mut i = 0;
        while i < DECL_LEN {
            out[i] = words[i / 4].to_le_bytes()[i % 4];
            i += 1;
        }
        out
    }
}

/// "Every CPU": the sum of a per-CPU map's values when reading, every copy
/// when writing (`ioctl::MapReq::cpu`).
pub const ALL_CPUS: u32 = u32::MAX;

/// Slots a map of `decl` needs on a machine of `ncpus` CPUs: `entries`, per
/// CPU for a per-CPU kind; a hash map's table ([`hash::storage_words`]).
/// `None` beyond [`MAX_MAP_SLOTS`].
pub fn storage_len(decl: &MapDecl, ncpus: u32) -> Option<usize> {
    match decl.kind {
        MapKind::Hash => {
            return Some(hash::storage_words(
                decl.key_size,
                decl.value_size,
                decl.entries,
            ))
            .filter(|&n| n <= MAX_MAP_SLOTS);
        }
        MapKind::RingBuf => return Some(ring::storage_words(decl.entries)),
        _ => {}
    }
    let copies = if decl.kind.per_cpu() { ncpus.max(1) } else { 1 };
    (decl.entries as usize)
        .checked_mul(copies as usize)
        .filter(|&n| n <= MAX_MAP_SLOTS)
}

/// A map's lock, as the runtime provides it. `locked` runs `f` with the
/// lock held: in the kernel, a spinlock taken with bottom halves off, so
/// that it excludes wasm on every CPU (softirq) and userspace (ioctls).
/// `f` never traps and never sleeps.
pub trait MapLock: Sync {
    fn locked(&self, f: &mut dyn FnMut());
}

/// A map as a runtime owns it: its declaration, an allocation `S` of
/// [`storage_len`] zeroed slots (a `Box<[AtomicU64]>` in the runner, a
/// `VVec<AtomicU64>` in the kernel) and its lock `L`.
pub struct MapStore<S, L> {
    decl: MapDecl,
    slots: S,
    lock: L,
}

impl<S: Deref<Target = [AtomicU64]>, L: MapLock> MapStore<S, L> {
    /// `slots` holds `storage_len(decl, ncpus)` zeroed slots for the
    /// runtime's `ncpus`; `seed` keys a hash map's hash (random, so that
    /// no sender can predict which keys collide).
    pub fn new(decl: &MapDecl, slots: S, lock: L, seed: [u64; 2]) -> MapStore<S, L> {
        let m = MapStore {
            decl: *decl,
            slots,
            lock,
        };
        if let Some(t) = m.slots().table() {
            t.seed(seed[0], seed[1]);
        }
        m
    }

    pub fn slots(&self) -> MapSlots<'_> {
        MapSlots {
            kind: self.decl.kind,
            entries: self.decl.entries,
            key_size: self.decl.key_size,
            value_size: self.decl.value_size,
            slots: &self.slots,
            lock: &self.lock,
        }
    }
}

/// A map's slots: `entries` of them, or for a per-CPU kind one run of
/// `entries` per CPU, CPU `c`'s at `[c * entries, (c + 1) * entries)`; or
/// a hash map's table. With the map's lock.
#[derive(Clone, Copy)]
pub struct MapSlots<'a> {
    pub kind: MapKind,
    pub entries: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub slots: &'a [AtomicU64],
    pub lock: &'a dyn MapLock,
}

impl<'a> MapSlots<'a> {
    /// The slot that wasm running on CPU `cpu` uses for entry `idx` of an
    /// array.
    pub fn slot(&self, cpu: u32, idx: u32) -> Option<&'a AtomicU64> {
        if idx >= self.entries || !self.kind.is_array() {
            return None;
        }
        let base = if self.kind.per_cpu() {
            cpu as usize * self.entries as usize
        } else {
            0
        };
        self.slots.get(base + idx as usize)
    }

    /// Number of copies of each entry: the CPUs for a per-CPU kind, else 1.
    pub fn copies(&self) -> u32 {
        match self.entries {
            n if n > 0 && self.kind.per_cpu() => (self.slots.len() / n as usize) as u32,
            _ => 1,
        }
    }

    /// A hash map's table (its methods need the lock: see [`Self::with`]).
    fn table(&self) -> Option<HashTable<'a>> {
        (self.kind == MapKind::Hash)
            .then(|| HashTable::new(self.key_size, self.value_size, self.entries, self.slots))
    }

    /// Runs `f` on `view` (a hash table or a ring of this map) under the
    /// map's lock; `Invalid` when the map is not of that kind (`None`).
    fn locked<V, T>(
        &self,
        view: Option<V>,
        f: impl FnOnce(V) -> Result<T, MapStatus>,
    ) -> Result<T, MapStatus> {
        let v = view.ok_or(MapStatus::Invalid)?;
        let mut call = Some((f, v));
        let mut out = Err(MapStatus::Invalid);
        self.lock.locked(&mut || {
            if let Some((f, v)) = call.take() {
                out = f(v);
            }
        });
        out
    }

    /// Runs `f` on a hash map's table under the map's lock.
    fn with<T>(
        &self,
        f: impl FnOnce(HashTable<'a>) -> Result<T, MapStatus>,
    ) -> Result<T, MapStatus> {
        self.locked(self.table(), f)
    }

    /// Runs `f` on a ring under the map's lock.
    fn with_ring<T>(
        &self,
        f: impl FnOnce(Ring<'a>) -> Result<T, MapStatus>,
    ) -> Result<T, MapStatus> {
        let ring = (self.kind == MapKind::RingBuf).then(|| Ring::new(self.slots));
        self.locked(ring, f)
    }

    /// Live keys of a hash map, bytes pending in a ring (entries of an
    /// array).
    pub fn used(&self) -> u32 {
        if self.kind == MapKind::RingBuf {
            return self.with_ring(|r| Ok(r.pending() as u32)).unwrap_or(0);
        }
        self.with(|t| Ok(t.len())).unwrap_or(self.entries)
    }

    /// `event_output` as wasm on CPU `cpu` runs it: appends a record of
    /// `data`, or drops and counts it (`Full`) when it does not fit.
    pub fn output(&self, cpu: u32, time_ns: u64, data: &[u8]) -> Result<(), MapStatus> {
        self.with_ring(|r| r.write(cpu, time_ns, data))
    }

    /// For userspace: copies whole records into `out` without consuming
    /// them (`ring::Ring::peek`): bytes, records, and the drop count.
    pub fn ring_peek(&self, out: &mut [u8]) -> Result<(usize, u32, u64), MapStatus> {
        self.with_ring(|r| {
            let (n, k) = r.peek(out);
            Ok((n, k, r.dropped()))
        })
    }

    /// For userspace: consumes what [`Self::ring_peek`] returned.
    pub fn ring_consume(&self, bytes: usize) -> Result<(), MapStatus> {
        self.with_ring(|r| {
            r.consume(bytes);
            Ok(())
        })
    }

    /// `map_lookup` as wasm on CPU `cpu` runs it: copies the value of
    /// `key` (the map's key size; an array's little-endian `u32` index)
    /// into `value` (the map's value size).
    pub fn lookup(&self, cpu: u32, key: &[u8], value: &mut [u8]) -> Result<(), MapStatus> {
        if self.kind.is_array() {
            let v = self.slot(cpu, index(key)?).ok_or(MapStatus::NotFound)?;
            let out: &mut [u8; 8] = value.try_into().map_err(|_| MapStatus::Invalid)?;
            *out = v.load(Ordering::Relaxed).to_le_bytes();
            return Ok(());
        }
        self.with(|t| t.lookup(key, value))
    }

    /// `map_update` with `flags` (`hash::UPDATE_*`) as wasm on CPU `cpu`
    /// runs it. Array entries always exist: `UPDATE_NOEXIST` fails with
    /// `Exists`, and `UPDATE_ADD` is [`Self::add`].
    pub fn update(&self, cpu: u32, key: &[u8], value: &[u8], flags: u32) -> Result<(), MapStatus> {
        let how = Update::from_flags(flags).ok_or(MapStatus::Invalid)?;
        if self.kind.is_array() {
            let idx = index(key)?;
            let v = u64::from_le_bytes(value.try_into().map_err(|_| MapStatus::Invalid)?);
            self.slot(cpu, idx).ok_or(MapStatus::NotFound)?;
            return match how {
                Update::NoExist => Err(MapStatus::Exists),
                Update::Add => self.add(cpu, idx, v).map(drop).ok_or(MapStatus::NotFound),
                _ => self.write(idx, cpu, v).ok_or(MapStatus::NotFound),
            };
        }
        self.with(|t| t.update(key, value, how))
    }

    /// `map_delete`: removes `key` from a hash map. Array entries cannot be
    /// deleted (`Invalid`).
    pub fn delete(&self, key: &[u8]) -> Result<(), MapStatus> {
        self.with(|t| t.delete(key))
    }

    /// For userspace's dump: the first entry of a hash map at or after
    /// bucket `from`, copied into `key` and `value`, scanning at most
    /// `limit` buckets under the lock.
    pub fn next(
        &self,
        from: u32,
        limit: u32,
        key: &mut [u8],
        value: &mut [u8],
    ) -> Result<Scan, MapStatus> {
        self.with(|t| Ok(t.next(from, limit, key, value)))
    }

    /// The copies a userspace request for `cpu` covers: CPU `cpu`'s, or
    /// with [`ALL_CPUS`] every one. `None` for a CPU out of range.
    pub fn cpus(&self, cpu: u32) -> Option<Range<u32>> {
        match cpu {
            ALL_CPUS => Some(0..self.copies()),
            c if c < self.copies() => Some(c..c + 1),
            _ => None,
        }
    }

    /// Entry `idx` as userspace reads it: CPU `cpu`'s copy, or with
    /// [`ALL_CPUS`] the (wrapping) sum of every copy. `None` for an index
    /// or CPU out of range.
    pub fn read(&self, idx: u32, cpu: u32) -> Option<u64> {
        self.cpus(cpu)?.try_fold(0u64, |sum, c| {
            Some(sum.wrapping_add(self.slot(c, idx)?.load(Ordering::Relaxed)))
        })
    }

    /// Stores `v` at entry `idx` for userspace: in CPU `cpu`'s copy, or with
    /// [`ALL_CPUS`] in every copy. `None` for an index or CPU out of range
    /// (before any store: the index is the same for every copy).
    pub fn write(&self, idx: u32, cpu: u32, v: u64) -> Option<()> {
        for c in self.cpus(cpu)? {
            self.slot(c, idx)?.store(v, Ordering::Relaxed);
        }
        Some(())
    }

    /// What `map_add(idx, delta)` does for wasm on CPU `cpu`: an atomic add
    /// on a shared array; on a per-CPU one a plain load and store, since
    /// only this CPU's wasm writes its copy (userspace writes race with it
    /// as they would with any store). Returns the new value.
    pub fn add(&self, cpu: u32, idx: u32, delta: u64) -> Option<u64> {
        let s = self.slot(cpu, idx)?;
        Some(if self.kind.per_cpu() {
            let v = s.load(Ordering::Relaxed).wrapping_add(delta);
            s.store(v, Ordering::Relaxed);
            v
        } else {
            s.fetch_add(delta, Ordering::Relaxed).wrapping_add(delta)
        })
    }
}

/// An array key: a little-endian `u32` index.
fn index(key: &[u8]) -> Result<u32, MapStatus> {
    Ok(u32::from_le_bytes(
        key.try_into().map_err(|_| MapStatus::Invalid)?,
    ))
}

fn word(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Parses the contents of a `kwasm.maps` section, calling `each` with every
/// declaration in map order, checked. Never allocates.
pub fn parse_decls(data: &[u8], mut each: impl FnMut(MapDecl)) -> Result<(), MapError> {
    let mut at = 0;
    let mut map = 0u32;
    while at < data.len() {
        if map >= MAX_MAPS {
            return Err(MapError::TooMany);
        }
        let first = word(data, at).ok_or(MapError::Truncated { map })?;
        let (decl, v1) = if first & 0xffff_0000 == DECL_TAG {
            let start = at;
            let w = |i: usize| word(data, start + 4 * i).ok_or(MapError::Truncated { map });
            let kind = first & 0xffff;
            let kind = MapKind::from_u32(kind).ok_or(MapError::UnknownKind { map, kind })?;
            let d = MapDecl {
                kind,
                key_size: w(1)?,
                value_size: w(2)?,
                entries: w(3)?,
            };
            at += DECL_LEN;
            (d, false)
        } else {
            at += DECL_V1_LEN;
            (MapDecl::array(first), true)
        };
        decl.check(map, v1)?;
        each(decl);
        map += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// The lock of a test that runs on one thread.
    struct NoLock;
    impl MapLock for NoLock {
        fn locked(&self, f: &mut dyn FnMut()) {
            f()
        }
    }

    fn parse(data: &[u8]) -> Result<Vec<MapDecl>, MapError> {
        let mut v = Vec::new();
        parse_decls(data, |d| v.push(d))?;
        Ok(v)
    }

    #[test]
    fn v1_and_v2_records_mix() {
        let mut data = Vec::new();
        data.extend_from_slice(&2u32.to_le_bytes());
        data.extend_from_slice(&MapDecl::per_cpu_array(16).encode());
        data.extend_from_slice(&0u32.to_le_bytes());
        data.extend_from_slice(&MapDecl::array(3).encode());
        assert_eq!(
            parse(&data).unwrap(),
            [
                MapDecl::array(2),
                MapDecl::per_cpu_array(16),
                MapDecl::array(0),
                MapDecl::array(3)
            ]
        );
    }

    #[test]
    fn refuses_bad_records() {
        let rec =
            |words: [u32; 4]| -> Vec<u8> { words.iter().flat_map(|w| w.to_le_bytes()).collect() };
        assert_eq!(
            parse(&rec([DECL_TAG | 7, 4, 8, 1])),
            Err(MapError::UnknownKind { map: 0, kind: 7 })
        );
        assert!(matches!(
            parse(&rec([DECL_TAG | 1, 8, 8, 1])),
            Err(MapError::BadSizes { .. })
        ));
        assert_eq!(
            parse(&rec([DECL_TAG | 1, 4, 8, 0])),
            Err(MapError::BadEntries { map: 0, entries: 0 })
        );
        assert_eq!(
            parse(&rec([DECL_TAG, 4, 8, MAX_MAP_ENTRIES + 1])),
            Err(MapError::BadEntries {
                map: 0,
                entries: MAX_MAP_ENTRIES + 1
            })
        );
        assert_eq!(
            parse(&(MAX_MAP_ENTRIES + 1).to_le_bytes()),
            Err(MapError::BadEntries {
                map: 0,
                entries: MAX_MAP_ENTRIES + 1
            })
        );
        assert_eq!(
            parse(&MapDecl::array(1).encode()[..12]),
            Err(MapError::Truncated { map: 0 })
        );
        assert_eq!(parse(&[1, 0]), Err(MapError::Truncated { map: 0 }));
        let many: Vec<u8> = (0..=MAX_MAPS).flat_map(|_| 1u32.to_le_bytes()).collect();
        assert_eq!(parse(&many), Err(MapError::TooMany));
    }

    #[test]
    fn per_cpu_slots_are_separate_and_sum() {
        let slots: Vec<AtomicU64> = (0..6).map(|_| AtomicU64::new(0)).collect();
        let d = MapDecl::per_cpu_array(3);
        assert_eq!(storage_len(&d, 2), Some(6));
        let big = MapDecl::per_cpu_array(MAX_MAP_ENTRIES);
        assert_eq!(storage_len(&big, 8), Some(MAX_MAP_SLOTS));
        assert_eq!(storage_len(&big, 9), None);
        let m = MapStore::new(&d, &slots[..], NoLock, [0; 2]);
        let m = m.slots();
        assert_eq!(m.copies(), 2);
        assert_eq!(m.add(0, 1, 5), Some(5));
        assert_eq!(m.add(1, 1, 7), Some(7));
        assert_eq!(m.add(1, 1, 1), Some(8));
        assert_eq!(m.read(1, 0), Some(5));
        assert_eq!(m.read(1, 1), Some(8));
        assert_eq!(m.read(1, ALL_CPUS), Some(13));
        assert_eq!(m.read(1, 2), None);
        assert_eq!(m.read(3, ALL_CPUS), None);
        assert!(m.add(0, 3, 1).is_none());
        m.write(1, ALL_CPUS, 2).unwrap();
        assert_eq!(m.read(1, ALL_CPUS), Some(4));
        m.write(2, 1, 9).unwrap();
        assert_eq!((m.read(2, 0), m.read(2, 1)), (Some(0), Some(9)));
        assert!(m.write(0, 2, 1).is_none());
        // A shared array has one copy, whatever the CPU.
        let a = MapStore::new(&MapDecl::array(6), &slots[..], NoLock, [0; 2]);
        let a = a.slots();
        assert_eq!(storage_len(&MapDecl::array(6), 2), Some(6));
        assert_eq!(a.copies(), 1);
        assert_eq!(
            a.slot(1, 0).map(|s| s as *const _),
            a.slot(0, 0).map(|s| s as *const _)
        );
        assert_eq!(a.read(1, ALL_CPUS), a.read(1, 0));
    }

    #[test]
    fn element_operations_on_every_kind() {
        let slots: Vec<AtomicU64> = (0..64).map(|_| AtomicU64::new(0)).collect();
        let a = MapStore::new(&MapDecl::per_cpu_array(2), &slots[..4], NoLock, [0; 2]);
        let a = a.slots();
        let mut v = [0u8; 8];
        a.update(
            1,
            &1u32.to_le_bytes(),
            &5u64.to_le_bytes(),
            hash::UPDATE_ADD,
        )
        .unwrap();
        a.update(
            1,
            &1u32.to_le_bytes(),
            &5u64.to_le_bytes(),
            hash::UPDATE_ADD,
        )
        .unwrap();
        a.lookup(1, &1u32.to_le_bytes(), &mut v).unwrap();
        assert_eq!(u64::from_le_bytes(v), 10);
        assert_eq!(a.read(1, 0), Some(0), "CPU 0's copy is untouched");
        assert_eq!(
            a.lookup(0, &2u32.to_le_bytes(), &mut v),
            Err(MapStatus::NotFound)
        );
        assert_eq!(
            a.update(0, &0u32.to_le_bytes(), &v, hash::UPDATE_NOEXIST),
            Err(MapStatus::Exists)
        );
        assert_eq!(
            a.update(0, &0u32.to_le_bytes(), &v, 9),
            Err(MapStatus::Invalid)
        );
        assert_eq!(a.delete(&0u32.to_le_bytes()), Err(MapStatus::Invalid));

        let d = MapDecl::hash(2, 8, 3);
        let n = storage_len(&d, 4).unwrap();
        assert_eq!(
            n,
            hash::HEADER_WORDS + 8 * 3,
            "8 buckets of tag, key and value"
        );
        let h = MapStore::new(&d, &slots[..n], NoLock, [3, 4]);
        let h = h.slots();
        assert_eq!((h.copies(), h.used()), (1, 0));
        for k in [1u16, 2, 3] {
            h.update(0, &k.to_le_bytes(), &7u64.to_le_bytes(), hash::UPDATE_ANY)
                .unwrap();
        }
        assert_eq!(
            h.update(0, &4u16.to_le_bytes(), &v, hash::UPDATE_ANY),
            Err(MapStatus::Full)
        );
        assert_eq!(h.used(), 3);
        h.delete(&2u16.to_le_bytes()).unwrap();
        assert_eq!(
            h.lookup(0, &2u16.to_le_bytes(), &mut v),
            Err(MapStatus::NotFound)
        );
        assert!(h.slot(0, 0).is_none(), "no array view of a hash map");
        assert_eq!(h.read(0, ALL_CPUS), None);
    }

    #[test]
    fn hash_declarations() {
        let d = MapDecl::hash(16, 24, 1000);
        assert_eq!(parse(&d.encode()).unwrap(), [d]);
        assert_eq!(std::format!("{d}"), "hash(1000, 16 -> 24)");
        for (k, v) in [(0, 8), (65, 8), (4, 0), (4, 257)] {
            assert!(matches!(
                parse(&MapDecl::hash(k, v, 4).encode()),
                Err(MapError::BadSizes { .. })
            ));
        }
        let big = MapDecl::hash(MAX_KEY_SIZE, MAX_VALUE_SIZE, MAX_MAP_ENTRIES);
        assert_eq!(storage_len(&big, 1), None, "beyond MAX_MAP_SLOTS");
    }
}
