//! Hash maps: a fixed-capacity table in a map's `u64` slots, the same code
//! in `kwasm.ko` and the userspace runner.
//!
//! Layout of the slots ([`storage_words`]): [`HEADER_WORDS`] header words
//! (the SipHash key, then the number of live entries), then
//! [`buckets`]`(entries)` buckets of [`bucket_words`] words each: a tag
//! word, the key and the value, each zero-padded to whole words. The tag is
//! 0 for an empty bucket, else the key's hash with the top bit set.
//!
//! Open addressing with linear probing and backward-shift deletion (no
//! tombstones, so a probe never runs longer than the cluster it starts
//! in). There are at least 3/2 as many buckets as entries, and an insert
//! into a map holding `entries` keys fails with [`MapStatus::Full`], so the
//! table is never more than 2/3 full. The hash is SipHash-2-4 keyed with a
//! random key per map: keys come from packets, and a known hash would let
//! a sender build one long cluster.
//!
//! Every operation runs under the map's lock (a spinlock with bottom halves
//! off in the kernel), which the caller of [`HashTable`]'s methods holds:
//! see `maps::MapSlots`. The words are atomics only so that the storage
//! type is the one arrays use; under the lock, relaxed accesses suffice.
//!
//! Nothing here indexes with `[]`: the kernel builds this file, and a
//! panic path would be a bug there. Every access is `get`, and a failed one
//! reads as an empty bucket or is ignored.

use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::Relaxed;

/// Largest key of a hash map, in bytes.
pub const MAX_KEY_SIZE: u32 = 64;
/// Largest value of a hash map, in bytes.
pub const MAX_VALUE_SIZE: u32 = 256;
/// Header words: SipHash key (2), live entries, one reserved.
pub const HEADER_WORDS: usize = 4;
const COUNT: usize = 2;
/// Set in the tag of every occupied bucket.
const OCCUPIED: u64 = 1 << 63;

/// Words that `bytes` bytes take, zero-padded.
pub const fn words(bytes: u32) -> usize {
    (bytes as usize).div_ceil(8)
}

/// Buckets of a map of `entries`: the power of two at or above 3/2 ×
/// `entries`, so the table is at most 2/3 full.
pub const fn buckets(entries: u32) -> usize {
    let e = entries as usize;
    (e + e.div_ceil(2)).next_power_of_two()
}

/// Words of one bucket: the tag, the key and the value.
pub const fn bucket_words(key_size: u32, value_size: u32) -> usize {
    1 + words(key_size) + words(value_size)
}

/// Words a hash map takes, header included.
pub const fn storage_words(key_size: u32, value_size: u32, entries: u32) -> usize {
    HEADER_WORDS + buckets(entries) * bucket_words(key_size, value_size)
}

/// What a map operation reports, as wasm's `map_lookup`, `map_update` and
/// `map_delete` return it (negative errno values, as eBPF helpers return)
/// and as `/dev/kwasm` fails (the positive errno).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum MapStatus {
    /// No such key (or, for an array, an index past the end).
    NotFound = -2,
    /// The map holds as many keys as it declared: the insert was refused.
    Full = -7,
    /// `UPDATE_NOEXIST` and the key is present.
    Exists = -17,
    /// No such map, flags it does not know, an operation the map's kind
    /// does not have, or `UPDATE_ADD` on a value that is not whole `u64`s.
    Invalid = -22,
}

impl MapStatus {
    /// The errno, positive.
    pub const fn errno(self) -> i32 {
        -(self as i32)
    }

    /// A host function's status for `r`: 0, or the status; the inverse of
    /// [`Self::check`].
    pub fn code(r: Result<(), MapStatus>) -> i32 {
        r.map_or_else(|s| s as i32, |()| 0)
    }

    /// What a host function's status means: `Ok` for 0, else the status
    /// (`Invalid` for a value no host returns).
    pub fn check(status: i32) -> Result<(), MapStatus> {
        const ALL: [MapStatus; 4] = [
            MapStatus::NotFound,
            MapStatus::Full,
            MapStatus::Exists,
            MapStatus::Invalid,
        ];
        match status {
            0 => Ok(()),
            s => Err(*ALL
                .iter()
                .find(|m| **m as i32 == s)
                .unwrap_or(&MapStatus::Invalid)),
        }
    }
}

/// `map_update` flags: insert or replace.
pub const UPDATE_ANY: u32 = 0;
/// Insert only: [`MapStatus::Exists`] when the key is present.
pub const UPDATE_NOEXIST: u32 = 1;
/// Replace only: [`MapStatus::NotFound`] when the key is absent.
pub const UPDATE_EXIST: u32 = 2;
/// Add the value, as little-endian `u64`s with wrapping, to the present
/// value, or insert it: a counter update that no other CPU can interleave.
pub const UPDATE_ADD: u32 = 4;

