// SPDX-License-Identifier: GPL-2.0

//! Functions implemented in `glue.c` and `entry.S` (declared in `glue.h`).

use kernel::ffi::{c_char, c_int, c_uint, c_void};

extern "C" {
    pub(crate) fn kwasm_glue_init() -> c_int;
    pub(crate) fn kwasm_glue_exit();
    pub(crate) fn kwasm_capable() -> bool;
    pub(crate) fn kwasm_module_layout(
        out: *mut u32,
        vermagic: *mut c_char,
        len: usize,
        init_pre: *mut u8,
        exit_pre: *mut u8,
        pre_len: usize,
    );
    pub(crate) fn kwasm_module_get(m: *mut c_void) -> bool;
    pub(crate) fn kwasm_module_put(m: *mut c_void);
    pub(crate) fn kwasm_vzalloc(size: usize) -> *mut c_void;
    pub(crate) fn kwasm_vfree(p: *mut c_void);
    pub(crate) fn kwasm_bh_disable();
    pub(crate) fn kwasm_bh_enable();
    pub(crate) fn kwasm_cpu() -> c_uint;
    pub(crate) fn kwasm_nr_cpus() -> c_uint;
    pub(crate) fn kwasm_fpu_usable() -> bool;
    pub(crate) fn kwasm_fpu_begin();
    pub(crate) fn kwasm_fpu_end();
    pub(crate) fn kwasm_time_ns() -> u64;
    pub(crate) fn kwasm_clock_ns() -> u64;
    pub(crate) fn kwasm_random_u32() -> u32;
    pub(crate) fn kwasm_ratelimit_new() -> *mut c_void;
    pub(crate) fn kwasm_ratelimit_free(rs: *mut c_void);
    pub(crate) fn kwasm_log_limited(rs: *mut c_void, msg: *const c_char, len: usize);
    pub(crate) fn kwasm_irq_stack_size() -> usize;
    pub(crate) fn kwasm_skb_len(skb: *const c_void) -> u32;
    pub(crate) fn kwasm_skb_copy(skb: *const c_void, off: u32, to: *mut c_void, len: u32) -> c_int;
    pub(crate) fn kwasm_nf_attach(priv_: *mut c_void, family: u32, hook: u32, prio: c_int)
        -> *mut c_void;
    pub(crate) fn kwasm_nf_detach(ops: *mut c_void);

    pub(crate) fn kwasm_enter(
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
    pub(crate) fn kwasm_trap_handler(vmctx: *mut u8, code: u32, func: u32);
    /// Runs `f(arg)` on the kernel stack that the running `kwasm_enter`
    /// saved in `jmpbuf`.
    pub(crate) fn kwasm_on_kstack(f: extern "C" fn(*mut c_void), arg: *mut c_void, jmpbuf: *const u64);
}

/// A `struct ratelimit_state` of one program, so that one chatty program
/// cannot hide another's messages (each program has one for its `log`
/// output and one for its trap reports).
pub(crate) struct RateLimit(*mut c_void);

impl RateLimit {
    pub(crate) fn new() -> kernel::error::Result<RateLimit> {
        // SAFETY: no preconditions.
        let rs = unsafe { kwasm_ratelimit_new() };
        if rs.is_null() {
            return Err(kernel::error::code::ENOMEM);
        }
        Ok(RateLimit(rs))
    }

    /// Writes `kwasm: <msg>` to the kernel log unless this state's budget
    /// (printk's default: 10 messages per 5 s) is spent. Usable in any
    /// context.
    pub(crate) fn log(&self, msg: &[u8]) {
        // SAFETY: `self.0` is a live state; `msg` is a valid buffer of
        // `msg.len()` bytes that the glue prints with an explicit length and
        // does not keep.
        unsafe { kwasm_log_limited(self.0, msg.as_ptr().cast(), msg.len()) }
    }
}

impl Drop for RateLimit {
    fn drop(&mut self) {
        // SAFETY: allocated by `kwasm_ratelimit_new`, freed once; nothing
        // logs through a program that is being dropped.
        unsafe { kwasm_ratelimit_free(self.0) }
    }
}

// SAFETY: `__ratelimit` takes the state's own spinlock; any CPU may use it.
unsafe impl Send for RateLimit {}
// SAFETY: as above.
unsafe impl Sync for RateLimit {}

/// Bottom halves disabled on this CPU while the guard lives: the CPU is
/// fixed and no netfilter hook runs on it meanwhile.
pub(crate) struct BhGuard(());

impl BhGuard {
    pub(crate) fn new() -> BhGuard {
        // SAFETY: nestable, any context; paired by `drop`.
        unsafe { kwasm_bh_disable() };
        BhGuard(())
    }

    /// The current CPU, stable while the guard lives.
    pub(crate) fn cpu(&self) -> usize {
        // SAFETY: bottom halves are disabled, so we cannot migrate.
        unsafe { kwasm_cpu() as usize }
    }
}

impl Drop for BhGuard {
    fn drop(&mut self) {
        // SAFETY: pairs with the disable in `new`.
        unsafe { kwasm_bh_enable() };
    }
}

/// A reference on a program module (`try_module_get`), dropped with
/// `module_put`: its code and metadata stay mapped while it lives.
pub(crate) struct ModuleRef(*mut c_void);

impl ModuleRef {
    /// # Safety
    /// `m` must be a `struct module` that cannot be freed during this call
    /// (the caller holds the registry lock and the program is registered,
    /// so its exit stub has not finished).
    pub(crate) unsafe fn get(m: *mut c_void) -> Option<ModuleRef> {
        // SAFETY: per this function's contract.
        unsafe { kwasm_module_get(m) }.then_some(ModuleRef(m))
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        // SAFETY: pairs with the successful `try_module_get` in `get`.
        unsafe { kwasm_module_put(self.0) }
    }
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
}

impl core::fmt::Write for MsgBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push_sanitized(s.as_bytes());
        Ok(())
    }
}

/// Zeroed `vmalloc` memory, freed on drop. A zero-sized block holds no
/// allocation.
pub(crate) struct VMem {
    ptr: *mut u8,
    len: usize,
}

impl VMem {
    pub(crate) fn new(len: usize) -> kernel::error::Result<VMem> {
        if len == 0 {
            return Ok(VMem { ptr: core::ptr::NonNull::<u64>::dangling().as_ptr().cast(), len: 0 });
        }
        // SAFETY: `kwasm_vzalloc` has no preconditions.
        let ptr = unsafe { kwasm_vzalloc(len) }.cast::<u8>();
        if ptr.is_null() {
            return Err(kernel::error::code::ENOMEM);
        }
        Ok(VMem { ptr, len })
    }

    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for VMem {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: `ptr` came from `kwasm_vzalloc` and is freed once.
            unsafe { kwasm_vfree(self.ptr.cast()) }
        }
    }
}

// SAFETY: `VMem` is plain memory; who may access it is decided by its owner.
unsafe impl Send for VMem {}
// SAFETY: as above; `VMem` itself has no interior mutability.
unsafe impl Sync for VMem {}
