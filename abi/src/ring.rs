//! Ring buffers: variable-size records from wasm to userspace, in a map's
//! `u64` slots, the same code in `kwasm.ko` and the userspace runner.
//!
//! Layout ([`storage_words`]): [`HEADER_WORDS`] header words (head, tail
//! and the count of dropped records, then one reserved), then the ring of
//! `bytes / 8` words. Head and tail are word positions that only grow; the
//! ring holds the words `[tail, head)`, word `p` at `p % ring_words`, so a
//! record may wrap around the end without a special case.
//!
//! A record is a header word (the data's length in the low 32 bits, the
//! writer's CPU in the high 32), a word of `time_ns`, then the data
//! zero-padded to whole words ([`record_words`]). A record that does not
//! fit in the free space, or is larger than [`MAX_RECORD`], is dropped and
//! counted; the writer sees [`MapStatus::Full`]. Records are never torn: a
//! reader copies out whole records only ([`Ring::peek`]) and then consumes
//! exactly those ([`Ring::consume`]).
//!
//! Writers and readers hold the map's lock (`maps::MapLock`), as for hash
//! maps; a writer copies at most [`MAX_RECORD`] bytes while holding it.

use super::hash::{MapStatus, le_word, put_le_word};
use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::Relaxed;

/// Header words: head, tail, dropped records, one reserved.
pub const HEADER_WORDS: usize = 4;
const HEAD: usize = 0;
const TAIL: usize = 1;
const DROPPED: usize = 2;
/// Words of a record's header: length and CPU, then the time.
pub const RECORD_HEADER_WORDS: usize = 2;
/// Largest record a program may write, in bytes: bounds the time a
/// writer holds the lock (with bottom halves off, in the kernel).
pub const MAX_RECORD: u32 = 4096;
/// Smallest and largest ring, in bytes (a power of two: the declaration's
/// `entries`).
pub const MIN_RING_BYTES: u32 = 64;
pub const MAX_RING_BYTES: u32 = 1 << 20;

/// Words of a ring of `bytes`, header included.
pub const fn storage_words(bytes: u32) -> usize {
    HEADER_WORDS + bytes as usize / 8
}

/// Words a record of `len` data bytes takes in the ring.
pub const fn record_words(len: u32) -> usize {
    RECORD_HEADER_WORDS + (len as usize).div_ceil(8)
}

/// Whether `bytes` is a ring size a declaration may give.
pub const fn valid_size(bytes: u32) -> bool {
    bytes.is_power_of_two() && bytes >= MIN_RING_BYTES && bytes <= MAX_RING_BYTES
}

/// A ring's slots. Its methods assume the caller holds the map's lock.
#[derive(Clone, Copy)]
pub struct Ring<'a> {
    words: &'a [AtomicU64],
    ring_words: usize,
}

