// SPDX-License-Identifier: GPL-2.0

//! The kernel side of `kwasm.log` (the host functions themselves are
//! abi's, see [`crate::libcalls`]): a rate-limited printk per program,
//! called on the kernel stack.

use core::ffi::c_void;
use core::fmt::Write;

use crate::abi::trap::TrapCode;
use crate::ffi::{self, MsgBuf, RateLimit};
use crate::instance::Instance;

/// What `log` hands to [`log_on_kstack`].
struct LogMsg<'a> {
    limit: &'a RateLimit,
    msg: &'a [u8],
}

/// Prints a `log` message; runs on the kernel stack (printk and the console
/// drivers go deep, and the wasm stack's reserve is not sized for them).
extern "C" fn log_on_kstack(arg: *mut c_void) {
    // SAFETY: `arg` is the `LogMsg` that `log` passed, live for the call.
    let m = unsafe { &*arg.cast::<LogMsg<'_>>() };
    m.limit.log(m.msg);
}

/// `kwasm.log` for instance `i`: `<program>: <bytes>`, sanitised, through
/// the program's rate limit. The line is formatted on the wasm stack
/// (without allocating) and printed on the kernel stack.
pub(crate) fn log(i: &mut Instance, ptr: u32, len: u32) -> Result<(), TrapCode> {
    let mut msg = MsgBuf::new();
    let _ = write!(msg, "{}: ", i.shared.name());
    let bytes = i.mem_slice(ptr, len).ok_or(TrapCode::MemoryOutOfBounds)?;
    msg.push_sanitized(bytes.strip_suffix(b"\n").unwrap_or(bytes));
    let m = LogMsg { limit: &i.shared.log_limit, msg: msg.as_bytes() };
    let arg = core::ptr::from_ref(&m).cast_mut().cast();
    // SAFETY: a host function runs inside `kwasm_enter`, whose saved kernel
    // stack pointer is in `jmpbuf`; `m` outlives the call and is what
    // `log_on_kstack` reads.
    unsafe { ffi::on_kstack(log_on_kstack, arg, i.jmpbuf.as_ptr()) };
    Ok(())
}
