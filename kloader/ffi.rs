// SPDX-License-Identifier: GPL-2.0

//! The C side of kwasm.ko (`glue.c`, `entry.S`, declared in `glue.h`) and
//! the safe wrappers the rest of the crate uses instead: RAII guards for
//! bottom halves ([`BhDisabled`]), the FPU ([`KernelFpu`]), module
//! references ([`ModuleRef`]) and rate limits ([`RateLimit`]), the packet
//! ([`Packet`]) and the stack switch ([`enter`], [`raise`], [`on_kstack`]).
//!
//! This file and the instance's call path are where kwasm.ko's `unsafe`
//! lives; every other file calls what is declared `safe` here or one of the
//! wrappers.

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::error::{code::ENOMEM, Result};
use kernel::ffi::{c_char, c_int, c_uint, c_void};

use crate::abi::cpu;

// SAFETY: the declarations match `glue.h`, `entry_x86_64.S` and `entry_arm64.S`. The functions
// declared `safe` have no preconditions in any context kwasm.ko calls them
// from (process context or softirq, bottom halves disabled or not): each
// only reads a kernel fact (`capable`, `nr_cpu_ids`, `irq_fpu_usable` or
// `may_use_simd`, `boot_cpu_has`,
// `sched_clock`, `IRQ_STACK_SIZE`, `smp_processor_id`, whose result is used
// only while bottom halves are disabled), draws a random number, or
// allocates and initialises a `ratelimit_state` that the caller then owns.
// The others take pointers or must be paired, and are wrapped below.
#[allow(clippy::unnecessary_safety_comment)]
unsafe extern "C" {
    fn kwasm_glue_init() -> c_int;
    fn kwasm_glue_exit();
    pub(crate) safe fn kwasm_capable() -> bool;
    fn kwasm_module_layout(
        out: *mut u32,
        vermagic: *mut c_char,
        len: usize,
        init_pre: *mut u8,
        exit_pre: *mut u8,
        pre_len: usize,
    );
    fn kwasm_module_get(m: *mut c_void) -> bool;
    fn kwasm_module_put(m: *mut c_void);
    fn kwasm_bh_disable();
    fn kwasm_bh_enable();
    safe fn kwasm_cpu() -> c_uint;
    pub(crate) safe fn kwasm_nr_cpus() -> c_uint;
    safe fn kwasm_fpu_usable() -> bool;
    fn kwasm_fpu_begin();
    fn kwasm_fpu_end();
    #[cfg(target_arch = "x86_64")]
    safe fn kwasm_cpu_has(feature: c_uint) -> bool;
    pub(crate) safe fn kwasm_clock_ns() -> u64;
    pub(crate) safe fn kwasm_random_u32() -> u32;
    safe fn kwasm_ratelimit_new() -> *mut c_void;
    fn kwasm_ratelimit_free(rs: *mut c_void);
    fn kwasm_log_limited(rs: *mut c_void, msg: *const c_char, len: usize);
    pub(crate) safe fn kwasm_irq_stack_size() -> usize;
    fn kwasm_skb_len(skb: *const c_void) -> u32;
    fn kwasm_skb_copy(skb: *const c_void, off: u32, to: *mut c_void, len: u32) -> c_int;
    fn kwasm_skb_new(data: *const c_void, len: u32) -> *mut c_void;
    fn kwasm_skb_free(skb: *mut c_void);
    fn kwasm_yield() -> bool;
    fn kwasm_nf_attach(priv_: *mut c_void, family: u32, hook: u32, prio: c_int) -> *mut c_void;
    fn kwasm_nf_detach(ops: *mut c_void);

    fn kwasm_enter(
        trampoline: *const u8,
        vmctx: *mut u8,
        code: *const u8,
        values: *mut u64,
        stack_top: *mut u8,
        jmpbuf: *mut u64,
    ) -> u32;
    /// Never returns (it restores the running `kwasm_enter`). Declared as
    /// returning so that objtool, which cannot see that, agrees with the
    /// code the compiler emits after a call.
    fn kwasm_trap_handler(vmctx: *mut u8, code: u32, func: u32);
    fn kwasm_on_kstack(f: extern "C" fn(*mut c_void), arg: *mut c_void, jmpbuf: *const u64);
}

