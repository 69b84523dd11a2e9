//! The host API: functions a program may import, with their signatures.
//!
//! The compiler checks imports against this table, the runner and the kernel
//! fill each import slot of `VmCtx` with their implementation of the same
//! [`HostFuncId`]. A host function is called like any wasm function: the first
//! argument is the caller's `vmctx`, then the wasm arguments.
//!
//! Semantics (identical in the runner and in `kwasm.ko`):
//! - `log(ptr, len)`: write `len` bytes of linear memory to the log (stderr in
//!   the runner, the kernel log rate-limited in the kernel). A range outside
//!   memory traps with `MemoryOutOfBounds`.
//! - `pkt_len() -> i32`: length of the current packet, 0 outside netfilter.
//! - `pkt_load(off, dst, len) -> i32`: copy up to `len` bytes of the packet
//!   starting at `off` to linear memory at `dst`; returns the number copied
//!   (0 when `off` is past the end), traps if `[dst, dst+len)` is outside memory.
//! - `time_ns() -> i64`: monotonic time in nanoseconds.
//! - `map_get(map, idx) -> i64`, `map_set(map, idx, v)`,
//!   `map_add(map, idx, delta) -> i64` (returns the new value): u64 arrays
//!   shared with userspace, declared by the program's `kwasm.maps` custom
//!   section ([`super::maps`]); an index out of range traps with
//!   `HostError`. On an `array` `map_add` is atomic; on a `per_cpu_array`
//!   all three act on the calling CPU's own slots, with plain loads and
//!   stores.
//! - `map_lookup(map, key_ptr, val_ptr) -> i32`: copy the value of the key
//!   at `key_ptr` (the map's key size) to `val_ptr` (the map's value size).
//! - `map_update(map, key_ptr, val_ptr, flags) -> i32`: insert or replace
//!   the key's value; `flags` is one of `hash::UPDATE_ANY`, `_NOEXIST`,
//!   `_EXIST` and `_ADD` (add the value's `u64`s to the present value, or
//!   insert it: a counter that no other CPU can interleave).
//! - `map_delete(map, key_ptr) -> i32`: remove the key from a hash map.
//!
//!   These three work on every map kind, on the calling CPU's copy of a
//!   per-CPU array, whose key is a little-endian `u32` index and whose
//!   value a `u64`. They return 0 or a negative `maps::MapStatus`: a map
//!   that does not exist, a missing key, a full hash map or unknown flags
//!   are statuses the program sees, never traps. A key or value range
//!   outside linear memory traps with `MemoryOutOfBounds`, as for `log`,
//!   and is checked before the map is touched.
//! - `event_output(map, ptr, len) -> i32`: append a record of the `len`
//!   bytes at `ptr` to ring buffer `map` (`maps::MapKind::RingBuf`), for
//!   userspace to read in order (`kwasm events`). A record that does not
//!   fit, or is longer than `ring::MAX_RECORD`, is dropped and counted,
//!   and the call returns `MapStatus::Full`; a map that is not a ring
//!   returns `Invalid`; a range outside memory traps.
//! - `random_u32() -> i32`: a pseudo-random number.

use super::fuel::HostCost;
use super::types::ValType::{self, I32, I64};

/// Stable identifiers of host functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum HostFuncId {
    Log = 1,
    PktLen = 2,
    PktLoad = 3,
    TimeNs = 4,
    MapGet = 5,
    MapSet = 6,
    MapAdd = 7,
    RandomU32 = 8,
    MapLookup = 9,
    MapUpdate = 10,
    MapDelete = 11,
    EventOutput = 12,
}

/// One importable host function.
#[derive(Clone, Copy, Debug)]
pub struct HostFunc {
    pub id: HostFuncId,
    pub module: &'static str,
    pub name: &'static str,
    pub params: &'static [ValType],
    pub results: &'static [ValType],
    /// What a call costs in fuel; the compiler charges it before the call.
    pub cost: HostCost,
}