/// The update a flags word asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    Any,
    NoExist,
    Exist,
    Add,
}

impl Update {
    pub fn from_flags(flags: u32) -> Option<Update> {
        match flags {
            UPDATE_ANY => Some(Update::Any),
            UPDATE_NOEXIST => Some(Update::NoExist),
            UPDATE_EXIST => Some(Update::Exist),
            UPDATE_ADD => Some(Update::Add),
            _ => None,
        }
    }
}

/// The little-endian word of up to 8 bytes, zero-padded: how keys, values
/// and ring records sit in a map's `u64` slots (and SipHash's last block).
pub fn le_word(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(bytes) {
        *d = *s;
    }
    u64::from_le_bytes(b)
}

/// Writes word `w` little-endian into `out` (up to 8 bytes; fewer for the
/// last, short chunk of a byte string).
pub fn put_le_word(out: &mut [u8], w: u64) {
    for (d, s) in out.iter_mut().zip(w.to_le_bytes().iter()) {
        *d = *s;
    }
}

/// SipHash-2-4 of `data` under key `(k0, k1)`. Written here because the
/// kernel builds this crate's sources without dependencies; checked
/// against the reference vectors in the tests.
pub fn siphash(k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let m = le_word(c);
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let m = le_word(chunks.remainder()) | (data.len() as u64) << 56;
    v[3] ^= m;
    round(&mut v);
    round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// A hash map's slots. Its methods assume the caller holds the map's lock.
#[derive(Clone, Copy)]
pub struct HashTable<'a> {
    key_size: u32,
    value_size: u32,
    entries: u32,
    words: &'a [AtomicU64],
}

/// What [`HashTable::next`] found scanning from a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// The entry in this bucket was copied out.
    Entry(u32),
    /// Nothing up to this bucket (exclusive): scan again from it.
    More(u32),
    /// No entry from the cursor on.
    End,
}

impl<'a> HashTable<'a> {
    /// The table in `words`, which hold at least [`storage_words`] of the
    /// sizes (the runtime allocated them so).
    pub fn new(key_size: u32, value_size: u32, entries: u32, words: &'a [AtomicU64]) -> Self {
        HashTable {
            key_size,
            value_size,
            entries,
            words,
        }
    }

    /// Stores the SipHash key of a new map.
    pub fn seed(&self, k0: u64, k1: u64) {
        self.set(0, k0);
        self.set(1, k1);
    }

    fn get(&self, w: usize) -> u64 {
        self.words.get(w).map_or(0, |a| a.load(Relaxed))
    }

    fn set(&self, w: usize, v: u64) {
        if let Some(a) = self.words.get(w) {
            a.store(v, Relaxed);
        }
    }