/// Whether the CPUs have `e`. The boot CPU answers for all of them: Linux
/// clears a feature from `boot_cpu_data` when a secondary CPU lacks it,
/// and for AVX when the kernel does not save its state.
#[cfg(target_arch = "x86_64")]
pub(crate) fn cpu_has(e: &cpu::Extension) -> bool {
    use kernel::bindings as b;
    let feature = match e.bit {
        cpu::POPCNT => b::X86_FEATURE_POPCNT,
        cpu::LZCNT => b::X86_FEATURE_ABM,
        cpu::BMI1 => b::X86_FEATURE_BMI1,
        cpu::BMI2 => b::X86_FEATURE_BMI2,
        cpu::SSE41 => b::X86_FEATURE_XMM4_1,
        cpu::SSE42 => b::X86_FEATURE_XMM4_2,
        cpu::AVX => b::X86_FEATURE_AVX,
        // An extension this kernel module does not know how to look up
        // is one it cannot vouch for.
        _ => return false,
    };
    kwasm_cpu_has(feature)
}

/// Whether the CPUs have `e`: no arm64 extension is known yet, and
/// `Meta::parse` refuses a mask that names one.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn cpu_has(_e: &cpu::Extension) -> bool {
    false
}

/// The address generated code calls to trap (stored in every `VmCtx`).
pub(crate) fn trap_handler_addr() -> *const u8 {
    kwasm_trap_handler as *const u8
}

/// `/dev/kwasm`, registered while the value lives.
pub(crate) struct MiscDev(());

impl MiscDev {
    /// Registers the device; at most one exists (the module holds it).
    pub(crate) fn register() -> Result<MiscDev> {
        // SAFETY: `misc_register` on glue.c's static device; the module
        // creates one `MiscDev` in `init`, so it is registered once.
        kernel::error::to_result(unsafe { kwasm_glue_init() })?;
        Ok(MiscDev(()))
    }
}

impl Drop for MiscDev {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; deregistered once.
        unsafe { kwasm_glue_exit() }
    }
}

/// What `MODULE_LAYOUT` reports about `struct module`: sizes and offsets,
/// `VERMAGIC_STRING` and the kCFI preambles of the loader's init and exit
/// types.
pub(crate) fn module_layout(vermagic: &mut [u8], init_pre: &mut [u8], exit_pre: &mut [u8]) -> [u32; 5] {
    let mut out = [0u32; 5];
    let pre_len = init_pre.len().min(exit_pre.len());
    // SAFETY: `out` has the 5 slots glue.c fills, `vermagic` has
    // `vermagic.len()` bytes and each preamble buffer at least `pre_len`.
    unsafe {
        kwasm_module_layout(
            out.as_mut_ptr(),
            vermagic.as_mut_ptr().cast(),
            vermagic.len(),
            init_pre.as_mut_ptr(),
            exit_pre.as_mut_ptr(),
            pre_len,
        )
    };
    out
}

/// A `struct ratelimit_state` of one program, so that one chatty program
/// cannot hide another's messages (each program has one for its `log`
/// output and one for its reports).
pub(crate) struct RateLimit(NonNull<c_void>);

impl RateLimit {
    pub(crate) fn new() -> Result<RateLimit> {
        NonNull::new(kwasm_ratelimit_new()).map(RateLimit).ok_or(ENOMEM)
    }

    /// Writes `kwasm: <msg>` to the kernel log unless this state's budget
    /// (printk's default: 10 messages per 5 s) is spent. Usable in any
    /// context.
    pub(crate) fn log(&self, msg: &[u8]) {
        // SAFETY: `self.0` is a live state; `msg` is a valid buffer of
        // `msg.len()` bytes that the glue prints with an explicit length and
        // does not keep.
        unsafe { kwasm_log_limited(self.0.as_ptr(), msg.as_ptr().cast(), msg.len()) }
    }
}

