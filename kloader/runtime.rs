// SPDX-License-Identifier: GPL-2.0

//! What generated code calls: the trap recorder behind `kwasm_trap_handler`,
//! the libcalls (`VmCtx + LIBCALLS`) and the host functions (imports).
//!
//! All of them run on the wasm stack, in the context of the invocation
//! (softirq or `INVOKE` with bottom halves disabled), with the calling
//! instance reached through `VmCtx + HOST_CTX`. They never allocate or sleep.
//! Libcalls report failure as a status that generated code raises; host
//! functions that must trap call the trap handler themselves from a frame
//! that holds nothing needing a destructor.

use core::ffi::c_void;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::abi::bulk;
use crate::abi::host::HostFuncId;
use crate::abi::trap::TrapCode;
use crate::abi::vmctx::{header, Libcalls, WASM_PAGE_SIZE};
use crate::ffi::{self, MsgBuf, RateLimit};
use crate::program::{Instance, Program};

const OK: u32 = 0;
const MEM_OOB: u32 = TrapCode::MemoryOutOfBounds as u32;
const TABLE_OOB: u32 = TrapCode::TableOutOfBounds as u32;

/// The instance whose `VmCtx` is `vmctx`.
///
/// # Safety
/// `vmctx` must be the `VmCtx` of a live instance whose call is running on
/// this CPU (what generated code passes); the caller has it exclusively.
unsafe fn inst<'a>(vmctx: *mut u8) -> &'a mut Instance {
    // SAFETY: per this function's contract, HOST_CTX holds the instance.
    unsafe { &mut **vmctx.add(header::HOST_CTX as usize).cast::<*mut Instance>() }
}

/// The instance's program.
fn prog<'a>(i: &Instance) -> &'a Program {
    // SAFETY: set by `Program::bind` before any call; the program outlives
    // its running calls.
    unsafe { &*i.prog }
}

/// Called by `kwasm_trap_handler` (entry.S): record the trap and return the
/// jmpbuf to restore.
#[no_mangle]
pub(crate) extern "C" fn kwasm_rs_trap(vmctx: *mut u8, code: u32, func: u32) -> *mut u64 {
    // SAFETY: the handler is only reachable from generated code and host
    // functions of a running call, which pass that call's VmCtx.
    let i = unsafe { inst(vmctx) };
    i.trapped = true;
    i.trap_code = if code == 0 { TrapCode::HostError as u32 } else { code };
    i.trap_func = func;
    i.jmpbuf.as_mut_ptr()
}

/// Raise a trap from a host function. Does not return: callers follow it
/// with a dummy result that is never used.
///
/// # Safety
/// `vmctx` as for [`inst`]; the calling frame must hold nothing that needs
/// dropping, since the handler does not return.
unsafe fn raise(vmctx: *mut u8, code: TrapCode) {
    // SAFETY: per this function's contract.
    unsafe { ffi::kwasm_trap_handler(vmctx, code as u32, u32::MAX) }
}

// ---------------------------------------------------------------------------
// Libcalls.

/// The libcall table; `abi::vmctx::Libcalls` fixes each entry's signature.
static LIBCALLS: Libcalls = Libcalls {
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
pub(crate) fn libcall_table() -> usize {
    &LIBCALLS as *const Libcalls as usize
}

/// A libcall status from a [`bulk`] result.
fn status(ok: bool, trap: u32) -> u32 {
    if ok {
        OK
    } else {
        trap
    }
}

extern "C" fn memory_grow(vmctx: *mut u8, delta: u32) -> i32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    let Some(m) = i.memory.as_ref() else { return -1 };
    // Growing never allocates: the memory was preallocated at load.
    let cap = m.len() as u64 / WASM_PAGE_SIZE;
    let old = i.mem_len() / WASM_PAGE_SIZE;
    match bulk::grow(old, delta, cap) {
        Some(new) => {
            i.set_mem_len(new * WASM_PAGE_SIZE);
            old as i32
        }
        None => -1,
    }
}

extern "C" fn memory_fill(vmctx: *mut u8, dst: u32, val: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    status(bulk::fill(i.mem_bytes(), dst, len, val as u8), MEM_OOB)
}

extern "C" fn memory_copy(vmctx: *mut u8, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    status(bulk::copy_within(i.mem_bytes(), dst, src, len), MEM_OOB)
}

extern "C" fn memory_init(vmctx: *mut u8, data: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    let p = prog(i);
    let Some(d) = p.meta.datas().get(data) else { return MEM_OOB };
    let dropped = i.data_dropped.get(data as usize).copied().unwrap_or(true);
    let bytes = if dropped { &[][..] } else { p.meta.pool_bytes(d.bytes).unwrap_or(&[]) };
    status(bulk::copy(i.mem_bytes(), dst, bytes, src, len), MEM_OOB)
}

