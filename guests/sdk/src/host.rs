//! Safe wrappers over the host imports (module `kwasm`).
//!
//! Semantics are those of `kwasm_abi::host`, identical in the userspace runner
//! (`kwasm run`) and in the kernel module.

use crate::sys;

/// Writes `msg` to the log: stderr in the userspace runner, the kernel log
/// (rate-limited) in the kernel. See [`crate::log!`] for formatted output.
#[inline]
pub fn log(msg: &[u8]) {
    // SAFETY: `msg` is a valid slice of linear memory.
    unsafe { sys::log(msg.as_ptr(), msg.len()) }
}

/// Writes a string to the log; see [`log`].
#[inline]
pub fn log_str(msg: &str) {
    log(msg.as_bytes())
}

/// Length of the current packet in bytes (from the start of the IP header);
/// 0 outside netfilter, e.g. under `kwasm run`.
#[inline]
pub fn pkt_len() -> u32 {
    // SAFETY: no arguments, no memory access.
    unsafe { sys::pkt_len() as u32 }
}

/// Copies packet bytes starting at offset `off` into `dst` and returns how
/// many were copied: `min(dst.len(), visible_len - off)`, or 0 when `off` is
/// past the end. The packet starts at the IP header; multi-byte fields are in
/// network byte order (big-endian).
#[inline]
pub fn pkt_load(off: u32, dst: &mut [u8]) -> usize {
    // SAFETY: `dst` is a valid, writable slice of linear memory; the host
    // writes at most `dst.len()` bytes.
    let n = unsafe { sys::pkt_load(off as i32, dst.as_mut_ptr(), dst.len()) };
    // The host never returns more than asked; clamp anyway so a misbehaving
    // host cannot make safe code index out of bounds.
    (n.max(0) as usize).min(dst.len())
}

/// Loads the first bytes of the packet into `buf` and returns the filled
/// prefix (shorter than `buf` when the packet is). Parse it with
/// [`crate::net`]. [`PacketBuf`] does the same without zeroing a buffer
/// first.
#[inline]
pub fn load_packet(buf: &mut [u8]) -> &[u8] {
    let n = pkt_load(0, buf);
    &buf[..n]
}

/// Room for the first `N` bytes of the packet, not initialised: a filter
/// that copies the packet's headers into `[0u8; N]` pays for zeroing `N`
/// bytes on every packet (a `memory.fill`), only to overwrite them. Only
/// the bytes the host wrote are ever readable, through [`PacketBuf::load`].
///
/// ```ignore
/// let mut buf = PacketBuf::<128>::new();
/// let pkt = buf.load(); // at most 128 bytes, from the IP header on
/// ```
pub struct PacketBuf<const N: usize>([core::mem::MaybeUninit<u8>; N]);

impl<const N: usize> PacketBuf<N> {
    /// An uninitialised buffer (no code runs).
    #[inline]
    pub fn new() -> Self {
        PacketBuf([core::mem::MaybeUninit::uninit(); N])
    }

    /// Copies the first `min(N, packet length)` bytes of the packet in and
    /// returns them, as [`load_packet`] does.
    #[inline]
    pub fn load(&mut self) -> &[u8] {
        // SAFETY: `self.0` is `N` writable bytes of linear memory; the host
        // writes at most `N` of them (`pkt_load`'s contract) and reports how
        // many, and only that prefix, clamped to `N`, is returned.
        unsafe {
            let n = sys::pkt_load(0, self.0.as_mut_ptr().cast(), N);
            let n = (n.max(0) as usize).min(N);
            core::slice::from_raw_parts(self.0.as_ptr().cast(), n)
        }
    }
}

impl<const N: usize> Default for PacketBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Monotonic time in nanoseconds.
#[inline]
pub fn time_ns() -> u64 {
    // SAFETY: no arguments, no memory access.
    unsafe { sys::time_ns() as u64 }
}

/// A pseudo-random number (not cryptographically secure).
#[inline]
pub fn random_u32() -> u32 {
    // SAFETY: no arguments, no memory access.
    unsafe { sys::random_u32() as u32 }
}