impl Drop for RateLimit {
    fn drop(&mut self) {
        // SAFETY: allocated by `kwasm_ratelimit_new`, freed once; nothing
        // logs through a state that is being dropped (`&mut self`).
        unsafe { kwasm_ratelimit_free(self.0.as_ptr()) }
    }
}

// SAFETY: `__ratelimit` takes the state's own spinlock, so any CPU may log
// through it; the state is freed only by its owner's drop.
unsafe impl Send for RateLimit {}
// SAFETY: `log` (the only `&self` use) is serialised by that spinlock.
unsafe impl Sync for RateLimit {}

/// Proof that bottom halves are disabled on this CPU while it lives: the CPU
/// is fixed (no preemption, no migration) and no netfilter hook runs on it
/// meanwhile. Wasm runs only with one of these (see `instance::CpuSlot`).
/// Not `Send`: it must be dropped on the CPU that created it.
pub(crate) struct BhDisabled {
    /// Read once: every call into wasm needs it (its CPU's instance), and
    /// it cannot change while bottom halves are off.
    cpu: usize,
    _not_send: PhantomData<*mut ()>,
}

impl BhDisabled {
    pub(crate) fn new() -> BhDisabled {
        // SAFETY: `local_bh_disable` nests and works in process and softirq
        // context; `drop` pairs it on the same CPU (the guard is not Send).
        unsafe { kwasm_bh_disable() };
        BhDisabled {
            cpu: kwasm_cpu() as usize,
            _not_send: PhantomData,
        }
    }

    /// The current CPU, stable while the guard lives.
    pub(crate) fn cpu(&self) -> usize {
        self.cpu
    }
}

impl Drop for BhDisabled {
    fn drop(&mut self) {
        // SAFETY: pairs with the disable in `new`, on the same CPU.
        unsafe { kwasm_bh_enable() };
    }
}

/// The FPU available to kernel code while it lives (`kernel_fpu_begin` and
/// `kernel_fpu_end`; on arm64 `kernel_neon_begin` and `kernel_neon_end`,
/// for the FP/SIMD registers). Only under [`BhDisabled`], whose lifetime it borrows,
/// so the FPU section nests inside the bottom-half one.
pub(crate) struct KernelFpu<'a>(PhantomData<&'a BhDisabled>);

impl<'a> KernelFpu<'a> {
    /// `None` where the kernel does not allow it (`irq_fpu_usable()`, on
    /// arm64 `may_use_simd()`).
    pub(crate) fn begin(_bh: &'a BhDisabled) -> Option<KernelFpu<'a>> {
        if !kwasm_fpu_usable() {
            return None;
        }
        // SAFETY: `irq_fpu_usable()` (`may_use_simd()`) holds, so
        // `kernel_fpu_begin` (`kernel_neon_begin`) is allowed here; bottom halves stay disabled until after `drop`
        // ends the section (the borrow of `_bh`).
        unsafe { kwasm_fpu_begin() };
        Some(KernelFpu(PhantomData))
    }
}

impl Drop for KernelFpu<'_> {
    fn drop(&mut self) {
        // SAFETY: pairs with the `kernel_fpu_begin` (`kernel_neon_begin`)
        // in `begin`.
        unsafe { kwasm_fpu_end() };
    }
}

/// A program module's `struct module`: an identity, and what [`ModuleRef`]
/// takes a reference on. C dereferences it, Rust never does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct ModulePtr(NonNull<c_void>);

impl ModulePtr {
    pub(crate) fn new(m: *mut c_void) -> Option<ModulePtr> {
        NonNull::new(m).map(ModulePtr)
    }
}

// SAFETY: only an address: Rust never dereferences it, and C uses it only
// through `ModuleRef::get`, whose contract is about the module's lifetime,
// not about the thread.
unsafe impl Send for ModulePtr {}
// SAFETY: as for `Send`: there is nothing to share but the address.
unsafe impl Sync for ModulePtr {}

/// A reference on a program module (`try_module_get`), dropped with
/// `module_put`: its code and metadata stay mapped while it lives.
pub(crate) struct ModuleRef(ModulePtr);

