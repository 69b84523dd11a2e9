// SPDX-License-Identifier: GPL-2.0

//! What generated code calls besides its own functions: the trap recorder
//! behind `kwasm_trap_handler` (entry_*.S), the libcalls (`VmCtx + LIBCALLS`)
//! and the host functions (import slots).
//!
//! The libcalls and host functions are abi's (`abi::calls`, shared with the
//! userspace runtime): their entry points, bounds checks and traps. This
//! file only says where an [`Instance`] keeps what they work on, and
//! provides the kernel's services (the packet, the clock, maps, random
//! numbers, the log in [`host`]).
//!
//! All of them run on the wasm stack, in the context of the invocation
//! (softirq, or process context with bottom halves disabled), with the
//! calling instance reached through `VmCtx + HOST_CTX`. They never allocate,
//! sleep or panic. Memory and tables grow only within what was
//! preallocated at load.


use kernel::time::Ktime;

use crate::abi::bulk;
use crate::abi::calls::{self, Runtime, TablePair};
use crate::abi::host::HostFuncs;
use crate::abi::maps::MapSlots;
use crate::abi::trap::TrapCode;
use crate::abi::vmctx::{Libcalls, VmCtxHeader, WASM_PAGE_SIZE};
use crate::ffi::{self, Packet};
use crate::host;
use crate::instance::{self, Instance};

/// The libcall table of every instance.
static LIBCALLS: Libcalls = calls::libcalls::<Instance>();

/// The host functions, for the import slots and function references.
pub(crate) static HOST_FUNCS: HostFuncs = calls::host_funcs::<Instance>();

/// Address of the libcall table, for `VmCtx`.
pub(crate) fn table() -> *const Libcalls {
    &LIBCALLS
}

/// Called by `kwasm_trap_handler` (entry_*.S): records the trap and returns
/// the jmpbuf to restore.
#[no_mangle]
pub(crate) extern "C" fn kwasm_rs_trap(vmctx: *mut u8, code: u32, func: u32) -> *mut u64 {
    // SAFETY: the handler is only reachable from generated code, libcalls
    // and host functions of a running call (`CpuSlot::call`), which pass
    // that call's `VmCtx`; its header's `host_ctx` is the instance
    // (`CpuSlot::new`), to which that call holds no reference while
    // generated code runs, and generated code is suspended here, so this
    // is the only reference.
    let i = unsafe { &mut *(*vmctx.cast::<VmCtxHeader>()).host_ctx.cast::<Instance>() };
    instance::record_trap(i, code, func)
}

/// The packet `pkt_len`/`pkt_load` see: none outside a hook invocation.
impl calls::Packet for Option<Packet> {
    fn length(&self) -> u32 {
        self.as_ref().map_or(0, Packet::len)
    }

    fn copy_to(&self, off: u32, out: &mut [u8]) -> bool {
        self.as_ref().is_some_and(|p| p.copy(off, out))
    }
}

// SAFETY: `LIBCALLS` and `HOST_FUNCS` are used only in the `VmCtx`s of
// instances, whose header's `host_ctx` `CpuSlot::new` points at the
// instance, boxed at a fixed address for its life. Generated code runs on
// an instance only inside `CpuSlot::call`, on its own CPU with bottom halves
// disabled, which holds no reference to the instance while it runs, so the
// call may borrow it mutably. The header's `trap_handler` is
// `kwasm_trap_handler` (entry_*.S), which restores the `kwasm_enter` frame
// and never returns into its caller's; `raise` calls it directly.
unsafe impl Runtime for Instance {
    type Packet = Option<Packet>;

    /// Within the preallocation only: nothing allocates on the packet path.
    fn grow_memory(&mut self, delta: u32) -> Option<u32> {
        let cap = self.mem_cap() / WASM_PAGE_SIZE;
        let old = self.mem_len() / WASM_PAGE_SIZE;
        let new = bulk::grow(old, delta, cap).filter(|_| cap > 0)?;
        self.set_mem_len(new * WASM_PAGE_SIZE);
        Some(old as u32)
    }

    fn data_and_memory(&mut self, data: u32) -> Option<(&[u8], &mut [u8])> {
        let meta = self.meta;
        let d = meta.datas().get(data)?;
        let dropped = self.data_dropped.get(data as usize).copied().unwrap_or(true);
        let bytes = if dropped { &[][..] } else { meta.pool_bytes(d.bytes).unwrap_or(&[]) };
        Some((bytes, self.mem_bytes()))
    }

    fn drop_data(&mut self, data: u32) {
        if let Some(d) = self.data_dropped.get_mut(data as usize) {
            *d = true;
        }
    }

    fn table(&mut self, t: u32) -> Option<&mut [u64]> {
        self.table_elems(t)
    }

    /// Within the preallocation only, as for memory.
    fn grow_table(&mut self, t: u32, delta: u32, init: u64) -> Option<u32> {
        let (len, cap) = (self.table_len(t)?, self.table_cap(t)?);
        let new = bulk::grow(len as u64, delta, cap)?;
        self.set_table_len(t, new);
        if let Some(e) = self.table_elems(t).and_then(|e| e.get_mut(len..)) {
            e.fill(init);
        }
        Some(len as u32)
    }

    /// Programs import no tables, so different indices are different
    /// tables.
    fn tables(&mut self, dst: u32, src: u32) -> Option<TablePair<'_>> {
        if dst == src {
            return self.table_elems(dst).map(TablePair::Same);
        }
        let (dst, src) = self.two_tables(dst, src)?;
        Some(TablePair::Two { dst, src })
    }

    fn drop_elem(&mut self, elem: u32) {
        if let Some(d) = self.elem_dropped.get_mut(elem as usize) {
            *d = true;
        }
    }

    fn log(&mut self, ptr: u32, len: u32) -> Result<(), TrapCode> {
        host::log(self, ptr, len)
    }

    /// Memory is never `None`: without one it is empty, so only a
    /// zero-length `pkt_load` at 0 succeeds, as before abi had the calls.
    fn packet_and_memory(&mut self) -> (&Option<Packet>, Option<&mut [u8]>) {
        let (pkt, mem) = self.packet_and_mem();
        (pkt, Some(mem))
    }

    fn time_ns(&mut self) -> i64 {
        Ktime::ktime_get().to_ns()
    }

    fn map_and_memory(&mut self, map: u32) -> (Option<(MapSlots<'_>, u32)>, Option<&mut [u8]>) {
        let cpu = self.cpu;
        let (shared, mem) = self.shared_and_mem();
        (shared.map(map).map(|m| (m, cpu)), Some(mem))
    }

    fn random_u32(&mut self) -> u32 {
        ffi::kwasm_random_u32()
    }

    /// Directly, not through the header: kCFI would reject an indirect
    /// call to `kwasm_trap_handler` (entry_*.S gives it no type hash), and
    /// objtool would take that call as returning.
    unsafe fn raise(vmctx: *mut u8, code: TrapCode) -> ! {
        // SAFETY: per this method's contract, `vmctx` is the running call's
        // and nothing up to generated code needs dropping.
        unsafe { ffi::raise(vmctx, code as u32) }
    }
}
