//! Host modules: `kwasm` (the host API of `kwasm_abi::host`, with the alias
//! `env._debug`) and `spectest` (for the spec test suite).
//!
//! Host functions are `extern "C"` functions called like wasm functions:
//! the importing instance's `VmCtx` first, then the wasm arguments. They must
//! not unwind. The `kwasm` ones are abi's (`kwasm_abi::calls`, the same
//! entry points `kwasm.ko` uses) over the services below and in
//! [`super::libcalls`]; the `spectest` ones, which never trap, are this
//! runtime's own.

use super::instance::Instance;
use super::libcalls::KWASM_FUNCS;
use super::store::Store;
use super::values::FuncType;
use kwasm_abi::host::HOST_FUNCS;
use kwasm_abi::types::ValType;
use std::cell::Cell;
use std::io::Write;

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

/// The calling instance.
///
/// # Safety
/// `vmctx` must be a live instance's `VmCtx`.
unsafe fn caller<'a>(vmctx: *mut u8) -> &'a Instance {
    // SAFETY: per this function's contract.
    unsafe { Instance::from_vmctx(vmctx) }
}

/// `kwasm.log`: the bytes go to stderr, one message a line.
pub(crate) fn log(bytes: &[u8]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(bytes);
    if bytes.last() != Some(&b'\n') {
        let _ = err.write_all(b"\n");
    }
}

/// `kwasm.time_ns`: the monotonic clock.
pub(crate) fn time_ns() -> i64 {
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

impl HostState {
    /// The packet `kwasm.pkt_len`/`kwasm.pkt_load` see.
    pub(crate) fn packet(&self) -> &[u8] {
        &self.packet
    }

    /// `kwasm.random_u32`: xorshift64*, deterministic per store.
    pub(crate) fn random_u32(&self) -> u32 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

/// Define every function of `kwasm_abi::host::HOST_FUNCS` (including the
/// `env._debug` alias) with the signature abi gives it.
pub(crate) fn define_kwasm(store: &mut Store) {
    for f in HOST_FUNCS {
        let ty = FuncType::new(f.params.to_vec(), f.results.to_vec());
        store.define_host_func(f.module, f.name, KWASM_FUNCS.code(f.id), ty);
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
    let funcs: [(&str, *const u8, &[ValType]); 7] = [
        ("print", spectest_print0 as *const u8, &[]),
        ("print_i32", spectest_print_i32 as *const u8, &[I32]),
        ("print_i64", spectest_print_i64 as *const u8, &[I64]),
        ("print_f32", spectest_print_f32 as *const u8, &[F32]),
        ("print_f64", spectest_print_f64 as *const u8, &[F64]),
        (
            "print_i32_f32",
            spectest_print_i32_f32 as *const u8,
            &[I32, F32],
        ),
        (
            "print_f64_f64",
            spectest_print_f64_f64 as *const u8,
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
