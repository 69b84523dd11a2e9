//! Entering wasm and leaving it on a trap.
//!
//! `kwasm_rt_enter(trampoline, vmctx, code, values, stack_top, jmpbuf)`
//! saves the callee-saved registers and the stack pointer in `jmpbuf`,
//! switches to the wasm stack (unless `stack_top` is null), calls the
//! array-call trampoline and returns 0. The trap handler stored in every
//! `VmCtx`, `kwasm_rt_trap_handler(vmctx, code, func)`, records the trap in
//! the current thread's `jmpbuf` and restores the saved registers, so that
//! `kwasm_rt_enter` returns `code` instead. Only generated code, libcall or
//! host frames without destructors and this assembly lie between the two, so
//! nothing that needs unwinding is skipped.
//!
//! As a safety net (generated code is designed never to fault) a signal
//! handler turns a fault *of generated code* during an activation into a
//! trap, too: a fault in the wasm stack's guard page becomes
//! `StackOverflow`, anything else a `Fault` carrying the signal number. Only
//! a synchronous fault (`si_code > 0`) whose faulting instruction lies in the
//! code of a loaded artifact (`super::code_ranges`) qualifies. Everything
//! else — a signal sent with `kill`/`tgkill`/`sigqueue`, a fault in Rust
//! host code or in a libcall, any signal outside an activation — goes to the
//! previously installed handler, and the process dies of it as it would
//! without kwasm; see `classify` and `chain`.

use super::code_ranges;
use super::vm::Mapping;
use std::cell::Cell;
use std::sync::Once;

/// Callee-saved state the assembly below keeps per architecture, in
/// `u64` slots, and the slot of the stack pointer among them.
#[cfg(target_arch = "x86_64")]
mod saved {
    /// rbx, rbp, r12, r13, r14, r15, rsp.
    pub const SLOTS: usize = 7;
    pub const SP: usize = 6;
}
/// x19-x28, x29 (fp), x30 (lr), sp, d8-d15 (AAPCS64: only the low 64
/// bits of v8-v15 are callee-saved).
#[cfg(target_arch = "aarch64")]
mod saved {
    pub const SLOTS: usize = 21;
    pub const SP: usize = 12;
}

/// Saved state of one activation. Layout shared with the assembly below,
/// which gets the offsets of the stack pointer and of `code` as operands.
#[repr(C)]
pub(crate) struct JmpBuf {
    /// The callee-saved registers and the stack pointer ([`saved`]).
    regs: [u64; saved::SLOTS],
    /// Trap code (0 = none).
    pub code: u32,
    /// Index of the trapping function, `u32::MAX` if unknown.
    pub func: u32,
    /// `VmCtx` of the trapping function (null if unknown).
    pub vmctx: u64,
    /// Signal number when the trap came from a fault, else 0.
    pub signal: i32,
    /// Guard page of the stack in use: `[guard_lo, guard_hi)`.
    guard_lo: usize,
    guard_hi: usize,
}

impl JmpBuf {
    fn new(guard: (usize, usize)) -> JmpBuf {
        JmpBuf {
            regs: [0; saved::SLOTS],
            code: 0,
            func: u32::MAX,
            vmctx: 0,
            signal: 0,
            guard_lo: guard.0,
            guard_hi: guard.1,
        }
    }

    /// The stack pointer saved on entry: everything below it belongs to
    /// the activation.
    fn entry_sp(&self) -> u64 {
        self.regs[saved::SP]
    }
}

thread_local! {
    static CURRENT: Cell<*mut JmpBuf> = const { Cell::new(std::ptr::null_mut()) };
}

/// Trap code reported for a fault that is not a stack overflow (never
/// produced by generated code; see [`Activation::Fault`]).
pub(crate) const FAULT_CODE: u32 = 0x1000;

unsafe extern "C" {
    fn kwasm_rt_enter(
        trampoline: *const u8,
        vmctx: *mut u8,
        code: *const u8,
        values: *mut u64,
        stack_top: *mut u8,
        jmpbuf: *mut JmpBuf,
    ) -> u32;
    /// The trap handler whose address goes into `VmCtx::TRAP_HANDLER`.
    /// Host functions call it too, to raise a trap.
    pub(crate) fn kwasm_rt_trap_handler(vmctx: *mut u8, code: u32, func: u32) -> !;
}

