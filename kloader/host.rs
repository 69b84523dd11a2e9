// SPDX-License-Identifier: GPL-2.0

//! The kernel side of `kwasm.log` (the host functions themselves are
//! abi's, see [`crate::libcalls`]): a rate-limited printk per program,
//! called on the kernel stack.

use core::ffi::c_void;
use core::fmt::Write;

use crate::abi::bulk;
use crate::abi::ring::MAX_RECORD;
use crate::abi::trap::TrapCode;
use kernel::time::Ktime;
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
    let (cpu, jmpbuf) = (i.cpu, i.jmpbuf.as_ptr());
    let (shared, mem) = i.shared_and_mem();
    let bytes = bulk::slice(mem, ptr, len).ok_or(TrapCode::MemoryOutOfBounds)?;
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    // Every message goes to the log ring too (`kwasm log`), cut to a
    // record's largest size; when the ring is full it is counted there as
    // dropped, like any ring record.
    let now = Ktime::ktime_get().to_ns() as u64;
    let _ = shared.log_ring.slots().output(cpu, now, text.get(..MAX_RECORD as usize).unwrap_or(text));
    let mut msg = MsgBuf::new();
    let _ = write!(msg, "{}: ", shared.name());
    msg.push_sanitized(text);
    let m = LogMsg { limit: &shared.log_limit, msg: msg.as_bytes() };
    let arg = core::ptr::from_ref(&m).cast_mut().cast();
    // SAFETY: a host function runs inside `kwasm_enter`, whose saved kernel
    // stack pointer is in `jmpbuf`; `m` outlives the call and is what
    // `log_on_kstack` reads.
    unsafe { ffi::on_kstack(log_on_kstack, arg, jmpbuf) };
    Ok(())
}
