//! Libcalls: runtime helpers generated code calls through the table at
//! `VmCtx + header::LIBCALLS` (indices `kwasm_abi::vmctx::libcall::*`).
//!
//! They get the *calling* instance's `VmCtx`. None of them traps by itself:
//! those that can fail return a status (0 = ok, else a `TrapCode`) and the
//! generated code raises the trap, so no Rust frame is ever skipped. Every
//! bounds check happens before any write, as the spec requires.

use super::instance::Instance;
use super::store::{Memory, Table};
use kwasm_abi::trap::TrapCode;
use kwasm_abi::vmctx::libcall;

const OK: u32 = 0;
const MEM_OOB: u32 = TrapCode::MemoryOutOfBounds as u32;
const TABLE_OOB: u32 = TrapCode::TableOutOfBounds as u32;

/// The libcall table, indexed by `libcall::*`.
struct LibcallTable([*const (); libcall::COUNT as usize]);

// SAFETY: the table is immutable and holds only function addresses.
unsafe impl Sync for LibcallTable {}

static TABLE: LibcallTable = LibcallTable({
    let mut t = [std::ptr::null::<()>(); libcall::COUNT as usize];
    t[libcall::MEMORY_GROW as usize] = memory_grow as *const ();
    t[libcall::MEMORY_FILL as usize] = memory_fill as *const ();
    t[libcall::MEMORY_COPY as usize] = memory_copy as *const ();
    t[libcall::MEMORY_INIT as usize] = memory_init as *const ();
    t[libcall::DATA_DROP as usize] = data_drop as *const ();
    t[libcall::TABLE_GROW as usize] = table_grow as *const ();
    t[libcall::TABLE_FILL as usize] = table_fill as *const ();
    t[libcall::TABLE_COPY as usize] = table_copy as *const ();
    t[libcall::TABLE_INIT as usize] = table_init as *const ();
    t[libcall::ELEM_DROP as usize] = elem_drop as *const ();
    t
});

/// Address of the libcall table, for `VmCtx`.
pub(crate) fn table_addr() -> usize {
    TABLE.0.as_ptr() as usize
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

fn in_bounds(off: u32, len: u32, size: u64) -> bool {
    off as u64 + len as u64 <= size
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
    match memory(i).and_then(|m| m.slice_mut(dst as u64, len as u64)) {
        Some(s) => {
            s.fill(val as u8);
            OK
        }
        None => MEM_OOB,
    }
}

extern "C" fn memory_copy(vmctx: *mut u8, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    let Some(m) = memory(i) else { return MEM_OOB };
    let size = m.len();
    if !in_bounds(dst, len, size) || !in_bounds(src, len, size) {
        return MEM_OOB;
    }
    if len != 0 {
        // SAFETY: both ranges were checked against the memory's length;
        // `copy` handles overlap.
        unsafe {
            let base = m.base();
            std::ptr::copy(base.add(src as usize), base.add(dst as usize), len as usize);
        }
    }
    OK
}

extern "C" fn memory_init(vmctx: *mut u8, data: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    let Some(bytes) = i.data(data) else {
        return MEM_OOB;
    };
    if !in_bounds(src, len, bytes.len() as u64) {
        return MEM_OOB;
    }
    match memory(i).and_then(|m| m.slice_mut(dst as u64, len as u64)) {
        Some(d) => {
            d.copy_from_slice(&bytes[src as usize..(src + len) as usize]);
            OK
        }
        None => MEM_OOB,
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
    let Some(t) = table(i, t) else {
        return TABLE_OOB;
    };
    let e = t.elems_mut();
    if !in_bounds(dst, len, e.len() as u64) {
        return TABLE_OOB;
    }
    e[dst as usize..(dst + len) as usize].fill(val);
    OK
}

extern "C" fn table_copy(vmctx: *mut u8, dt: u32, st: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    let (Some(&dp), Some(&sp)) = (i.tables.get(dt as usize), i.tables.get(st as usize)) else {
        return TABLE_OOB;
    };
    // SAFETY: tables are owned by the store. Read the lengths first, then
    // copy through raw pointers since source and destination may be the
    // same table.
    unsafe {
        let (dlen, slen) = ((*dp).len() as u64, (*sp).len() as u64);
        if !in_bounds(dst, len, dlen) || !in_bounds(src, len, slen) {
            return TABLE_OOB;
        }
        if len != 0 {
            let s = (*(*sp).vm).base.add(src as usize);
            let d = (*(*dp).vm).base.add(dst as usize);
            std::ptr::copy(s, d, len as usize);
        }
    }
    OK
}

extern "C" fn table_init(vmctx: *mut u8, t: u32, elem: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    let Some(seg) = i.elems.get(elem as usize) else {
        return TABLE_OOB;
    };
    let items = seg.items();
    let Some(t) = table(i, t) else {
        return TABLE_OOB;
    };
    let e = t.elems_mut();
    if !in_bounds(src, len, items.len() as u64) || !in_bounds(dst, len, e.len() as u64) {
        return TABLE_OOB;
    }
    e[dst as usize..(dst + len) as usize]
        .copy_from_slice(&items[src as usize..(src + len) as usize]);
    OK
}

extern "C" fn elem_drop(vmctx: *mut u8, elem: u32) {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    if let Some(s) = i.elems.get(elem as usize) {
        s.drop_items();
    }
}