impl ModuleRef {
    /// # Safety
    /// `m` must be a `struct module` that cannot be freed during this call
    /// (the caller holds the registry lock and the program is registered,
    /// so its exit stub has not finished).
    pub(crate) unsafe fn get(m: ModulePtr) -> Option<ModuleRef> {
        // SAFETY: per this function's contract, `m` is a live module.
        unsafe { kwasm_module_get(m.0.as_ptr()) }.then_some(ModuleRef(m))
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: pairs with the successful `try_module_get` in `get`.
        unsafe { kwasm_module_put(self.0 .0.as_ptr()) }
    }
}

/// The packet of a running netfilter hook, from its network header. Not
/// `Send`: it lives on the hook's CPU.
#[derive(Clone, Copy)]
pub(crate) struct Packet {
    skb: NonNull<c_void>,
    /// Read once: a filter cannot change the skb, and `BENCH` runs the
    /// same packet many times.
    len: u32,
}

impl Packet {
    /// # Safety
    /// `skb` is the `struct sk_buff` the running netfilter hook was given;
    /// this value and its copies are used only until that hook returns.
    pub(crate) unsafe fn from_hook(skb: *mut c_void) -> Option<Packet> {
        // SAFETY: a live skb, per this function's contract.
        NonNull::new(skb).map(|skb| unsafe { Packet::of_skb(skb) })
    }

    /// # Safety
    /// `skb` is live for as long as the packet is used.
    unsafe fn of_skb(skb: NonNull<c_void>) -> Packet {
        // SAFETY: a live skb, per this function's contract.
        let len = unsafe { kwasm_skb_len(skb.as_ptr()) };
        Packet { skb, len }
    }

    /// Bytes from the network header on.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// Copies `out.len()` bytes from `off` (`skb_copy_bits`); false if
    /// they are not all in the packet.
    pub(crate) fn copy(&self, off: u32, out: &mut [u8]) -> bool {
        let Ok(n) = u32::try_from(out.len()) else { return false };
        // SAFETY: a live skb; `out` is writable for `n` bytes, and
        // `skb_copy_bits` checks `off + n` against the packet itself.
        unsafe { kwasm_skb_copy(self.skb.as_ptr(), off, out.as_mut_ptr().cast(), n) >= 0 }
    }
}

/// An skb of our own holding a copy of a packet, network header first
/// (`BENCH`); freed on drop. Not `Send`: built and used in one ioctl.
pub(crate) struct OwnedSkb(NonNull<c_void>, PhantomData<*mut ()>);

impl OwnedSkb {
    /// Allocates (`GFP_KERNEL`: process context only) and copies `data`.
    pub(crate) fn new(data: &[u8]) -> Result<OwnedSkb> {
        let len = u32::try_from(data.len()).map_err(|_| ENOMEM)?;
        // SAFETY: `data` is readable for `len` bytes, which the glue copies
        // and does not keep; called from an ioctl (process context).
        let skb = unsafe { kwasm_skb_new(data.as_ptr().cast(), len) };
        NonNull::new(skb).map(|p| OwnedSkb(p, PhantomData)).ok_or(ENOMEM)
    }

    /// The packet, as a hook would see it; valid while `self` lives.
    pub(crate) fn packet(&self) -> Packet {
        // SAFETY: our own skb, live while `self` is; the packet is used
        // only within the ioctl that holds `self`.
        unsafe { Packet::of_skb(self.0) }
    }
}

impl Drop for OwnedSkb {
    fn drop(&mut self) {
        // SAFETY: allocated by `kwasm_skb_new`, freed once; the `Packet`s
        // made from it are used only inside the borrow of `packet`'s caller
        // (the bench loop), which ends before this.
        unsafe { kwasm_skb_free(self.0.as_ptr()) }
    }
}

/// Between bench batches, in process context with bottom halves enabled:
/// `cond_resched()`; false if a signal is pending (stop with EINTR).
pub(crate) fn yield_now() -> bool {
    // SAFETY: `cond_resched` and `signal_pending(current)` may be called
    // from any process context that may sleep, which every caller is (an
    // ioctl, with no guard held).
    unsafe { kwasm_yield() }
}

/// A registered netfilter hook in `init_net` whose `priv` is `data`;
/// dropping it unregisters the hook and waits for calls still running it.
pub(crate) struct NfHook(NonNull<c_void>);

