//! What generated code calls in this runtime: the libcalls
//! (`VmCtx + header::LIBCALLS`) and the `kwasm` host functions.
//!
//! Their `extern "C"` entry points and semantics are abi's
//! (`kwasm_abi::calls`, shared with `kwasm.ko`): this file only says where
//! an [`Instance`] keeps what they work on. They get the calling instance's
//! `VmCtx`; every bounds check happens before any write, as the spec
//! requires.

use super::host;
use super::instance::Instance;
use super::store::{Memory, Table};
use kwasm_abi::calls::{self, Runtime, TablePair};
use kwasm_abi::host::HostFuncs;
use kwasm_abi::maps::MapSlots;
use kwasm_abi::trap::TrapCode;
use kwasm_abi::vmctx::Libcalls;

/// The libcall table of every instance.
static LIBCALLS: Libcalls = calls::libcalls::<Instance>();

/// The `kwasm` host functions, for [`super::host::define_kwasm`].
pub(crate) static KWASM_FUNCS: HostFuncs = calls::host_funcs::<Instance>();

/// The libcall table, for `VmCtx`.
pub(crate) fn libcall_table() -> *const Libcalls {
    &LIBCALLS
}

impl Instance {
    /// The instance's memory, mutably: no other Rust reference to it is
    /// live while a libcall or host function runs (wasm code is suspended
    /// in the call), nor during instantiation.
    pub(crate) fn memory_mut(&mut self) -> Option<&mut Memory> {
        // SAFETY: memories are owned by the store and outlive the instance;
        // see above.
        self.memory.map(|m| unsafe { &mut *m })
    }

    /// Table `t` of the instance, mutably (same reasoning as
    /// [`Self::memory_mut`]).
    fn table_mut(&mut self, t: u32) -> Option<&mut Table> {
        // SAFETY: tables are owned by the store and outlive the instance.
        self.tables.get(t as usize).map(|&p| unsafe { &mut *p })
    }
}

// SAFETY: `Store::instantiate_resolved` sets `host_ctx` of every `VmCtx`
// whose `libcalls` is `LIBCALLS` (and of every importer of `KWASM_FUNCS`) to
// its `Instance`, which the store keeps at a fixed address until it drops;
// while generated code runs (inside `Store::call_raw`, which holds the
// store mutably) no other reference to an instance is in use. The header's
// `trap_handler` is `kwasm_rt_trap_handler`, which never returns.
unsafe impl Runtime for Instance {
    type Packet = [u8];

    fn grow_memory(&mut self, delta: u32) -> Option<u32> {
        self.memory_mut()?.grow(delta)
    }

    fn data_and_memory(&mut self, data: u32) -> Option<(&[u8], &mut [u8])> {
        let mem = self.memory?;
        let bytes = self.data(data)?;
        // SAFETY: as in `memory_mut`; the segment's bytes are the
        // artifact's, not the memory's.
        Some((bytes, unsafe { (*mem).bytes_mut() }))
    }

    fn drop_data(&mut self, data: u32) {
        if let Some(d) = self.datas.get(data as usize) {
            d.drop_bytes();
        }
    }

    fn table(&mut self, t: u32) -> Option<&mut [u64]> {
        self.table_mut(t).map(Table::elems_mut)
    }

    fn grow_table(&mut self, t: u32, delta: u32, init: u64) -> Option<u32> {
        self.table_mut(t)?.grow(delta, init)
    }