impl<'a> Ring<'a> {
    /// The ring in `words`, which hold [`storage_words`] of its size.
    pub fn new(words: &'a [AtomicU64]) -> Ring<'a> {
        Ring {
            words,
            ring_words: words.len().saturating_sub(HEADER_WORDS),
        }
    }

    fn get(&self, w: usize) -> u64 {
        self.words.get(w).map_or(0, |a| a.load(Relaxed))
    }

    fn set(&self, w: usize, v: u64) {
        if let Some(a) = self.words.get(w) {
            a.store(v, Relaxed);
        }
    }

    /// The ring word at position `p`.
    fn at(&self, p: u64) -> usize {
        HEADER_WORDS + (p % self.ring_words.max(1) as u64) as usize
    }

    /// Bytes written and not yet consumed.
    pub fn pending(&self) -> u64 {
        self.get(HEAD).wrapping_sub(self.get(TAIL)) * 8
    }

    /// Records dropped because they did not fit.
    pub fn dropped(&self) -> u64 {
        self.get(DROPPED)
    }

    /// Appends a record of `data` from CPU `cpu` at `time_ns`, or drops and
    /// counts it.
    pub fn write(&self, cpu: u32, time_ns: u64, data: &[u8]) -> Result<(), MapStatus> {
        let len = data.len() as u32;
        let need = record_words(len) as u64;
        let (head, tail) = (self.get(HEAD), self.get(TAIL));
        let used = head.wrapping_sub(tail);
        if data.len() > MAX_RECORD as usize || used + need > self.ring_words as u64 {
            self.set(DROPPED, self.get(DROPPED) + 1);
            return Err(MapStatus::Full);
        }
        self.set(self.at(head), u64::from(len) | u64::from(cpu) << 32);
        self.set(self.at(head + 1), time_ns);
        for (i, c) in data.chunks(8).enumerate() {
            self.set(self.at(head + 2 + i as u64), le_word(c));
        }
        self.set(HEAD, head + need);
        Ok(())
    }

    /// Copies whole records from the tail into `out` (their words, little
    /// endian), as many as fit, without consuming them: the bytes copied
    /// and the records. Pass the bytes to [`Self::consume`] once they are
    /// safe with the reader.
    pub fn peek(&self, out: &mut [u8]) -> (usize, u32) {
        let (head, mut p) = (self.get(HEAD), self.get(TAIL));
        let (mut n, mut records) = (0usize, 0u32);
        while p < head {
            let words = record_words(self.get(self.at(p)) as u32);
            let bytes = words * 8;
            let Some(dst) = out.get_mut(n..n + bytes) else {
                break;
            };
            for (i, c) in dst.chunks_mut(8).enumerate() {
                put_le_word(c, self.get(self.at(p + i as u64)));
            }
            p += words as u64;
            n += bytes;
            records += 1;
        }
        (n, records)
    }

    /// Consumes `bytes` from the tail: what [`Self::peek`] returned.
    pub fn consume(&self, bytes: usize) {
        let tail = self.get(TAIL) + (bytes / 8) as u64;
        self.set(TAIL, tail.min(self.get(HEAD)));
    }
}

/// One record as a reader sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub cpu: u32,
    pub time_ns: u64,
    pub data: &'a [u8],
}

/// The records in `buf`, as [`Ring::peek`] copied them; stops at the
/// first malformed one.
pub fn records(buf: &[u8]) -> impl Iterator<Item = Record<'_>> {
    let mut at = 0usize;
    core::iter::from_fn(move || {
        let word = |i: usize| {
            let b = buf.get(at + 8 * i..at + 8 * i + 8)?;
            Some(u64::from_le_bytes(b.try_into().ok()?))
        };
        let (h, time_ns) = (word(0)?, word(1)?);
        let len = h as u32;
        let start = at + 8 * RECORD_HEADER_WORDS;
        let data = buf.get(start..start + len as usize)?;
        at += record_words(len) * 8;
        Some(Record {
            cpu: (h >> 32) as u32,
            time_ns,
            data,
        })
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn ring(bytes: u32) -> Vec<AtomicU64> {
        (0..storage_words(bytes))
            .map(|_| AtomicU64::new(0))
            .collect()
    }

    #[test]
    fn records_in_order_wrap_and_drop_when_full() {
        let w = ring(64); // 8 words: room for two 1..8-byte records
        let r = Ring::new(&w);
        r.write(1, 10, b"abc").unwrap();
        r.write(0, 11, b"defghijk").unwrap();
        assert_eq!(r.write(0, 12, b"x"), Err(MapStatus::Full));
        assert_eq!((r.pending(), r.dropped()), (48, 1));
        let mut out = [0u8; 40];
        let (n, k) = r.peek(&mut out);
        assert_eq!((n, k), (24, 1), "only whole records that fit");
        let got: Vec<_> = records(&out[..n]).collect();
        assert_eq!(
            got,
            [Record {
                cpu: 1,
                time_ns: 10,
                data: b"abc"
            }]
        );
        r.consume(n);
        // The next record wraps around the ring's end.
        r.write(2, 13, b"0123456789").unwrap();
        let mut out = [0u8; 64];
        let (n, k) = r.peek(&mut out);
        assert_eq!(k, 2);
        let got: Vec<_> = records(&out[..n]).map(|r| r.data).collect();
        assert_eq!(got, [&b"defghijk"[..], b"0123456789"]);
        r.consume(n);
        assert_eq!(r.pending(), 0);
        assert_eq!(
            r.write(0, 0, &[0; MAX_RECORD as usize + 1]),
            Err(MapStatus::Full)
        );
        assert_eq!(r.dropped(), 2);
    }

    #[test]
    fn sizes() {
        assert!(valid_size(64) && valid_size(1 << 20));
        assert!(!valid_size(32) && !valid_size(96) && !valid_size(2 << 20));
        assert_eq!(record_words(0), 2);
        assert_eq!(record_words(9), 4);
    }
}