extern "C" fn data_drop(vmctx: *mut u8, data: u32) {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    if let Some(d) = i.data_dropped.get_mut(data as usize) {
        *d = true;
    }
}

extern "C" fn table_grow(vmctx: *mut u8, t: u32, init: u64, delta: u32) -> i32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    let Some(cap) = i.tables.get(t as usize).map(|tb| tb.cap) else { return -1 };
    let old = i.table_len(t);
    let Some(new) = bulk::grow(old, delta, cap as u64) else { return -1 };
    i.set_table_len(t, new);
    if let Some(e) = i.table_elems(t) {
        e[old as usize..].fill(init);
    }
    old as i32
}

extern "C" fn table_fill(vmctx: *mut u8, t: u32, dst: u32, val: u64, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    i.table_elems(t).map_or(TABLE_OOB, |e| status(bulk::fill(e, dst, len, val), TABLE_OOB))
}

extern "C" fn table_copy(vmctx: *mut u8, dt: u32, st: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    if dt == st {
        return i.table_elems(dt).map_or(TABLE_OOB, |e| status(bulk::copy_within(e, dst, src, len), TABLE_OOB));
    }
    // Programs import no tables, so different indices are different tables.
    let Some(s) = i.table_elems(st).map(|e| e as *const [u64]) else { return TABLE_OOB };
    let Some(d) = i.table_elems(dt) else { return TABLE_OOB };
    // SAFETY: `s` is another table's live buffer, disjoint from `d`, and
    // nothing writes it while the libcall runs.
    status(bulk::copy(d, dst, unsafe { &*s }, src, len), TABLE_OOB)
}

extern "C" fn table_init(vmctx: *mut u8, t: u32, elem: u32, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    let dropped = i.elem_dropped.get(elem as usize).copied().unwrap_or(true);
    let items: *const [u64] = match i.elems.get(elem as usize) {
        Some(e) if !dropped => &e[..],
        _ => &[],
    };
    let Some(d) = i.table_elems(t) else { return TABLE_OOB };
    // SAFETY: `items` is the segment's own buffer, owned by the instance,
    // disjoint from every table and unchanged while the libcall runs.
    status(bulk::copy(d, dst, unsafe { &*items }, src, len), TABLE_OOB)
}

extern "C" fn elem_drop(vmctx: *mut u8, elem: u32) {
    // SAFETY: called by generated code with its own VmCtx.
    let i = unsafe { inst(vmctx) };
    if let Some(d) = i.elem_dropped.get_mut(elem as usize) {
        *d = true;
    }
}

// ---------------------------------------------------------------------------
// Host functions (`abi::host`).

/// Address of the implementation of a host function.
pub(crate) fn host_func(id: HostFuncId) -> usize {
    match id {
        HostFuncId::Log => host_log as *const () as usize,
        HostFuncId::PktLen => host_pkt_len as *const () as usize,
        HostFuncId::PktLoad => host_pkt_load as *const () as usize,
        HostFuncId::TimeNs => host_time_ns as *const () as usize,
        HostFuncId::MapGet => host_map_get as *const () as usize,
        HostFuncId::MapSet => host_map_set as *const () as usize,
        HostFuncId::MapAdd => host_map_add as *const () as usize,
        HostFuncId::RandomU32 => host_random_u32 as *const () as usize,
    }
}

/// What `log` hands to [`log_on_kstack`].
struct LogMsg<'a> {
    limit: &'a RateLimit,
    msg: &'a [u8],
}