/// Entry `idx` of map `map`. Traps (`HostError`) if either is out of range;
/// maps are declared with [`crate::maps!`].
#[inline]
pub fn map_get(map: u32, idx: u32) -> u64 {
    // SAFETY: the host checks `map` and `idx`.
    unsafe { sys::map_get(map as i32, idx as i32) as u64 }
}

/// Sets entry `idx` of map `map` to `value`. Traps (`HostError`) if either is
/// out of range.
#[inline]
pub fn map_set(map: u32, idx: u32, value: u64) {
    // SAFETY: the host checks `map` and `idx`.
    unsafe { sys::map_set(map as i32, idx as i32, value as i64) }
}

/// Atomically adds `delta` (wrapping) to entry `idx` of map `map` and returns
/// the new value. Traps (`HostError`) if either is out of range.
#[inline]
pub fn map_add(map: u32, idx: u32, delta: u64) -> u64 {
    // SAFETY: the host checks `map` and `idx`.
    unsafe { sys::map_add(map as i32, idx as i32, delta as i64) as u64 }
}

/// A handle on one map: an array of `u64` shared with userspace (`kwasm stats`
/// and friends read it). Maps are numbered in the order of the [`crate::maps!`]
/// declaration.
///
/// ```ignore
/// kwasm_guest::maps!(2, 256);
/// const COUNTERS: Map = Map::new(0);
/// const PER_PROTO: Map = Map::new(1);
/// PER_PROTO.add(17, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Map(u32);

impl Map {
    /// The map with index `index`.
    #[inline]
    pub const fn new(index: u32) -> Map {
        Map(index)
    }

    /// This map's index.
    #[inline]
    pub const fn index(self) -> u32 {
        self.0
    }

    /// Entry `idx`; traps if out of range.
    #[inline]
    pub fn get(self, idx: u32) -> u64 {
        map_get(self.0, idx)
    }

    /// Sets entry `idx`; traps if out of range.
    #[inline]
    pub fn set(self, idx: u32, value: u64) {
        map_set(self.0, idx, value)
    }

    /// Atomically adds `delta` to entry `idx` and returns the new value; traps
    /// if out of range.
    #[inline]
    pub fn add(self, idx: u32, delta: u64) -> u64 {
        map_add(self.0, idx, delta)
    }

    /// Adds 1 to entry `idx` and returns the new value.
    #[inline]
    pub fn incr(self, idx: u32) -> u64 {
        self.add(idx, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::mock;

    #[test]
    fn packet_loads_clamp_to_packet() {
        mock::reset(&[1, 2, 3, 4, 5]);
        assert_eq!(pkt_len(), 5);
        let mut buf = [0u8; 8];
        assert_eq!(load_packet(&mut buf), &[1, 2, 3, 4, 5]);
        let mut two = [0u8; 2];
        assert_eq!(pkt_load(3, &mut two), 2);
        assert_eq!(two, [4, 5]);
        assert_eq!(pkt_load(5, &mut two), 0);
        assert_eq!(pkt_load(u32::MAX, &mut two), 0);
    }

    #[test]
    fn packet_buf_returns_only_what_the_host_wrote() {
        mock::reset(&[1, 2, 3, 4, 5]);
        assert_eq!(PacketBuf::<8>::new().load(), &[1, 2, 3, 4, 5]);
        assert_eq!(PacketBuf::<3>::new().load(), &[1, 2, 3]);
        assert_eq!(PacketBuf::<0>::new().load(), &[] as &[u8]);
        mock::reset(&[]);
        assert_eq!(PacketBuf::<8>::default().load(), &[] as &[u8]);
    }

    #[test]
    fn map_handle() {
        mock::reset(&[]);
        let m = Map::new(1);
        assert_eq!(m.incr(3), 1);
        assert_eq!(m.add(3, 10), 11);
        m.set(0, u64::MAX);
        assert_eq!(m.get(0), u64::MAX);
        assert_eq!(m.add(0, 1), 0, "wraps");
        assert_eq!(map_get(1, 3), 11);
    }

    #[test]
    fn log_strings() {
        mock::reset(&[]);
        log_str("hi");
        mock::with(|h| assert_eq!(h.logs, vec![b"hi".to_vec()]));
    }
}
