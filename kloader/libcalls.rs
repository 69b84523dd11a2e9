// SPDX-License-Identifier: GPL-2.0

//! What generated code calls besides host functions: the trap recorder
//! behind `kwasm_trap_handler` (entry.S) and the libcalls (`VmCtx +
//! LIBCALLS`, signatures fixed by `abi::vmctx::Libcalls`).
//!
//! All of them run on the wasm stack, in the context of the invocation
//! (softirq, or process context with bottom halves disabled), with the
//! calling instance reached through `VmCtx + HOST_CTX` ([`caller`]). They
//! never allocate or sleep. Libcalls report failure as a status that
//! generated code raises; bounds are checked by `abi::bulk` before any
//! write.

use crate::abi::bulk;
use crate::abi::trap::TrapCode;
use crate::abi::vmctx::{Libcalls, VmCtxHeader, WASM_PAGE_SIZE};
use crate::instance::{self, Instance};

/// The instance whose `VmCtx` is `vmctx`.
///
/// # Safety
/// `vmctx` is what generated code passed: the `VmCtx` of an instance whose
/// call (`CpuSlot::call`) is running on this CPU. That call holds no
/// reference to the instance while generated code runs, and generated code
/// is suspended in this call, so the result is the only one.
pub(crate) unsafe fn caller<'a>(vmctx: *mut u8) -> &'a mut Instance {
    // SAFETY: per this function's contract `vmctx` starts with the header,
    // whose `host_ctx` `CpuSlot::new` pointed at the instance.
    unsafe { &mut *(*vmctx.cast::<VmCtxHeader>()).host_ctx.cast::<Instance>() }
}

/// Called by `kwasm_trap_handler` (entry.S): records the trap and returns
/// the jmpbuf to restore.
#[no_mangle]
pub(crate) extern "C" fn kwasm_rs_trap(vmctx: *mut u8, code: u32, func: u32) -> *mut u64 {
    // SAFETY: the handler is only reachable from generated code, libcalls
    // and host functions of a running call, which pass that call's VmCtx.
    instance::record_trap(unsafe { caller(vmctx) }, code, func)
}

/// Defines a libcall: an `extern "C" fn(vmctx, args..)` that runs its body
/// with `$i`, the calling instance.
macro_rules! libcall {
    ($(fn $name:ident($i:ident $(, $a:ident: $t:ty)*) $(-> $r:ty)? $body:block)*) => {$(
        extern "C" fn $name(vmctx: *mut u8 $(, $a: $t)*) $(-> $r)? {
            // SAFETY: libcalls are reachable only through the table in a
            // `VmCtx`, called by generated code with its own `VmCtx`
            // during its call, as `caller` requires.
            let $i: &mut Instance = unsafe { caller(vmctx) };
            $body
        }
    )*};
}

/// The libcall table.
static LIBCALLS: Libcalls = Libcalls {
    memory_grow, memory_fill, memory_copy, memory_init, data_drop,
    table_grow, table_fill, table_copy, table_init, elem_drop,
};

/// Address of the libcall table, for `VmCtx`.
pub(crate) fn table() -> *const Libcalls {
    &LIBCALLS
}

/// A libcall status from a [`bulk`] result: 0, or the trap to raise.
fn status(ok: bool, trap: TrapCode) -> u32 {
    if ok {
        0
    } else {
        trap as u32
    }
}

/// Memory traps.
fn mem(ok: bool) -> u32 {
    status(ok, TrapCode::MemoryOutOfBounds)
}

/// Table traps.
fn tab(ok: bool) -> u32 {
    status(ok, TrapCode::TableOutOfBounds)
}

/// `grow` on a length in units: the old length, or -1; never allocates
/// (everything up to `cap` was allocated at load).
fn grow(old: u64, delta: u32, cap: u64) -> Option<(i32, u64)> {
    bulk::grow(old, delta, cap).map(|new| (old as i32, new))
}

libcall! {
    fn memory_grow(i, delta: u32) -> i32 {
        let page = WASM_PAGE_SIZE;
        match grow(i.mem_len() / page, delta, i.mem_cap() / page) {
            Some((old, new)) if i.mem_cap() > 0 => {
                i.set_mem_len(new * page);
                old
            }
            _ => -1,
        }
    }

    fn memory_fill(i, dst: u32, val: u32, len: u32) -> u32 {
        mem(bulk::fill(i.mem_bytes(), dst, len, val as u8))
    }

    fn memory_copy(i, dst: u32, src: u32, len: u32) -> u32 {
        mem(bulk::copy_within(i.mem_bytes(), dst, src, len))
    }

    fn memory_init(i, data: u32, dst: u32, src: u32, len: u32) -> u32 {
        let meta = i.meta;
        let Some(d) = meta.datas().get(data) else { return mem(false) };
        let dropped = i.data_dropped.get(data as usize).copied().unwrap_or(true);
        let bytes = if dropped { &[][..] } else { meta.pool_bytes(d.bytes).unwrap_or(&[]) };
        mem(bulk::copy(i.mem_bytes(), dst, bytes, src, len))
    }

    fn data_drop(i, data: u32) {
        if let Some(d) = i.data_dropped.get_mut(data as usize) {
            *d = true;
        }
    }

    fn table_grow(i, t: u32, init: u64, delta: u32) -> i32 {
        let (Some(len), Some(cap)) = (i.table_len(t), i.table_cap(t)) else { return -1 };
        let Some((old, new)) = grow(len as u64, delta, cap) else { return -1 };
        i.set_table_len(t, new);
        if let Some(e) = i.table_elems(t) {
            e[len..].fill(init);
        }
        old
    }

    fn table_fill(i, t: u32, dst: u32, val: u64, len: u32) -> u32 {
        i.table_elems(t).map_or(tab(false), |e| tab(bulk::fill(e, dst, len, val)))
    }

    fn table_copy(i, dt: u32, st: u32, dst: u32, src: u32, len: u32) -> u32 {
        // Programs import no tables, so different indices are different
        // tables.
        if dt == st {
            return i.table_elems(dt).map_or(tab(false), |e| tab(bulk::copy_within(e, dst, src, len)));
        }
        i.two_tables(dt, st).map_or(tab(false), |(d, s)| tab(bulk::copy(d, dst, s, src, len)))
    }

    fn table_init(i, t: u32, elem: u32, dst: u32, src: u32, len: u32) -> u32 {
        i.elem_and_table(elem, t).map_or(tab(false), |(s, d)| tab(bulk::copy(d, dst, s, src, len)))
    }

    fn elem_drop(i, elem: u32) {
        if let Some(d) = i.elem_dropped.get_mut(elem as usize) {
            *d = true;
        }
    }
}