    fn tables(&mut self, dst: u32, src: u32) -> Option<TablePair<'_>> {
        let d = *self.tables.get(dst as usize)?;
        let s = *self.tables.get(src as usize)?;
        // Two indices can name one table (imported twice): compare the
        // tables themselves before taking two borrows.
        // SAFETY: as in `table_mut`; `d` and `s` are distinct when both
        // are borrowed.
        Some(unsafe {
            if d == s {
                TablePair::Same((*d).elems_mut())
            } else {
                TablePair::Two {
                    dst: (*d).elems_mut(),
                    src: (*s).elems_mut(),
                }
            }
        })
    }

    fn drop_elem(&mut self, elem: u32) {
        if let Some(s) = self.elems.get(elem as usize) {
            s.drop_items();
        }
    }

    fn log(&mut self, ptr: u32, len: u32) -> Result<(), TrapCode> {
        let bytes = self
            .memory_mut()
            .and_then(|m| m.slice_mut(ptr as u64, len as u64))
            .ok_or(TrapCode::MemoryOutOfBounds)?;
        host::log(bytes);
        Ok(())
    }

    fn packet_and_memory(&mut self) -> (&[u8], Option<&mut [u8]>) {
        // SAFETY: as in `memory_mut`; the packet is the store's, not the
        // memory's.
        let mem = self.memory.map(|m| unsafe { (*m).bytes_mut() });
        (self.host.packet(), mem)
    }

    fn time_ns(&mut self) -> i64 {
        host::time_ns()
    }

    fn map_and_memory(&mut self, map: u32) -> (Option<(MapSlots<'_>, u32)>, Option<&mut [u8]>) {
        // SAFETY: as in `memory_mut`; the maps are the instance's own
        // fields, not the memory's.
        let mem = self.memory.map(|m| unsafe { (*m).bytes_mut() });
        (self.maps.get(map as usize).map(|m| (m.slots(), 0)), mem)
    }

    fn random_u32(&mut self) -> u32 {
        self.host.random_u32()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Artifact, InvokeError, Store, StoreConfig, TrapCode, Val};
    use std::rc::Rc;

    /// The `kwasm` host functions through abi's entry points, including the
    /// traps they raise through the header's handler.
    #[test]
    fn host_functions_work_and_trap_through_abi() {
        const WAT: &str = r#"(module
            (import "kwasm" "pkt_len" (func $pkt_len (result i32)))
            (import "kwasm" "pkt_load" (func $pkt_load (param i32 i32 i32) (result i32)))
            (import "kwasm" "map_add" (func $map_add (param i32 i32 i64) (result i64)))
            (import "kwasm" "log" (func $log (param i32 i32)))
            (memory 1)
            (func (export "pkt_len") (result i32) (call $pkt_len))
            (func (export "pkt_load") (param i32 i32 i32) (result i32)
                (call $pkt_load (local.get 0) (local.get 1) (local.get 2)))
            (func (export "byte") (param i32) (result i32) (i32.load8_u (local.get 0)))
            (func (export "map_add") (param i32 i32 i64) (result i64)
                (call $map_add (local.get 0) (local.get 1) (local.get 2)))
            (func (export "log") (param i32 i32) (call $log (local.get 0) (local.get 1)))
            (@custom "kwasm.maps" "\02\00\00\00"))"#;
        let kw = kwasm_compiler::compile(WAT.as_bytes(), &Default::default()).unwrap();
        let a = Rc::new(Artifact::from_bytes("host.kw", &kw).unwrap());
        let mut s = Store::new(StoreConfig {
            packet: vec![1, 2, 3, 4, 5],
            ..StoreConfig::default()
        });
        let i = s.instantiate(&a).unwrap();
        let mut call = |name: &str, args: &[Val]| s.invoke(i, name, args);
        let trap = |r: Result<Vec<Val>, InvokeError>| match r {
            Err(InvokeError::Trap(t)) => t.code,
            other => panic!("expected a trap, got {other:?}"),
        };
        assert_eq!(call("pkt_len", &[]).unwrap(), [Val::I32(5)]);
        let load = [Val::I32(3), Val::I32(100), Val::I32(8)];
        assert_eq!(call("pkt_load", &load).unwrap(), [Val::I32(2)]);
        assert_eq!(call("byte", &[Val::I32(101)]).unwrap(), [Val::I32(5)]);
        let load = [Val::I32(0), Val::I32(65535), Val::I32(2)];
        assert_eq!(trap(call("pkt_load", &load)), TrapCode::MemoryOutOfBounds);
        let add = |idx, d| [Val::I32(0), Val::I32(idx), Val::I64(d)];
        assert_eq!(call("map_add", &add(1, 5)).unwrap(), [Val::I64(5)]);
        assert_eq!(call("map_add", &add(1, -7)).unwrap(), [Val::I64(-2)]);
        assert_eq!(trap(call("map_add", &add(2, 1))), TrapCode::HostError);
        let log = [Val::I32(65535), Val::I32(2)];
        assert_eq!(trap(call("log", &log)), TrapCode::MemoryOutOfBounds);
        // A trap unwinds nothing in Rust: the instance still works.
        assert_eq!(call("pkt_len", &[]).unwrap(), [Val::I32(5)]);
    }
}