/// A host function with a fixed, small cost (reads a counter, a clock or a
/// map slot).
const CALL_COST: HostCost = HostCost {
    base: 8,
    len_param: None,
};
/// A map element operation: hashing up to `maps::MAX_KEY_SIZE` bytes, a
/// probe and a copy of up to `maps::MAX_VALUE_SIZE` bytes under a lock.
const MAP_ELEM_COST: HostCost = HostCost {
    base: 64,
    len_param: None,
};
/// `event_output`: a record's header and copy under a lock, plus the bytes.
const EVENT_COST: HostCost = HostCost {
    base: 64,
    len_param: Some(2),
};
/// `log`: formatting and the rate-limited printk (the console is the
/// expensive part), plus the bytes.
const LOG_COST: HostCost = HostCost {
    base: 1024,
    len_param: Some(1),
};
/// `pkt_load`: an `skb_copy_bits` call plus the bytes.
const PKT_LOAD_COST: HostCost = HostCost {
    base: 16,
    len_param: Some(2),
};

/// Module name of the host API.
pub const HOST_MODULE: &str = "kwasm";

/// Every importable host function. `env._debug` is an alias of `kwasm.log`
/// kept for the seeds' examples.
pub const HOST_FUNCS: &[HostFunc] = &[
    HostFunc {
        id: HostFuncId::Log,
        module: HOST_MODULE,
        name: "log",
        params: &[I32, I32],
        results: &[],
        cost: LOG_COST,
    },
    HostFunc {
        id: HostFuncId::Log,
        module: "env",
        name: "_debug",
        params: &[I32, I32],
        results: &[],
        cost: LOG_COST,
    },
    HostFunc {
        id: HostFuncId::PktLen,
        module: HOST_MODULE,
        name: "pkt_len",
        params: &[],
        results: &[I32],
        cost: CALL_COST,
    },
    HostFunc {
        id: HostFuncId::PktLoad,
        module: HOST_MODULE,
        name: "pkt_load",
        params: &[I32, I32, I32],
        results: &[I32],
        cost: PKT_LOAD_COST,
    },
    HostFunc {
        id: HostFuncId::TimeNs,
        module: HOST_MODULE,
        name: "time_ns",
        params: &[],
        results: &[I64],
        cost: CALL_COST,
    },
    HostFunc {
        id: HostFuncId::MapGet,
        module: HOST_MODULE,
        name: "map_get",
        params: &[I32, I32],
        results: &[I64],
        cost: CALL_COST,
    },
    HostFunc {
        id: HostFuncId::MapSet,
        module: HOST_MODULE,
        name: "map_set",
        params: &[I32, I32, I64],
        results: &[],
        cost: CALL_COST,
    },
    HostFunc {
        id: HostFuncId::MapAdd,
        module: HOST_MODULE,
        name: "map_add",
        params: &[I32, I32, I64],
        results: &[I64],
        cost: CALL_COST,
    },
    HostFunc {
        id: HostFuncId::RandomU32,
        module: HOST_MODULE,
        name: "random_u32",
        params: &[],
        results: &[I32],
        cost: CALL_COST,
    },
    HostFunc {
        id: HostFuncId::MapLookup,
        module: HOST_MODULE,
        name: "map_lookup",
        params: &[I32, I32, I32],
        results: &[I32],
        cost: MAP_ELEM_COST,
    },
    HostFunc {
        id: HostFuncId::MapUpdate,
        module: HOST_MODULE,
        name: "map_update",
        params: &[I32, I32, I32, I32],
        results: &[I32],
        cost: MAP_ELEM_COST,
    },
    HostFunc {
        id: HostFuncId::MapDelete,
        module: HOST_MODULE,
        name: "map_delete",
        params: &[I32, I32],
        results: &[I32],
        cost: MAP_ELEM_COST,
    },
    HostFunc {
        id: HostFuncId::EventOutput,
        module: HOST_MODULE,
        name: "event_output",
        params: &[I32, I32, I32],
        results: &[I32],
        cost: EVENT_COST,
    },
];