    /// Live entries.
    pub fn len(&self) -> u32 {
        self.get(COUNT) as u32
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn mask(&self) -> usize {
        buckets(self.entries) - 1
    }

    fn bucket(&self, b: usize) -> usize {
        HEADER_WORDS + b * bucket_words(self.key_size, self.value_size)
    }

    fn tag(&self, b: usize) -> u64 {
        self.get(self.bucket(b))
    }

    fn hash(&self, key: &[u8]) -> u64 {
        siphash(self.get(0), self.get(1), key) | OCCUPIED
    }

    /// Copies `bytes` into the words from `w` on, zero-padding the last.
    fn put_bytes(&self, w: usize, bytes: &[u8]) {
        for (i, c) in bytes.chunks(8).enumerate() {
            self.set(w + i, le_word(c));
        }
    }

    /// Copies the words from `w` on into `out`.
    fn get_bytes(&self, w: usize, out: &mut [u8]) {
        for (i, c) in out.chunks_mut(8).enumerate() {
            put_le_word(c, self.get(w + i));
        }
    }

    fn key_is(&self, b: usize, key: &[u8]) -> bool {
        let w = self.bucket(b) + 1;
        key.chunks(8)
            .enumerate()
            .all(|(i, c)| self.get(w + i) == le_word(c))
    }

    fn value_word(&self, b: usize) -> usize {
        self.bucket(b) + 1 + words(self.key_size)
    }

    /// The bucket holding `key` (`Ok`), or the empty bucket where it would
    /// go (`Err`). `key` has the map's key size.
    fn find(&self, key: &[u8], tag: u64) -> Result<usize, usize> {
        let mask = self.mask();
        let mut b = tag as usize & mask;
        // The table is never full, so an empty bucket ends every probe;
        // the bound only guards against a corrupted count.
        for _ in 0..=mask {
            match self.tag(b) {
                0 => return Err(b),
                t if t == tag && self.key_is(b, key) => return Ok(b),
                _ => b = (b + 1) & mask,
            }
        }
        Err(usize::MAX)
    }

    /// Copies `key`'s value into `out` (the value size).
    pub fn lookup(&self, key: &[u8], out: &mut [u8]) -> Result<(), MapStatus> {
        let b = self
            .find(key, self.hash(key))
            .map_err(|_| MapStatus::NotFound)?;
        self.get_bytes(self.value_word(b), out);
        Ok(())
    }

    /// Inserts or updates `key` with `value` as `how` says.
    pub fn update(&self, key: &[u8], value: &[u8], how: Update) -> Result<(), MapStatus> {
        if how == Update::Add && !self.value_size.is_multiple_of(8) {
            return Err(MapStatus::Invalid);
        }
        let tag = self.hash(key);
        match (self.find(key, tag), how) {
            (Ok(_), Update::NoExist) => Err(MapStatus::Exists),
            (Ok(b), Update::Add) => {
                let w = self.value_word(b);
                for (i, c) in value.chunks_exact(8).enumerate() {
                    let d = le_word(c);
                    self.set(w + i, self.get(w + i).wrapping_add(d));
                }
                Ok(())
            }
            (Ok(b), _) => {
                self.put_bytes(self.value_word(b), value);
                Ok(())
            }
            (Err(_), Update::Exist) => Err(MapStatus::NotFound),
            (Err(b), _) => {
                if self.len() >= self.entries || b == usize::MAX {
                    return Err(MapStatus::Full);
                }
                let w = self.bucket(b);
                self.put_bytes(w + 1, key);
                self.put_bytes(self.value_word(b), value);
                self.set(w, tag);
                self.set(COUNT, self.get(COUNT) + 1);
                Ok(())
            }
        }
    }

    /// Removes `key`, shifting back the entries after it in its cluster
    /// that may move (those whose home bucket is not between the hole and
    /// themselves, cyclically).
    pub fn delete(&self, key: &[u8]) -> Result<(), MapStatus> {
        let mut hole = self
            .find(key, self.hash(key))
            .map_err(|_| MapStatus::NotFound)?;
        let mask = self.mask();
        let n = bucket_words(self.key_size, self.value_size);
        let mut b = hole;
        for _ in 0..mask {
            b = (b + 1) & mask;
            let t = self.tag(b);
            if t == 0 {
                break;
            }
            let home = t as usize & mask;
            // Distances back from `b`: the entry may fill the hole if its
            // home is at or before the hole.
            if (b.wrapping_sub(home) & mask) >= (b.wrapping_sub(hole) & mask) {
                let (from, to) = (self.bucket(b), self.bucket(hole));
                for i in 0..n {
                    self.set(to + i, self.get(from + i));
                }
                hole = b;
            }
        }
        let w = self.bucket(hole);
        for i in 0..n {
            self.set(w + i, 0);
        }
        self.set(COUNT, self.get(COUNT).saturating_sub(1));
        Ok(())
    }

    /// Copies out the first entry at or after bucket `from`, looking at no
    /// more than `limit` buckets (so a caller holding the lock holds it for
    /// a bounded time).
    pub fn next(&self, from: u32, limit: u32, key: &mut [u8], value: &mut [u8]) -> Scan {
        let total = buckets(self.entries);
        let end = (from as usize).saturating_add(limit as usize).min(total);
        for b in from as usize..end {
            if self.tag(b) != 0 {
                self.get_bytes(self.bucket(b) + 1, key);
                self.get_bytes(self.value_word(b), value);
                return Scan::Entry(b as u32);
            }
        }
        if end >= total {
            Scan::End
        } else {
            Scan::More(end as u32)
        }
    }

    /// Empties the table, keeping its SipHash key.
    pub fn clear(&self) {
        for w in COUNT..self.words.len() {
            self.set(w, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::collections::HashMap;
    use std::vec::Vec;

    #[test]
    fn statuses_round_trip() {
        for m in [
            MapStatus::NotFound,
            MapStatus::Full,
            MapStatus::Exists,
            MapStatus::Invalid,
        ] {
            assert_eq!(MapStatus::check(m as i32), Err(m));
        }
        assert_eq!(MapStatus::check(0), Ok(()));
        assert_eq!(MapStatus::code(Ok(())), 0);
        assert_eq!(MapStatus::code(Err(MapStatus::Full)), -7);
        assert_eq!(MapStatus::check(-99), Err(MapStatus::Invalid));
    }

    #[test]
    fn siphash_reference_vectors() {
        // From the SipHash paper's reference implementation (vectors.h):
        // key 00..0f, messages 00..(n-1).
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0..64).collect();
        assert_eq!(siphash(k0, k1, &msg[..0]), 0x726f_db47_dd0e_0e31);
        assert_eq!(siphash(k0, k1, &msg[..1]), 0x74f8_39c5_93dc_67fd);
        assert_eq!(siphash(k0, k1, &msg[..8]), 0x93f5_f579_9a93_2462);
        assert_eq!(siphash(k0, k1, &msg[..15]), 0xa129_ca61_49be_45e5);
    }

    fn table(key: u32, value: u32, entries: u32) -> (Vec<AtomicU64>, u32, u32, u32) {
        let n = storage_words(key, value, entries);
        (
            (0..n).map(|_| AtomicU64::new(0)).collect(),
            key,
            value,
            entries,
        )
    }

    #[test]
    fn insert_lookup_update_delete() {
        let (w, k, v, e) = table(6, 12, 4);
        let t = HashTable::new(k, v, e, &w);
        t.seed(1, 2);
        let key = |i: u8| [i, 0, 0, 0, 0, i];
        let val = |i: u8| [i; 12];
        for i in 1..=4 {
            t.update(&key(i), &val(i), Update::NoExist).unwrap();
        }
        assert_eq!(t.len(), 4);
        assert_eq!(
            t.update(&key(5), &val(5), Update::Any),
            Err(MapStatus::Full)
        );
        assert_eq!(
            t.update(&key(1), &val(9), Update::NoExist),
            Err(MapStatus::Exists)
        );
        t.update(&key(1), &val(9), Update::Exist).unwrap();
        let mut out = [0u8; 12];
        t.lookup(&key(1), &mut out).unwrap();
        assert_eq!(out, val(9));
        assert_eq!(
            t.update(&key(7), &val(7), Update::Exist),
            Err(MapStatus::NotFound)
        );
        assert_eq!(
            t.update(&key(1), &val(1), Update::Add),
            Err(MapStatus::Invalid)
        );
        t.delete(&key(2)).unwrap();
        assert_eq!(t.delete(&key(2)), Err(MapStatus::NotFound));
        assert_eq!(t.lookup(&key(2), &mut out), Err(MapStatus::NotFound));
        t.update(&key(5), &val(5), Update::Any).unwrap();
        for i in [1, 3, 4, 5] {
            t.lookup(&key(i), &mut out).unwrap();
        }
    }

    #[test]
    fn add_counts_in_u64_words() {
        let (w, k, v, e) = table(4, 16, 8);
        let t = HashTable::new(k, v, e, &w);
        let one = [1u64.to_le_bytes(), 100u64.to_le_bytes()].concat();
        for _ in 0..3 {
            t.update(&7u32.to_le_bytes(), &one, Update::Add).unwrap();
        }
        let mut out = [0u8; 16];
        t.lookup(&7u32.to_le_bytes(), &mut out).unwrap();
        assert_eq!(out[..8], 3u64.to_le_bytes());
        assert_eq!(out[8..], 300u64.to_le_bytes());
    }

    /// Random operations against std's HashMap, with a seed that makes
    /// clusters (a zero key, small table) and one that does not; every
    /// key stays findable through deletes that shift clusters back.
    #[test]
    fn agrees_with_a_std_hashmap() {
        for seed in [0u64, 0x1234_5678] {
            let (w, k, v, e) = table(3, 8, 48);
            let t = HashTable::new(k, v, e, &w);
            t.seed(seed, !seed);
            let mut model = HashMap::new();
            let mut x = seed | 1;
            for step in 0..20_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let key = [(x % 61) as u8, 1, 2];
                let val = step.to_le_bytes();
                let mut out = [0u8; 8];
                match x >> 60 {
                    0..=6 => {
                        let r = t.update(&key, &val, Update::Any);
                        if model.len() < 48 || model.contains_key(&key) {
                            r.unwrap();
                            model.insert(key, val);
                        } else {
                            assert_eq!(r, Err(MapStatus::Full));
                        }
                    }
                    7..=11 => {
                        assert_eq!(t.delete(&key).is_ok(), model.remove(&key).is_some());
                    }
                    _ => match model.get(&key) {
                        Some(v) => {
                            t.lookup(&key, &mut out).unwrap();
                            assert_eq!(&out, v);
                        }
                        None => assert_eq!(t.lookup(&key, &mut out), Err(MapStatus::NotFound)),
                    },
                }
                assert_eq!(t.len() as usize, model.len());
            }
            // A full scan sees each entry once.
            let mut seen = HashMap::new();
            let mut at = 0;
            let (mut key, mut val) = ([0u8; 3], [0u8; 8]);
            loop {
                match t.next(at, 5, &mut key, &mut val) {
                    Scan::Entry(b) => {
                        assert!(seen.insert(key, val).is_none());
                        at = b + 1;
                    }
                    Scan::More(b) => at = b,
                    Scan::End => break,
                }
            }
            assert_eq!(seen, model);
            t.clear();
            assert!(t.is_empty());
            assert_eq!(t.lookup(&[1, 1, 2], &mut [0; 8]), Err(MapStatus::NotFound));
        }
    }
}
