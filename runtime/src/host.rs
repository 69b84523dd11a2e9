//! Host modules: `kwasm` (the host API of `kwasm_abi::host`, with the alias
//! `env._debug`) and `spectest` (for the spec test suite).
//!
//! Host functions are `extern "C"` functions called like wasm functions:
//! the importing instance's `VmCtx` first, then the wasm arguments. They must
//! not unwind. To trap they call the trap handler directly, from a frame that
//! holds nothing needing a destructor (the real work happens in a helper that
//! has returned by then).

use super::instance::Instance;
use super::store::{Memory, Store};
use super::trampoline::kwasm_rt_trap_handler;
use super::values::FuncType;
use kwasm_abi::host::{HOST_FUNCS, HostFuncId};
use kwasm_abi::trap::TrapCode;
use kwasm_abi::types::ValType;
use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::Ordering;

/// State the host functions share within a store.
pub struct HostState {
    packet: Vec<u8>,
    rng: Cell<u64>,
    /// Whether `spectest.print*` write to stdout.
    pub(crate) print: Cell<bool>,
}

impl HostState {
    pub(crate) fn new(packet: Vec<u8>) -> HostState {
        HostState {
            packet,
            rng: Cell::new(0x9e37_79b9_7f4a_7c15),
            print: Cell::new(true),
        }
    }
}

impl Store {
    /// Whether `spectest.print*` print to stdout (default: yes).
    pub fn set_spectest_print(&self, on: bool) {
        self.host.print.set(on);
    }
}

/// Raise a trap from a host function.
///
/// # Safety
/// `vmctx` must be the caller's `VmCtx`, and the calling frame must hold no
/// value with a destructor: the handler does not return.
unsafe fn raise(vmctx: *mut u8, code: TrapCode) -> ! {
    // SAFETY: per this function's contract.
    unsafe { kwasm_rt_trap_handler(vmctx, code as u32, u32::MAX) }
}

/// The calling instance.
///
/// # Safety
/// `vmctx` must be a live instance's `VmCtx`.
unsafe fn caller<'a>(vmctx: *mut u8) -> &'a Instance {
    // SAFETY: per this function's contract.
    unsafe { Instance::from_vmctx(vmctx) }
}

fn memory_slice<'a>(
    mem: Option<*mut Memory>,
    ptr: u32,
    len: u32,
) -> Result<&'a mut [u8], TrapCode> {
    // SAFETY: the memory is owned by the store and outlives the call; no
    // other reference to it is live while a host function runs.
    let m = mem.map(|m| unsafe { &mut *m });
    m.and_then(|m| m.slice_mut(ptr as u64, len as u64))
        .ok_or(TrapCode::MemoryOutOfBounds)
}

fn log_impl(i: &Instance, ptr: u32, len: u32) -> Result<(), TrapCode> {
    let bytes = memory_slice(i.memory, ptr, len)?;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(bytes);
    if bytes.last() != Some(&b'\n') {
        let _ = err.write_all(b"\n");
    }
    Ok(())
}

extern "C" fn host_log(vmctx: *mut u8, ptr: u32, len: u32) {
    // SAFETY: called by generated code with the importer's VmCtx.
    let r = log_impl(unsafe { caller(vmctx) }, ptr, len);
    if let Err(c) = r {
        // SAFETY: nothing with a destructor is live in this frame.
        unsafe { raise(vmctx, c) }
    }
}

extern "C" fn host_pkt_len(vmctx: *mut u8) -> i32 {
    // SAFETY: called by generated code with the importer's VmCtx.
    let i = unsafe { caller(vmctx) };
    i.host.packet.len().min(i32::MAX as usize) as i32
}

fn pkt_load_impl(i: &Instance, off: u32, dst: u32, len: u32) -> Result<i32, TrapCode> {
    let out = memory_slice(i.memory, dst, len)?;
    let pkt = &i.host.packet;
    let off = off as usize;
    if off >= pkt.len() {
        return Ok(0);
    }
    let n = out.len().min(pkt.len() - off);
    out[..n].copy_from_slice(&pkt[off..off + n]);
    Ok(n as i32)
}

extern "C" fn host_pkt_load(vmctx: *mut u8, off: u32, dst: u32, len: u32) -> i32 {
    // SAFETY: called by generated code with the importer's VmCtx.
    let r = pkt_load_impl(unsafe { caller(vmctx) }, off, dst, len);
    match r {
        Ok(n) => n,
        // SAFETY: nothing with a destructor is live in this frame.
        Err(c) => unsafe { raise(vmctx, c) },
    }
}

extern "C" fn host_time_ns(_vmctx: *mut u8) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec)
}

fn map_slot(i: &Instance, map: u32, idx: u32) -> Result<&std::sync::atomic::AtomicU64, TrapCode> {
    i.maps
        .get(map as usize)
        .and_then(|m| m.get(idx as usize))
        .ok_or(TrapCode::HostError)
}

