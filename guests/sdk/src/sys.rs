//! Raw host imports, exactly as `kwasm_abi::host::HOST_FUNCS` declares them.
//!
//! Every function here is imported from wasm module `kwasm`; on `wasm32`,
//! pointers and `usize` are `i32`, so the wasm signatures are:
//!
//! | import | wasm type |
//! |---|---|
//! | `kwasm.log` | `(i32 ptr, i32 len) -> ()` |
//! | `kwasm.pkt_len` | `() -> i32` |
//! | `kwasm.pkt_load` | `(i32 off, i32 dst, i32 len) -> i32` |
//! | `kwasm.time_ns` | `() -> i64` |
//! | `kwasm.map_get` | `(i32 map, i32 idx) -> i64` |
//! | `kwasm.map_set` | `(i32 map, i32 idx, i64 v) -> ()` |
//! | `kwasm.map_add` | `(i32 map, i32 idx, i64 delta) -> i64` |
//! | `kwasm.random_u32` | `() -> i32` |
//!
//! The names and types are checked against `HOST_FUNCS` at compile time (see
//! [`crate::abi`]). Only the imports a program actually calls end up in its
//! import section.
//! Prefer the safe wrappers in [`crate::host`].
//!
//! On other targets these are inert stand-ins (see the crate documentation);
//! under `cfg(test)` they are backed by a per-thread mock (`sys::mock`).

