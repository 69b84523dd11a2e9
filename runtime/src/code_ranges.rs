//! The code of every live artifact, for the fault handler.
//!
//! The fault handler in [`super::trampoline`] may turn a fault into a trap
//! only when the faulting instruction lies in generated code. It runs in a
//! signal handler, so it can neither lock nor allocate: the ranges live in a
//! fixed array of atomics that [`contains`] scans.
//!
//! Each slot is a small sequence lock. A writer ([`register`] and the drop
//! of a [`Registration`]) owns the slot through `busy`, makes `seq` odd,
//! writes `start` and `end`, and makes `seq` even again. The reader skips a
//! slot whose `seq` is odd or changed while it read the range, so it never
//! sees half of one range and half of another. Skipping is safe: a range is
//! written only before its code can run (registration completes before the
//! artifact is handed out) and after it can no longer run (the artifact is
//! being dropped), so a fault in live generated code is never in a slot that
//! is being written.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

/// How many artifacts may be loaded at once in a process. The spec suite
/// keeps a few hundred alive per `.wast` file and thread.
pub(crate) const CAPACITY: usize = 1 << 14;

struct Slot {
    busy: AtomicBool,
    seq: AtomicUsize,
    start: AtomicUsize,
    end: AtomicUsize,
}

impl Slot {
    const fn empty() -> Slot {
        Slot {
            busy: AtomicBool::new(false),
            seq: AtomicUsize::new(0),
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
        }
    }

    /// Publish `[start, end)`; the caller owns the slot (`busy`).
    fn write(&self, start: usize, end: usize) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.start.store(start, Ordering::Relaxed);
        self.end.store(end, Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// The slot's range, unless a writer is changing it.
    fn read(&self) -> Option<(usize, usize)> {
        let seq = self.seq.load(Ordering::Acquire);
        if seq & 1 != 0 {
            return None;
        }
        let start = self.start.load(Ordering::Relaxed);
        let end = self.end.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == seq).then_some((start, end))
    }
}

static SLOTS: [Slot; CAPACITY] = [const { Slot::empty() }; CAPACITY];
/// One past the highest slot ever used: [`contains`] looks no further.
static USED: AtomicUsize = AtomicUsize::new(0);

/// A registered range; dropping it unregisters the range. Drop it before
/// the code is unmapped.
#[derive(Debug)]
pub(crate) struct Registration {
    slot: usize,
}

/// Register `[start, start + len)` as generated code. `None` when all
/// [`CAPACITY`] slots are taken.
pub(crate) fn register(start: usize, len: usize) -> Option<Registration> {
    let end = start.checked_add(len)?;
    let slot = SLOTS.iter().position(|s| {
        s.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    })?;
    USED.fetch_max(slot + 1, Ordering::AcqRel);
    SLOTS[slot].write(start, end);
    Some(Registration { slot })
}

impl Drop for Registration {
    fn drop(&mut self) {
        let s = &SLOTS[self.slot];
        s.write(0, 0);
        s.busy.store(false, Ordering::Release);
    }
}

/// Whether `pc` lies in registered code. Async-signal-safe: no locks, no
/// allocation, a bounded number of atomic loads.
pub(crate) fn contains(pc: usize) -> bool {
    let used = USED.load(Ordering::Acquire).min(CAPACITY);
    SLOTS[..used]
        .iter()
        .filter_map(Slot::read)
        .any(|(start, end)| start <= pc && pc < end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_ranges_are_found_until_dropped() {
        let code = [0u8; 64];
        let base = code.as_ptr() as usize;
        assert!(!contains(base));
        let r = register(base, 32).unwrap();
        assert!(contains(base));
        assert!(contains(base + 31));
        assert!(!contains(base + 32));
        assert!(!contains(base - 1));
        let r2 = register(base + 32, 32).unwrap();
        assert!(contains(base + 40));
        drop(r);
        assert!(!contains(base));
        assert!(contains(base + 40));
        drop(r2);
        assert!(!contains(base + 40));
    }

    #[test]
    fn empty_and_overflowing_ranges() {
        let x = 0u8;
        let p = &x as *const u8 as usize;
        let r = register(p, 0).unwrap();
        assert!(!contains(p));
        drop(r);
        assert!(register(usize::MAX, 2).is_none());
    }

    #[test]
    fn slots_are_reused() {
        let x = 0u8;
        let p = &x as *const u8 as usize;
        // Far more registrations than slots, one at a time.
        for _ in 0..2 * CAPACITY {
            let r = register(p, 1).unwrap();
            assert!(contains(p));
            drop(r);
        }
        assert!(!contains(p));
    }
}