extern "C" fn host_map_get(vmctx: *mut u8, map: u32, idx: u32) -> i64 {
    // SAFETY: called by generated code with the importer's VmCtx.
    match map_slot(unsafe { caller(vmctx) }, map, idx) {
        Ok(s) => s.load(Ordering::Relaxed) as i64,
        // SAFETY: nothing with a destructor is live in this frame.
        Err(c) => unsafe { raise(vmctx, c) },
    }
}

extern "C" fn host_map_set(vmctx: *mut u8, map: u32, idx: u32, v: i64) {
    // SAFETY: called by generated code with the importer's VmCtx.
    match map_slot(unsafe { caller(vmctx) }, map, idx) {
        Ok(s) => s.store(v as u64, Ordering::Relaxed),
        // SAFETY: nothing with a destructor is live in this frame.
        Err(c) => unsafe { raise(vmctx, c) },
    }
}

extern "C" fn host_map_add(vmctx: *mut u8, map: u32, idx: u32, d: i64) -> i64 {
    // SAFETY: called by generated code with the importer's VmCtx.
    match map_slot(unsafe { caller(vmctx) }, map, idx) {
        Ok(s) => s
            .fetch_add(d as u64, Ordering::Relaxed)
            .wrapping_add(d as u64) as i64,
        // SAFETY: nothing with a destructor is live in this frame.
        Err(c) => unsafe { raise(vmctx, c) },
    }
}

extern "C" fn host_random_u32(vmctx: *mut u8) -> i32 {
    // SAFETY: called by generated code with the importer's VmCtx.
    let i = unsafe { caller(vmctx) };
    // xorshift64*
    let mut x = i.host.rng.get();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    i.host.rng.set(x);
    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as i32
}

fn host_impl(id: HostFuncId) -> usize {
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

/// Define every function of `kwasm_abi::host::HOST_FUNCS` (including the
/// `env._debug` alias) with the signature abi gives it.
pub(crate) fn define_kwasm(store: &mut Store) {
    for f in HOST_FUNCS {
        let ty = FuncType::new(f.params.to_vec(), f.results.to_vec());
        store.define_host_func(f.module, f.name, host_impl(f.id), ty);
    }
}

// ---------------------------------------------------------------------------
// spectest

fn spectest_print(vmctx: *mut u8, line: std::fmt::Arguments<'_>) {
    // SAFETY: called by generated code with the importer's VmCtx.
    let i = unsafe { caller(vmctx) };
    if i.host.print.get() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_fmt(line);
        let _ = out.write_all(b"\n");
    }
}

extern "C" fn spectest_print0(_vmctx: *mut u8) {}

extern "C" fn spectest_print_i32(vmctx: *mut u8, a: i32) {
    spectest_print(vmctx, format_args!("{a}: i32"));
}

extern "C" fn spectest_print_i64(vmctx: *mut u8, a: i64) {
    spectest_print(vmctx, format_args!("{a}: i64"));
}

extern "C" fn spectest_print_f32(vmctx: *mut u8, a: f32) {
    spectest_print(vmctx, format_args!("{a:?}: f32"));
}

extern "C" fn spectest_print_f64(vmctx: *mut u8, a: f64) {
    spectest_print(vmctx, format_args!("{a:?}: f64"));
}

extern "C" fn spectest_print_i32_f32(vmctx: *mut u8, a: i32, b: f32) {
    spectest_print(vmctx, format_args!("{a}: i32 {b:?}: f32"));
}

extern "C" fn spectest_print_f64_f64(vmctx: *mut u8, a: f64, b: f64) {
    spectest_print(vmctx, format_args!("{a:?}: f64 {b:?}: f64"));
}

/// Define the `spectest` module the spec test suite imports from.
pub fn define_spectest(store: &mut Store) -> Result<(), String> {
    use ValType::*;
    let funcs: [(&str, usize, &[ValType]); 7] = [
        ("print", spectest_print0 as *const () as usize, &[]),
        (
            "print_i32",
            spectest_print_i32 as *const () as usize,
            &[I32],
        ),
        (
            "print_i64",
            spectest_print_i64 as *const () as usize,
            &[I64],
        ),
        (
            "print_f32",
            spectest_print_f32 as *const () as usize,
            &[F32],
        ),
        (
            "print_f64",
            spectest_print_f64 as *const () as usize,
            &[F64],
        ),
        (
            "print_i32_f32",
            spectest_print_i32_f32 as *const () as usize,
            &[I32, F32],
        ),
        (
            "print_f64_f64",
            spectest_print_f64_f64 as *const () as usize,
            &[F64, F64],
        ),
    ];
    for (name, code, params) in funcs {
        store.define_host_func(
            "spectest",
            name,
            code,
            FuncType::new(params.to_vec(), vec![]),
        );
    }
    store.define_global("spectest", "global_i32", I32, false, 666);
    store.define_global("spectest", "global_i64", I64, false, 666);
    store.define_global(
        "spectest",
        "global_f32",
        F32,
        false,
        666.6f32.to_bits() as u64,
    );
    store.define_global("spectest", "global_f64", F64, false, 666.6f64.to_bits());
    store.define_table("spectest", "table", FuncRef, 10, Some(20))?;
    store.define_memory("spectest", "memory", 1, Some(2))?;
    Ok(())
}