/// Declares the imports of module `$module` and checks, at compile time, that
/// `$module` is `kwasm_abi::host::HOST_MODULE`, that each import is a host
/// function of `kwasm_abi::host::HOST_FUNCS` with that wasm type and that
/// every host function of the module is declared. The module name has to be a
/// literal (`#[link(wasm_import_module)]` takes nothing else); this is the
/// only place it is written.
macro_rules! host_imports {
    ($module:literal; $($(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {
        const _: () = {
            use crate::abi::{self, WasmType};
            assert!(
                abi::str_eq($module, abi::HOST_MODULE),
                "sys: the import module is not kwasm_abi::host::HOST_MODULE"
            );
            $(assert!(
                abi::is_host_func(
                    $module,
                    stringify!($name),
                    &[$(<$ty as WasmType>::TYPE),*],
                    &[$(<$ret as WasmType>::TYPE)?],
                ),
                concat!(
                    "sys: ", $module, ".", stringify!($name),
                    " is not a host function of this type in kwasm_abi::host::HOST_FUNCS"
                )
            );)*
            assert!(
                abi::covers_host_module($module, &[$(stringify!($name)),*]),
                "sys: a host function of kwasm_abi::host::HOST_FUNCS is not imported"
            );
        };

        #[cfg(target_arch = "wasm32")]
        #[link(wasm_import_module = $module)]
        unsafe extern "C" {
            $($(#[$attr])* pub fn $name($($arg: $ty),*) $(-> $ret)?;)*
        }
    };
}

host_imports! {
    "kwasm";
    /// Writes `len` bytes at `ptr` to the log. Traps (`MemoryOutOfBounds`) if
    /// the range is outside linear memory.
    fn log(ptr: *const u8, len: usize);
    /// Length of the current packet in bytes; 0 outside netfilter.
    fn pkt_len() -> i32;
    /// Copies up to `len` packet bytes starting at `off` to `dst`; returns the
    /// number copied (0 when `off` is past the end). Traps if
    /// `[dst, dst+len)` is outside linear memory.
    fn pkt_load(off: i32, dst: *mut u8, len: usize) -> i32;
    /// Monotonic time in nanoseconds.
    fn time_ns() -> i64;
    /// Entry `idx` of map `map`. Traps (`HostError`) when out of range.
    fn map_get(map: i32, idx: i32) -> i64;
    /// Sets entry `idx` of map `map`. Traps (`HostError`) when out of range.
    fn map_set(map: i32, idx: i32, v: i64);
    /// Atomically adds `delta` to entry `idx` of map `map` and returns the new
    /// value. Traps (`HostError`) when out of range.
    fn map_add(map: i32, idx: i32, delta: i64) -> i64;
    /// A pseudo-random number.
    fn random_u32() -> i32;
    /// Copies the value of the key at `key` (the map's key size) to `val`
    /// (its value size): 0, or a negative `kwasm_abi::maps::MapStatus`.
    /// Traps (`MemoryOutOfBounds`) if either range is outside memory.
    fn map_lookup(map: i32, key: *const u8, val: *mut u8) -> i32;
    /// Inserts or replaces the key's value as `flags`
    /// (`kwasm_abi::hash::UPDATE_*`) says: 0 or a negative status.
    fn map_update(map: i32, key: *const u8, val: *const u8, flags: i32) -> i32;
    /// Removes the key from a hash map: 0 or a negative status.
    fn map_delete(map: i32, key: *const u8) -> i32;
    /// Appends a record of the `len` bytes at `ptr` to ring buffer `map`:
    /// 0, or `MapStatus::Full` when it did not fit (dropped and counted).
    fn event_output(map: i32, ptr: *const u8, len: usize) -> i32;
}

#[cfg(not(target_arch = "wasm32"))]
pub use self::stand_in::*;

/// Host stand-ins for non-wasm targets, with the same signatures as the
/// imports. Outside tests they behave like the userspace runner with no packet
/// and all maps reading 0; under `cfg(test)` they forward to `sys::mock`.
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::missing_safety_doc)]
mod stand_in {
    /// See the `wasm32` import of the same name.
    pub unsafe fn log(ptr: *const u8, len: usize) {
        #[cfg(test)]
        super::mock::log(unsafe { core::slice::from_raw_parts(ptr, len) });
        #[cfg(not(test))]
        let _ = (ptr, len);
    }
    /// See the `wasm32` import of the same name.
    pub unsafe fn pkt_len() -> i32 {
        #[cfg(test)]
        return super::mock::with(|m| m.packet.len() as i32);
        #[cfg(not(test))]
        0
    }
    /// See the `wasm32` import of the same name.
    pub unsafe fn pkt_load(off: i32, dst: *mut u8, len: usize) -> i32 {
        #[cfg(test)]
        return super::mock::with(|m| {
            let off = off as u32 as usize;
            if off >= m.packet.len() {
                return 0;
            }
            let n = len.min(m.packet.len() - off);
            unsafe { core::ptr::copy_nonoverlapping(m.packet[off..].as_ptr(), dst, n) };
            n as i32
        });
        #[cfg(not(test))]
        {
            let _ = (off, dst, len);
            0
        }
    }
    /// See the `wasm32` import of the same name.
    pub unsafe fn time_ns() -> i64 {
        0
    }
    /// See the `wasm32` import of the same name.
    pub unsafe fn map_get(map: i32, idx: i32) -> i64 {
        #[cfg(test)]
        return super::mock::with(|m| *m.slot(map, idx));
        #[cfg(not(test))]
        {
            let _ = (map, idx);
            0
        }
    }
    /// See the `wasm32` import of the same name.
    pub unsafe fn map_set(map: i32, idx: i32, v: i64) {
        #[cfg(test)]
        super::mock::with(|m| *m.slot(map, idx) = v);
        #[cfg(not(test))]
        let _ = (map, idx, v);
    }
    /// See the `wasm32` import of the same name.
    pub unsafe fn map_add(map: i32, idx: i32, delta: i64) -> i64 {
        #[cfg(test)]
        return super::mock::with(|m| {
            let s = m.slot(map, idx);
            *s = s.wrapping_add(delta);
            *s
        });
        #[cfg(not(test))]
        {
            let _ = (map, idx);
            delta
        }
    }
    /// See the `wasm32` import of the same name.
    pub unsafe fn random_u32() -> i32 {
        4 // chosen by fair dice roll
    }
    /// See the `wasm32` import of the same name. Outside tests there are
    /// no maps: `MapStatus::Invalid`.
    pub unsafe fn map_lookup(map: i32, key: *const u8, val: *mut u8) -> i32 {
        #[cfg(test)]
        return super::mock::with(|m| m.lookup(map, key, val));
        #[cfg(not(test))]
        {
            let _ = (map, key, val);
            crate::abi::MapStatus::Invalid as i32
        }
    }
    /// See the `wasm32` import of the same name.
    pub unsafe fn map_update(map: i32, key: *const u8, val: *const u8, flags: i32) -> i32 {
        #[cfg(test)]
        return super::mock::with(|m| m.update(map, key, val, flags));
        #[cfg(not(test))]
        {
            let _ = (map, key, val, flags);
            crate::abi::MapStatus::Invalid as i32
        }
    }
    /// See the `wasm32` import of the same name. Under `cfg(test)` the
    /// records go to the mock's `events`.
    pub unsafe fn event_output(map: i32, ptr: *const u8, len: usize) -> i32 {
        #[cfg(test)]
        return super::mock::with(|m| {
            let data = unsafe { core::slice::from_raw_parts(ptr, len) };
            m.events.push((map, data.to_vec()));
            0
        });
        #[cfg(not(test))]
        {
            let _ = (map, ptr, len);
            crate::abi::MapStatus::Invalid as i32
        }
    }
    /// See the `wasm32` import of the same name.
    pub unsafe fn map_delete(map: i32, key: *const u8) -> i32 {
        #[cfg(test)]
        return super::mock::with(|m| m.delete(map, key));
        #[cfg(not(test))]
        {
            let _ = (map, key);
            crate::abi::MapStatus::Invalid as i32
        }
    }
}

/// A per-thread fake host for unit tests on the build machine: a packet, maps
/// that grow on demand and a captured log.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub mod mock {
    use std::cell::RefCell;

    use crate::abi::{MapStatus, Update};
    use std::collections::BTreeMap;

    /// A hash map of the fake host: sizes, capacity and contents.
    #[derive(Default)]
    pub struct Hash {
        /// Bytes of each key.
        pub key_size: usize,
        /// Bytes of each value.
        pub value_size: usize,
        /// Most keys: an insert beyond is `MapStatus::Full`.
        pub entries: usize,
        /// The entries.
        pub data: BTreeMap<Vec<u8>, Vec<u8>>,
    }

    /// State of the fake host.
    #[derive(Default)]
    pub struct Host {
        /// The "current packet", seen through `pkt_len`/`pkt_load`.
        pub packet: Vec<u8>,
        /// Map contents, `maps[map][idx]`.
        pub maps: Vec<Vec<i64>>,
        /// Hash maps by map number (declare them with [`hash`]).
        pub hashes: BTreeMap<i32, Hash>,
        /// Every `log` call, in order.
        pub logs: Vec<Vec<u8>>,
        /// Every `event_output` call, in order: map and record.
        pub events: Vec<(i32, Vec<u8>)>,
    }

    /// Declares map `map` a hash map of these sizes.
    pub fn hash(map: i32, key_size: usize, value_size: usize, entries: usize) {
        with(|h| {
            h.hashes.insert(
                map,
                Hash {
                    key_size,
                    value_size,
                    entries,
                    data: BTreeMap::new(),
                },
            )
        });
    }

    impl Host {
        pub(super) fn lookup(&mut self, map: i32, key: *const u8, val: *mut u8) -> i32 {
            let Some(h) = self.hashes.get(&map) else {
                // An array: a u32 index and a u64 value.
                let idx = unsafe { key.cast::<u32>().read_unaligned() } as i32;
                let v = *self.slot(map, idx);
                unsafe { val.cast::<i64>().write_unaligned(v) };
                return 0;
            };
            let k = unsafe { core::slice::from_raw_parts(key, h.key_size) };
            match h.data.get(k) {
                Some(v) => {
                    unsafe { core::ptr::copy_nonoverlapping(v.as_ptr(), val, v.len()) };
                    0
                }
                None => MapStatus::NotFound as i32,
            }
        }

        pub(super) fn update(
            &mut self,
            map: i32,
            key: *const u8,
            val: *const u8,
            flags: i32,
        ) -> i32 {
            let Some(h) = self.hashes.get_mut(&map) else {
                let idx = unsafe { key.cast::<u32>().read_unaligned() } as i32;
                let v = unsafe { val.cast::<i64>().read_unaligned() };
                let s = self.slot(map, idx);
                *s = match Update::from_flags(flags as u32) {
                    Some(Update::Add) => s.wrapping_add(v),
                    _ => v,
                };
                return 0;
            };
            let k = unsafe { core::slice::from_raw_parts(key, h.key_size) }.to_vec();
            let v = unsafe { core::slice::from_raw_parts(val, h.value_size) };
            let present = h.data.contains_key(&k);
            let full = h.data.len() >= h.entries;
            let Some(how) = Update::from_flags(flags as u32) else {
                return MapStatus::Invalid as i32;
            };
            match (how, present) {
                (Update::NoExist, true) => MapStatus::Exists as i32,
                (Update::Exist, false) => MapStatus::NotFound as i32,
                (_, false) if full => MapStatus::Full as i32,
                (Update::Add, true) => {
                    let old = h.data.get_mut(&k).expect("present");
                    for (o, n) in old.chunks_mut(8).zip(v.chunks(8)) {
                        let sum = u64::from_le_bytes(o.try_into().expect("u64"))
                            .wrapping_add(u64::from_le_bytes(n.try_into().expect("u64")));
                        o.copy_from_slice(&sum.to_le_bytes());
                    }
                    0
                }
                _ => {
                    h.data.insert(k, v.to_vec());
                    0
                }
            }
        }

        pub(super) fn delete(&mut self, map: i32, key: *const u8) -> i32 {
            let Some(h) = self.hashes.get_mut(&map) else {
                return MapStatus::Invalid as i32;
            };
            let k = unsafe { core::slice::from_raw_parts(key, h.key_size) };
            match h.data.remove(k) {
                Some(_) => 0,
                None => MapStatus::NotFound as i32,
            }
        }

        pub(super) fn slot(&mut self, map: i32, idx: i32) -> &mut i64 {
            let (map, idx) = (map as usize, idx as usize);
            if self.maps.len() <= map {
                self.maps.resize(map + 1, Vec::new());
            }
            let m = &mut self.maps[map];
            if m.len() <= idx {
                m.resize(idx + 1, 0);
            }
            &mut m[idx]
        }
    }

    thread_local! {
        static HOST: RefCell<Host> = RefCell::new(Host::default());
    }

    /// Runs `f` on this thread's fake host.
    pub fn with<R>(f: impl FnOnce(&mut Host) -> R) -> R {
        HOST.with(|h| f(&mut h.borrow_mut()))
    }

    /// Resets the fake host and installs `packet` as the current packet.
    pub fn reset(packet: &[u8]) {
        with(|h| {
            *h = Host::default();
            h.packet = packet.to_vec();
        });
    }

    pub(super) fn log(bytes: &[u8]) {
        with(|h| h.logs.push(bytes.to_vec()));
    }
}