/// Record a trap in the current activation; called by the assembly trap
/// handler on the wasm stack. Returns the jmpbuf to restore.
extern "C" fn kwasm_rt_trap_record(vmctx: *mut u8, code: u32, func: u32) -> *mut JmpBuf {
    let jb = CURRENT.with(|c| c.get());
    if jb.is_null() {
        // A trap with no activation to return to: nothing sane to do.
        std::process::abort();
    }
    // SAFETY: `jb` is the live jmpbuf of the innermost activation on this
    // thread (set by `enter`, cleared when it returns).
    unsafe {
        (*jb).code = if code == 0 { u32::MAX } else { code };
        (*jb).func = func;
        (*jb).vmctx = vmctx as u64;
    }
    jb
}

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    // Restore rsp, rbx, rbp and r12-r15 from the jmpbuf in rax; keeps rax.
    ".macro KWASM_RT_RESTORE",
    "mov rsp, [rax + {sp}]",
    "mov rbx, [rax]",
    "mov rbp, [rax + 8]",
    "mov r12, [rax + 16]",
    "mov r13, [rax + 24]",
    "mov r14, [rax + 32]",
    "mov r15, [rax + 40]",
    ".endm",
    "",
    ".text",
    ".p2align 4",
    ".globl kwasm_rt_enter",
    ".hidden kwasm_rt_enter",
    ".type kwasm_rt_enter,@function",
    "kwasm_rt_enter:",
    "endbr64",
    "mov [r9], rbx",
    "mov [r9 + 8], rbp",
    "mov [r9 + 16], r12",
    "mov [r9 + 24], r13",
    "mov [r9 + 32], r14",
    "mov [r9 + 40], r15",
    "mov [r9 + {sp}], rsp",
    "mov rbx, r9",
    "mov rax, rdi",
    "mov rdi, rsi",
    "mov rsi, rdx",
    "mov rdx, rcx",
    "test r8, r8",
    "jz 2f",
    "mov rsp, r8",
    "2:",
    "and rsp, -16",
    "xor ebp, ebp",
    "call rax",
    "mov rax, rbx",
    "KWASM_RT_RESTORE",
    "xor eax, eax",
    "ret",
    ".size kwasm_rt_enter, . - kwasm_rt_enter",
    "",
    ".p2align 4",
    ".globl kwasm_rt_trap_handler",
    ".hidden kwasm_rt_trap_handler",
    ".type kwasm_rt_trap_handler,@function",
    "kwasm_rt_trap_handler:",
    "endbr64",
    "and rsp, -16",
    "call {record}",
    "KWASM_RT_RESTORE",
    "mov eax, [rax + {code}]",
    "ret",
    ".size kwasm_rt_trap_handler, . - kwasm_rt_trap_handler",
    record = sym kwasm_rt_trap_record,
    sp = const 8 * saved::SP,
    code = const std::mem::offset_of!(JmpBuf, code),
);

