//! Libcalls: runtime helpers generated code calls through the table at
//! `VmCtx + header::LIBCALLS` (indices `kwasm_abi::vmctx::libcall::*`).
//!
//! They get the *calling* instance's `VmCtx`. None of them traps by itself:
//! those that can fail return a status (0 = ok, else a `TrapCode`) and the
//! generated code raises the trap, so no Rust frame is ever skipped. Every
//! bounds check happens before any write, as the spec requires.

use super::instance::Instance;
use super::store::{Memory, Table};
use kwasm_abi::bulk;
use kwasm_abi::trap::TrapCode;
use kwasm_abi::vmctx::Libcalls;

const OK: u32 = 0;
const MEM_OOB: u32 = TrapCode::MemoryOutOfBounds as u32;
const TABLE_OOB: u32 = TrapCode::TableOutOfBounds as u32;

/// The libcall table; `abi::vmctx::Libcalls` fixes each entry's signature.
static TABLE: Libcalls = Libcalls {
    memory_grow,
    memory_fill,
    memory_copy,
    memory_init,
    data_drop,
    table_grow,
    table_fill,
    table_copy,
    table_init,
    elem_drop,
};

/// Address of the libcall table, for `VmCtx`.
pub(crate) fn table_addr() -> usize {
    &TABLE as *const Libcalls as usize
}

/// The calling instance.
///
/// # Safety
/// `vmctx` must be a live instance's `VmCtx` (generated code passes its own).
unsafe fn inst<'a>(vmctx: *mut u8) -> &'a Instance {
    // SAFETY: per this function's contract.
    unsafe { Instance::from_vmctx(vmctx) }
}

/// The instance's memory, mutably: no other Rust reference to it is live
/// while a libcall runs (wasm code is suspended in the call).
fn memory<'a>(i: &Instance) -> Option<&'a mut Memory> {
    // SAFETY: memories are owned by the store and outlive the call; see above.
    i.memory.map(|m| unsafe { &mut *m })
}

/// Table `t` of the instance, mutably (same reasoning as [`memory`]).
fn table<'a>(i: &Instance, t: u32) -> Option<&'a mut Table> {
    // SAFETY: tables are owned by the store and outlive the call.
    i.tables.get(t as usize).map(|&p| unsafe { &mut *p })
}

/// A libcall status from a [`bulk`] result.
fn status(ok: bool, trap: u32) -> u32 {
    if ok { OK } else { trap }
}

extern "C" fn memory_grow(vmctx: *mut u8, delta: u32) -> i32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    match memory(i).and_then(|m| m.grow(delta)) {
        Some(old) => old as i32,
        None => -1,
    }
}

extern "C" fn memory_fill(vmctx: *mut u8, dst: u32, val: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    memory(i).map_or(MEM_OOB, |m| {
        status(bulk::fill(m.bytes_mut(), dst, len, val as u8), MEM_OOB)
    })
}

extern "C" fn memory_copy(vmctx: *mut u8, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    memory(i).map_or(MEM_OOB, |m| {
        status(bulk::copy_within(m.bytes_mut(), dst, src, len), MEM_OOB)
    })
}

extern "C" fn memory_init(vmctx: *mut u8, data: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    match (i.data(data), memory(i)) {
        (Some(bytes), Some(m)) => status(bulk::copy(m.bytes_mut(), dst, bytes, src, len), MEM_OOB),
        _ => MEM_OOB,
    }
}

extern "C" fn data_drop(vmctx: *mut u8, data: u32) {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    i.drop_data(data);
}

extern "C" fn table_grow(vmctx: *mut u8, t: u32, init: u64, delta: u32) -> i32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    match table(i, t).and_then(|t| t.grow(delta, init)) {
        Some(old) => old as i32,
        None => -1,
    }
}

extern "C" fn table_fill(vmctx: *mut u8, t: u32, dst: u32, val: u64, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    table(i, t).map_or(TABLE_OOB, |t| {
        status(bulk::fill(t.elems_mut(), dst, len, val), TABLE_OOB)
    })
}

extern "C" fn table_copy(vmctx: *mut u8, dt: u32, st: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    let (Some(&dp), Some(&sp)) = (i.tables.get(dt as usize), i.tables.get(st as usize)) else {
        return TABLE_OOB;
    };
    // Two indices can name one table (imported twice), so compare the tables
    // themselves before taking two borrows.
    let ok = if dp == sp {
        // SAFETY: tables are owned by the store and outlive the call; this is
        // the only reference to this one while the libcall runs.
        bulk::copy_within(unsafe { (*dp).elems_mut() }, dst, src, len)
    } else {
        // SAFETY: as above, and `dp` and `sp` are distinct tables.
        let (d, s) = unsafe { (&mut *dp, &mut *sp) };
        bulk::copy(d.elems_mut(), dst, s.elems_mut(), src, len)
    };
    status(ok, TABLE_OOB)
}

extern "C" fn table_init(vmctx: *mut u8, t: u32, elem: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    match (i.elems.get(elem as usize), table(i, t)) {
        (Some(seg), Some(t)) => status(
            bulk::copy(t.elems_mut(), dst, seg.items(), src, len),
            TABLE_OOB,
        ),
        _ => TABLE_OOB,
    }
}

extern "C" fn elem_drop(vmctx: *mut u8, elem: u32) {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    if let Some(s) = i.elems.get(elem as usize) {
        s.drop_items();
    }
}