/// Find a host function by import module and name.
pub fn lookup(module: &str, name: &str) -> Option<&'static HostFunc> {
    HOST_FUNCS
        .iter()
        .find(|f| f.module == module && f.name == name)
}

/// One runtime's implementation of every host function, with the signature
/// the table above gives it (after the caller's `vmctx`). Runtimes fill one
/// of these, so a host function with the wrong signature does not compile,
/// and [`HostFuncs::code`] is the only place an id becomes an address.
#[derive(Clone, Copy)]
pub struct HostFuncs {
    pub log: extern "C" fn(vmctx: *mut u8, ptr: u32, len: u32),
    pub pkt_len: extern "C" fn(vmctx: *mut u8) -> i32,
    pub pkt_load: extern "C" fn(vmctx: *mut u8, off: u32, dst: u32, len: u32) -> i32,
    pub time_ns: extern "C" fn(vmctx: *mut u8) -> i64,
    pub map_get: extern "C" fn(vmctx: *mut u8, map: u32, idx: u32) -> i64,
    pub map_set: extern "C" fn(vmctx: *mut u8, map: u32, idx: u32, v: i64),
    pub map_add: extern "C" fn(vmctx: *mut u8, map: u32, idx: u32, delta: i64) -> i64,
    pub random_u32: extern "C" fn(vmctx: *mut u8) -> i32,
    pub map_lookup: extern "C" fn(vmctx: *mut u8, map: u32, key: u32, val: u32) -> i32,
    pub map_update: extern "C" fn(vmctx: *mut u8, map: u32, key: u32, val: u32, flags: u32) -> i32,
    pub map_delete: extern "C" fn(vmctx: *mut u8, map: u32, key: u32) -> i32,
    pub event_output: extern "C" fn(vmctx: *mut u8, map: u32, ptr: u32, len: u32) -> i32,
}

impl HostFuncs {
    /// The code address to put in an import slot for `id`.
    pub fn code(&self, id: HostFuncId) -> *const u8 {
        match id {
            HostFuncId::Log => self.log as *const u8,
            HostFuncId::PktLen => self.pkt_len as *const u8,
            HostFuncId::PktLoad => self.pkt_load as *const u8,
            HostFuncId::TimeNs => self.time_ns as *const u8,
            HostFuncId::MapGet => self.map_get as *const u8,
            HostFuncId::MapSet => self.map_set as *const u8,
            HostFuncId::MapAdd => self.map_add as *const u8,
            HostFuncId::RandomU32 => self.random_u32 as *const u8,
            HostFuncId::MapLookup => self.map_lookup as *const u8,
            HostFuncId::MapUpdate => self.map_update as *const u8,
            HostFuncId::MapDelete => self.map_delete as *const u8,
            HostFuncId::EventOutput => self.event_output as *const u8,
        }
    }
}

/// Map declarations and limits live in [`super::maps`].
pub use super::maps::{MAPS_SECTION, MAX_MAP_ENTRIES, MAX_MAPS};

/// Export name of a netfilter program's entry point: `filter(pkt_len: i32) -> i32`.
pub const FILTER_EXPORT: &str = "filter";
/// Verdicts in the kernel's own numbering.
pub const VERDICT_DROP: i32 = 0;
pub const VERDICT_ACCEPT: i32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_parameters_are_i32_params() {
        for f in HOST_FUNCS {
            if let Some(i) = f.cost.len_param {
                assert_eq!(
                    f.params.get(i as usize),
                    Some(&I32),
                    "{}.{}",
                    f.module,
                    f.name
                );
            }
        }
    }

    #[test]
    fn lookup_finds_alias() {
        assert_eq!(lookup("env", "_debug").unwrap().id, HostFuncId::Log);
        assert_eq!(lookup("kwasm", "pkt_len").unwrap().results, &[I32]);
        assert!(lookup("kwasm", "nope").is_none());
    }
}