/// Prints a `log` message; runs on the kernel stack (printk and the console
/// drivers go deep, and the wasm stack's reserve is not sized for them).
extern "C" fn log_on_kstack(arg: *mut c_void) {
    // SAFETY: `arg` is the `LogMsg` that `log_impl` passed, live for the call.
    let m = unsafe { &*arg.cast::<LogMsg<'_>>() };
    m.limit.log(m.msg);
}

fn log_impl(i: &mut Instance, ptr: u32, len: u32) -> Result<(), TrapCode> {
    let p = prog(i);
    let bytes = i.mem_slice(ptr, len).ok_or(TrapCode::MemoryOutOfBounds)?;
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut msg = MsgBuf::new();
    msg.push_sanitized(p.name().as_bytes());
    msg.push_sanitized(b": ");
    msg.push_sanitized(bytes);
    let m = LogMsg { limit: &p.log_limit, msg: msg.as_bytes() };
    // SAFETY: a host function runs inside `kwasm_enter`, whose saved kernel
    // stack pointer is in `jmpbuf`; `m` outlives the call.
    unsafe {
        ffi::kwasm_on_kstack(log_on_kstack, core::ptr::from_ref(&m).cast_mut().cast(), i.jmpbuf.as_ptr())
    };
    Ok(())
}

extern "C" fn host_log(vmctx: *mut u8, ptr: u32, len: u32) {
    // SAFETY: called by generated code with the importer's VmCtx.
    let r = log_impl(unsafe { inst(vmctx) }, ptr, len);
    if let Err(c) = r {
        // SAFETY: nothing in this frame needs dropping.
        unsafe { raise(vmctx, c) }
    }
}

extern "C" fn host_pkt_len(vmctx: *mut u8) -> i32 {
    // SAFETY: called by generated code with the importer's VmCtx.
    let i = unsafe { inst(vmctx) };
    if i.skb.is_null() {
        return 0;
    }
    // SAFETY: `skb` is the running hook's packet.
    unsafe { ffi::kwasm_skb_len(i.skb) }.min(i32::MAX as u32) as i32
}

fn pkt_load_impl(i: &mut Instance, off: u32, dst: u32, len: u32) -> Result<i32, TrapCode> {
    let skb = i.skb;
    let out = i.mem_slice(dst, len).ok_or(TrapCode::MemoryOutOfBounds)?;
    if skb.is_null() {
        return Ok(0);
    }
    // SAFETY: `skb` is the running hook's packet.
    let plen = unsafe { ffi::kwasm_skb_len(skb) };
    if off >= plen {
        return Ok(0);
    }
    let n = len.min(plen - off);
    // SAFETY: `out` has `len >= n` bytes; `off + n <= plen`.
    let r = unsafe { ffi::kwasm_skb_copy(skb, off, out.as_mut_ptr().cast(), n) };
    if r < 0 {
        return Ok(0);
    }
    Ok(n as i32)
}

extern "C" fn host_pkt_load(vmctx: *mut u8, off: u32, dst: u32, len: u32) -> i32 {
    // SAFETY: called by generated code with the importer's VmCtx.
    let r = pkt_load_impl(unsafe { inst(vmctx) }, off, dst, len);
    match r {
        Ok(n) => n,
        Err(c) => {
            // SAFETY: nothing in this frame needs dropping.
            unsafe { raise(vmctx, c) };
            0
        }
    }
}

extern "C" fn host_time_ns(_vmctx: *mut u8) -> i64 {
    // SAFETY: no preconditions.
    unsafe { ffi::kwasm_time_ns() as i64 }
}

fn map_slot<'a>(i: &Instance, map: u32, idx: u32) -> Result<&'a AtomicU64, TrapCode> {
    prog(i)
        .map(map)
        .and_then(|m| m.get(idx as usize))
        .ok_or(TrapCode::HostError)
}

extern "C" fn host_map_get(vmctx: *mut u8, map: u32, idx: u32) -> i64 {
    // SAFETY: called by generated code with the importer's VmCtx.
    match map_slot(unsafe { inst(vmctx) }, map, idx) {
        Ok(s) => s.load(Ordering::Relaxed) as i64,
        Err(c) => {
            // SAFETY: nothing in this frame needs dropping.
            unsafe { raise(vmctx, c) };
            0
        }
    }
}

extern "C" fn host_map_set(vmctx: *mut u8, map: u32, idx: u32, v: i64) {
    // SAFETY: called by generated code with the importer's VmCtx.
    match map_slot(unsafe { inst(vmctx) }, map, idx) {
        Ok(s) => s.store(v as u64, Ordering::Relaxed),
        // SAFETY: nothing in this frame needs dropping.
        Err(c) => unsafe { raise(vmctx, c) },
    }
}

extern "C" fn host_map_add(vmctx: *mut u8, map: u32, idx: u32, d: i64) -> i64 {
    // SAFETY: called by generated code with the importer's VmCtx.
    match map_slot(unsafe { inst(vmctx) }, map, idx) {
        Ok(s) => s.fetch_add(d as u64, Ordering::Relaxed).wrapping_add(d as u64) as i64,
        Err(c) => {
            // SAFETY: nothing in this frame needs dropping.
            unsafe { raise(vmctx, c) };
            0
        }
    }
}

extern "C" fn host_random_u32(_vmctx: *mut u8) -> i32 {
    // SAFETY: no preconditions.
    unsafe { ffi::kwasm_random_u32() as i32 }
}