// AAPCS64: x0-x5 carry the arguments and the stack pointer is always
// 16-byte aligned. `hint #34` is `bti c`: generated code calls the trap
// handler through a register, and so would code on BTI-guarded pages.
#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
    // Restore sp, x19-x30 and d8-d15 from the jmpbuf in x0; keeps x0.
    ".macro KWASM_RT_RESTORE",
    "ldr x9, [x0, #{sp}]",
    "mov sp, x9",
    "ldp x19, x20, [x0, #0]",
    "ldp x21, x22, [x0, #16]",
    "ldp x23, x24, [x0, #32]",
    "ldp x25, x26, [x0, #48]",
    "ldp x27, x28, [x0, #64]",
    "ldp x29, x30, [x0, #80]",
    "ldp d8, d9, [x0, #104]",
    "ldp d10, d11, [x0, #120]",
    "ldp d12, d13, [x0, #136]",
    "ldp d14, d15, [x0, #152]",
    ".endm",
    "",
    ".text",
    ".p2align 4",
    ".globl kwasm_rt_enter",
    ".hidden kwasm_rt_enter",
    ".type kwasm_rt_enter,%function",
    "kwasm_rt_enter:",
    "hint #34",
    "stp x19, x20, [x5, #0]",
    "stp x21, x22, [x5, #16]",
    "stp x23, x24, [x5, #32]",
    "stp x25, x26, [x5, #48]",
    "stp x27, x28, [x5, #64]",
    "stp x29, x30, [x5, #80]",
    "mov x9, sp",
    "str x9, [x5, #{sp}]",
    "stp d8, d9, [x5, #104]",
    "stp d10, d11, [x5, #120]",
    "stp d12, d13, [x5, #136]",
    "stp d14, d15, [x5, #152]",
    "mov x19, x5",
    "mov x9, x0",
    "mov x0, x1",
    "mov x1, x2",
    "mov x2, x3",
    "cbz x4, 2f",
    "and x4, x4, #-16",
    "mov sp, x4",
    "2:",
    "mov x29, #0",
    "blr x9",
    "mov x0, x19",
    "KWASM_RT_RESTORE",
    "mov w0, #0",
    "ret",
    ".size kwasm_rt_enter, . - kwasm_rt_enter",
    "",
    ".p2align 4",
    ".globl kwasm_rt_trap_handler",
    ".hidden kwasm_rt_trap_handler",
    ".type kwasm_rt_trap_handler,%function",
    "kwasm_rt_trap_handler:",
    "hint #34",
    "mov x9, sp",
    "and x9, x9, #-16",
    "mov sp, x9",
    "bl {record}",
    "KWASM_RT_RESTORE",
    "ldr w0, [x0, #{code}]",
    "ret",
    ".size kwasm_rt_trap_handler, . - kwasm_rt_trap_handler",
    record = sym kwasm_rt_trap_record,
    sp = const 8 * saved::SP,
    code = const std::mem::offset_of!(JmpBuf, code),
);

/// Address of the trap handler, for `VmCtx`.
pub(crate) fn trap_handler_addr() -> *const u8 {
    kwasm_rt_trap_handler as *const u8
}

/// A dedicated wasm stack with an inaccessible guard page below it.
pub(crate) struct WasmStack {
    map: Mapping,
    guard: usize,
}

impl WasmStack {
    pub fn new(size: usize) -> std::io::Result<WasmStack> {
        let guard = super::vm::page_size();
        let map = Mapping::new(size.saturating_add(guard), libc::PROT_NONE)?;
        map.protect(guard, map.len() - guard, libc::PROT_READ | libc::PROT_WRITE)?;
        Ok(WasmStack { map, guard })
    }

    /// Lowest usable address (just above the guard page).
    pub fn bottom(&self) -> usize {
        self.map.ptr() as usize + self.guard
    }

    /// Initial stack pointer (16-byte aligned).
    pub fn top(&self) -> *mut u8 {
        self.map.ptr().wrapping_add(self.map.len())
    }

    /// `VmCtx::STACK_LIMIT` for code running on this stack.
    pub fn limit(&self) -> u64 {
        self.bottom() as u64 + kwasm_abi::vmctx::STACK_RESERVE
    }

    fn guard_range(&self) -> (usize, usize) {
        let lo = self.map.ptr() as usize;
        (lo, lo + self.guard)
    }
}

/// How an activation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activation {
    Returned,
    /// A trap raised through the handler: raw code, function index, vmctx.
    Trap {
        code: u32,
        func: u32,
        vmctx: u64,
    },
    /// A hardware fault caught by the signal handler (a bug in generated
    /// code or in the runtime): signal number.
    Fault {
        signal: i32,
    },
}

/// Call `trampoline(vmctx, code, values)` on `stack` (or on the current
/// stack when already inside an activation, i.e. host → wasm re-entry).
///
/// # Safety
/// `trampoline` must be the array-call trampoline of the type of `code`,
/// `vmctx` the callee's fully initialised `VmCtx` whose stack limit points
/// into `stack`, and `values` must hold `max(params, results)` slots with the
/// parameters.
pub(crate) unsafe fn enter(
    trampoline: *const u8,
    vmctx: *mut u8,
    code: *const u8,
    values: *mut u64,
    stack: &WasmStack,
) -> Activation {
    install_signal_handlers();
    let mut jb = JmpBuf::new(stack.guard_range());
    let prev = CURRENT.with(|c| c.replace(&mut jb));
    let top = if prev.is_null() {
        stack.top()
    } else {
        std::ptr::null_mut()
    };
    // SAFETY: per this function's contract; `jb` outlives the call and is
    // the thread's current activation while it runs.
    let code = unsafe { kwasm_rt_enter(trampoline, vmctx, code, values, top, &mut jb) };
    CURRENT.with(|c| c.set(prev));
    if code == 0 {
        Activation::Returned
    } else if jb.signal != 0 {
        Activation::Fault { signal: jb.signal }
    } else {
        Activation::Trap {
            code,
            func: jb.func,
            vmctx: jb.vmctx,
        }
    }
}