impl NfHook {
    /// # Safety
    /// `data` stays valid for every call of `kwasm_rs_hook` until the
    /// returned hook has been dropped.
    pub(crate) unsafe fn attach(data: *const c_void, family: u32, hook: u32, prio: i32) -> Result<NfHook> {
        // SAFETY: per this function's contract.
        let ops = unsafe { kwasm_nf_attach(data.cast_mut(), family, hook, prio) };
        kernel::error::from_err_ptr(ops)?;
        NonNull::new(ops).map(NfHook).ok_or(ENOMEM)
    }
}

impl Drop for NfHook {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `kwasm_nf_attach` and is unregistered
        // and freed once, here.
        unsafe { kwasm_nf_detach(self.0.as_ptr()) }
    }
}

// SAFETY: the hook is a heap `nf_hook_ops` that any thread may unregister.
unsafe impl Send for NfHook {}

/// Switches to the stack ending at `stack_top` and runs `trampoline(vmctx,
/// code, values)`; returns when it returns or traps (the trap is
/// recorded by `kwasm_rs_trap`, through `VmCtx + HOST_CTX`).
///
/// # Safety
/// `vmctx` is a fully instantiated `VmCtx` whose `HOST_CTX` names the
/// instance `jmpbuf` belongs to, nothing else runs on it, `trampoline`
/// and `code` are a trampoline and a function of its type in its program, `values` holds `max(params, results)` slots of its type,
/// and `stack_top` is the 16-byte aligned end of the stack whose
/// `STACK_LIMIT` the `VmCtx` holds. Bottom halves are disabled.
pub(crate) unsafe fn enter(
    _bh: &BhDisabled,
    trampoline: *const u8,
    code: *const u8,
    vmctx: *mut u8,
    values: &mut [u64],
    stack_top: *mut u8,
    jmpbuf: *mut u64,
) {
    // SAFETY: per this function's contract.
    unsafe { kwasm_enter(trampoline, vmctx, code, values.as_mut_ptr(), stack_top, jmpbuf) };
}

/// Raises a trap from a host function: calls `kwasm_trap_handler`, which
/// restores the running `kwasm_enter` and never returns.
///
/// # Safety
/// `vmctx` is the caller's `VmCtx` during its call; the calling frames up to
/// generated code hold nothing that needs dropping.
pub(crate) unsafe fn raise(vmctx: *mut u8, code: u32) -> ! {
    // SAFETY: per this function's contract.
    unsafe { kwasm_trap_handler(vmctx, code, u32::MAX) };
    // Not reached. A visible dead end after the call, which objtool takes
    // as returning.
    loop {
        core::hint::spin_loop();
    }
}

/// Runs `f(arg)` on the kernel stack that the running `kwasm_enter` saved
/// in `jmpbuf`.
///
/// # Safety
/// Called from a host function during a call whose `jmpbuf` this is; `arg`
/// is what `f` expects and outlives the call.
pub(crate) unsafe fn on_kstack(f: extern "C" fn(*mut c_void), arg: *mut c_void, jmpbuf: *const u64) {
    // SAFETY: per this function's contract.
    unsafe { kwasm_on_kstack(f, arg, jmpbuf) }
}

/// A fixed buffer implementing `fmt::Write` for messages on the packet path
/// (no allocation); output beyond its capacity is cut off.
pub(crate) struct MsgBuf {
    buf: [u8; 256],
    len: usize,
}

impl MsgBuf {
    pub(crate) fn new() -> MsgBuf {
        MsgBuf { buf: [0; 256], len: 0 }
    }

    /// Appends bytes, replacing control and non-ASCII bytes with `?`.
    pub(crate) fn push_sanitized(&mut self, b: &[u8]) {
        for &c in b {
            if self.len == self.buf.len() {
                return;
            }
            self.buf[self.len] = if (0x20..0x7f).contains(&c) { c } else { b'?' };
            self.len += 1;
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }
}

impl core::fmt::Write for MsgBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push_sanitized(s.as_bytes());
        Ok(())
    }
}