// ---------------------------------------------------------------------------
// Fault safety net.

const SIGNALS: [i32; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

struct PrevHandlers([libc::sigaction; 4]);
static mut PREV: Option<PrevHandlers> = None;
static INSTALL: Once = Once::new();

thread_local! {
    static ALTSTACK: Cell<bool> = const { Cell::new(false) };
}

fn install_signal_handlers() {
    ensure_altstack();
    INSTALL.call_once(|| {
        // SAFETY: zeroed sigaction structs are valid "empty" values; we fill
        // them and install with sigaction(2). PREV is written once, here,
        // before any handler that reads it can run.
        unsafe {
            let mut prev: [libc::sigaction; 4] = std::mem::zeroed();
            for (i, &sig) in SIGNALS.iter().enumerate() {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = fault_handler as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, &mut prev[i]);
            }
            PREV = Some(PrevHandlers(prev));
        }
    });
}

/// Faults on the wasm stack's guard page need a separate stack for the
/// handler. Rust installs one on threads it creates; make sure there is one.
fn ensure_altstack() {
    if ALTSTACK.with(|a| a.get()) {
        return;
    }
    // SAFETY: querying the current alternate stack has no preconditions.
    let mut cur: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cur` is a valid out-pointer.
    unsafe { libc::sigaltstack(std::ptr::null(), &mut cur) };
    if cur.ss_flags & libc::SS_DISABLE != 0 {
        let size = 64 * 1024;
        if let Ok(map) = Mapping::new(size, libc::PROT_READ | libc::PROT_WRITE) {
            let st = libc::stack_t {
                ss_sp: map.ptr().cast(),
                ss_flags: 0,
                ss_size: map.len(),
            };
            // SAFETY: the mapping is leaked below, so the alternate stack
            // stays valid for the thread's lifetime.
            unsafe { libc::sigaltstack(&st, std::ptr::null_mut()) };
            std::mem::forget(map);
        }
    }
    ALTSTACK.with(|a| a.set(true));
}

/// What the fault handler does with a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Resume in the trap handler: the activation returns this trap code.
    Trap(u32),
    /// Not a fault of generated code: the previous handler's business.
    Chain,
}

/// Decide what to do with signal `sig`. `si_code` and `addr` come from its
/// `siginfo`, `pc` is the interrupted instruction, and `guard` is the wasm
/// stack's guard page `[lo, hi)` when this thread is inside an activation
/// (`None` otherwise).
///
/// Only a synchronous fault (`si_code > 0`; signals sent by a process carry
/// `SI_USER`, `SI_TKILL`, `SI_QUEUE`, ..., all `<= 0`) of an instruction in
/// generated code during an activation becomes a trap. Async-signal-safe.
pub(crate) fn classify(
    sig: i32,
    si_code: i32,
    pc: usize,
    addr: usize,
    guard: Option<(usize, usize)>,
) -> Disposition {
    let Some((guard_lo, guard_hi)) = guard else {
        return Disposition::Chain;
    };
    if si_code <= 0 || !code_ranges::contains(pc) {
        return Disposition::Chain;
    }
    if sig == libc::SIGSEGV && addr >= guard_lo && addr < guard_hi {
        Disposition::Trap(kwasm_abi::trap::TrapCode::StackOverflow as u32)
    } else {
        Disposition::Trap(FAULT_CODE)
    }
}

/// The interrupted instruction's address in a signal's `ucontext_t`.
///
/// # Safety
/// `ctx` must be the context the kernel passed to an `SA_SIGINFO` handler.
#[cfg(target_arch = "x86_64")]
unsafe fn context_pc(ctx: *mut libc::c_void) -> usize {
    // SAFETY: per this function's contract.
    unsafe { (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_RIP as usize] as usize }
}

/// The interrupted instruction's address in a signal's `ucontext_t`.
///
/// # Safety
/// `ctx` must be the context the kernel passed to an `SA_SIGINFO` handler.
#[cfg(target_arch = "aarch64")]
unsafe fn context_pc(ctx: *mut libc::c_void) -> usize {
    // SAFETY: per this function's contract.
    unsafe { (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.pc as usize }
}

extern "C" fn fault_handler(sig: i32, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let jb = CURRENT
        .try_with(|c| c.get())
        .unwrap_or(std::ptr::null_mut());
    // SAFETY: the kernel passes a valid siginfo and ucontext; `jb`, if not
    // null, is the live jmpbuf of the activation running on this thread.
    unsafe {
        let guard = jb.as_ref().map(|j| (j.guard_lo, j.guard_hi));
        let (si_code, addr) = ((*info).si_code, (*info).si_addr() as usize);
        match classify(sig, si_code, context_pc(ctx), addr, guard) {
            Disposition::Trap(code) => resume_in_trap_handler(&mut *jb, ctx, sig, code),
            Disposition::Chain => chain(sig, info, ctx),
        }
    }
}

/// Make the interrupted thread continue in the trap handler, which returns
/// `code` from the activation `jb`.
///
/// # Safety
/// `jb` is the live jmpbuf of the activation interrupted by the signal whose
/// context is `ctx`.
unsafe fn resume_in_trap_handler(jb: &mut JmpBuf, ctx: *mut libc::c_void, sig: i32, code: u32) {
    if code == FAULT_CODE {
        jb.signal = sig;
    }
    // SAFETY: per this function's contract, `ctx` is a valid ucontext.
    let uc = unsafe { &mut *ctx.cast::<libc::ucontext_t>() };
    // Resume in the trap handler, on a stack area below the entry frame that
    // the trap abandons anyway, as if called with (null vmctx, code, no
    // function index).
    let sp = (jb.entry_sp() - 512) & !15;
    let handler = trap_handler_addr() as u64;
    #[cfg(target_arch = "x86_64")]
    {
        let g = &mut uc.uc_mcontext.gregs;
        g[libc::REG_RSP as usize] = sp as i64 - 8;
        g[libc::REG_RIP as usize] = handler as i64;
        g[libc::REG_RDI as usize] = 0;
        g[libc::REG_RSI as usize] = code as i64;
        g[libc::REG_RDX as usize] = u32::MAX as i64;
    }
    #[cfg(target_arch = "aarch64")]
    {
        let m = &mut uc.uc_mcontext;
        m.sp = sp;
        m.pc = handler;
        m.regs[0] = 0;
        m.regs[1] = code as u64;
        m.regs[2] = u32::MAX as u64;
    }
}

/// Hand the signal to the handler that was installed before ours.
///
/// - A handler function is called as the kernel would have called it.
/// - `SIG_DFL`: the default action is restored. A fault then strikes again
///   when the faulting instruction re-executes on return; a sent signal
///   does not come back by itself, so it is raised again. Either way the
///   process dies of it.
/// - `SIG_IGN`: a sent signal is ignored; a fault cannot be (the kernel
///   would kill the process anyway), so it takes the default action.
///
/// A handler that returns after restoring the default action expects the
/// signal to strike again (Rust's std does that with every SIGSEGV/SIGBUS
/// that is no stack overflow). A sent signal would not, so it is raised
/// again then, too: `kill -SEGV` kills a process that runs kwasm.
///
/// # Safety
/// The arguments are those the kernel passed to [`fault_handler`].
unsafe fn chain(sig: i32, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo.
    let sent = unsafe { (*info).si_code } <= 0;
    // SAFETY: PREV was initialised before this handler was installed and is
    // never written again.
    let prev = unsafe { (*std::ptr::addr_of!(PREV)).as_ref() };
    let idx = SIGNALS.iter().position(|&s| s == sig);
    let handler = match (prev, idx) {
        (Some(p), Some(i)) => &p.0[i],
        _ => {
            // SAFETY: restoring a default disposition and re-raising are
            // async-signal-safe.
            unsafe { default_action(sig, sent) };
            return;
        }
    };
    if handler.sa_sigaction == libc::SIG_IGN && sent {
        return;
    }
    if handler.sa_sigaction == libc::SIG_DFL || handler.sa_sigaction == libc::SIG_IGN {
        // SAFETY: as above.
        unsafe { default_action(sig, sent) };
        return;
    }
    // SAFETY: the previous handler was installed for this signal with these
    // flags, so it expects to be called this way.
    unsafe {
        if handler.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(handler.sa_sigaction);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(i32) = std::mem::transmute(handler.sa_sigaction);
            f(sig);
        }
    }
    if sent {
        // SAFETY: querying a disposition is async-signal-safe; `cur` is a
        // valid out-pointer.
        let mut cur: libc::sigaction = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::sigaction(sig, std::ptr::null(), &mut cur) };
        if r == 0 && cur.sa_sigaction == libc::SIG_DFL {
            // SAFETY: raise is async-signal-safe.
            unsafe { libc::raise(sig) };
        }
    }
}

/// Restore the default action of `sig` and, for a sent signal, raise it
/// again (a fault strikes again by itself when the handler returns).
///
/// # Safety
/// Async-signal-safe; meant for [`chain`].
unsafe fn default_action(sig: i32, sent: bool) {
    // SAFETY: signal(2) and raise(3) are async-signal-safe.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        if sent {
            libc::raise(sig);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kwasm_abi::trap::TrapCode;

    /// `si_code` of a SIGSEGV for an unmapped address (asm-generic/siginfo.h).
    const SEGV_MAPERR: i32 = 1;
    const SEGV: i32 = libc::SIGSEGV;

    #[test]
    fn only_faults_of_generated_code_in_an_activation_become_traps() {
        // Stand-ins for a mapped `.text` and the wasm stack's guard page.
        let code = [0u8; 64];
        let lo = code.as_ptr() as usize;
        let reg = code_ranges::register(lo, code.len()).unwrap();
        let guard_page = [0u8; 64];
        let g = guard_page.as_ptr() as usize;
        let guard = Some((g, g + guard_page.len()));
        let pc = lo + 10;
        let elsewhere = 0x1000;

        // A fault of generated code during an activation.
        assert_eq!(
            classify(SEGV, SEGV_MAPERR, pc, elsewhere, guard),
            Disposition::Trap(FAULT_CODE)
        );
        for sig in [libc::SIGBUS, libc::SIGILL, libc::SIGFPE] {
            assert_eq!(
                classify(sig, 1, pc, elsewhere, guard),
                Disposition::Trap(FAULT_CODE)
            );
        }
        assert_eq!(
            classify(SEGV, libc::SI_KERNEL, pc, 0, guard),
            Disposition::Trap(FAULT_CODE)
        );
        // ... on the guard page: a stack overflow.
        assert_eq!(
            classify(SEGV, SEGV_MAPERR, pc, g + 8, guard),
            Disposition::Trap(TrapCode::StackOverflow as u32)
        );

        // The PC outside generated code (Rust host code, a libcall, a wild
        // jump): not ours, whatever the address.
        for pc in [lo - 1, lo + code.len(), elsewhere, 0] {
            assert_eq!(
                classify(SEGV, SEGV_MAPERR, pc, g + 8, guard),
                Disposition::Chain,
                "pc {pc:#x}"
            );
        }
        let host_pc = classify as *const () as usize;
        assert_eq!(
            classify(SEGV, SEGV_MAPERR, host_pc, elsewhere, guard),
            Disposition::Chain
        );

        // Sent signals (kill, tgkill, sigqueue), even while generated code
        // runs.
        for si_code in [libc::SI_USER, libc::SI_TKILL, libc::SI_QUEUE] {
            assert_eq!(
                classify(SEGV, si_code, pc, elsewhere, guard),
                Disposition::Chain,
                "si_code {si_code}"
            );
        }

        // No activation on this thread.
        assert_eq!(
            classify(SEGV, SEGV_MAPERR, pc, elsewhere, None),
            Disposition::Chain
        );

        // Code that is no longer loaded.
        drop(reg);
        assert_eq!(
            classify(SEGV, SEGV_MAPERR, pc, elsewhere, guard),
            Disposition::Chain
        );
    }
}
