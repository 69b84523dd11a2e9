// SPDX-License-Identifier: GPL-2.0

//! The kernel's host functions (`abi::host`): what a program imports.
//!
//! Like libcalls they run on the wasm stack in the context of the
//! invocation, never allocate or sleep, and reach the calling instance
//! through `VmCtx + HOST_CTX`. One that must trap raises the trap itself
//! (the handler does not return) from a frame that holds nothing needing a
//! destructor; `log` prints on the kernel stack.

use core::ffi::c_void;
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::time::Ktime;

use crate::abi::host::HostFuncs;
use crate::abi::trap::TrapCode;
use crate::ffi::{self, MsgBuf, RateLimit};
use crate::instance::Instance;
use crate::libcalls::caller;

/// Every host function, by the fields `abi::host::HostFuncs` fixes.
pub(crate) static FUNCS: HostFuncs = HostFuncs {
    log, pkt_len, pkt_load, time_ns, map_get, map_set, map_add, random_u32,
};

/// Defines a host function: an `extern "C" fn(vmctx, args..) -> R` whose
/// body, run with `$i` (the calling instance), gives `Result<R, TrapCode>`;
/// an `Err` traps.
macro_rules! host_fn {
    ($(fn $name:ident($i:ident $(, $a:ident: $t:ty)*) -> $r:ty $body:block)*) => {$(
        extern "C" fn $name(vmctx: *mut u8 $(, $a: $t)*) -> $r {
            let body = |$i: &mut Instance| -> Result<$r, TrapCode> { $body };
            // SAFETY: host functions are reachable only through the import
            // slots of a `VmCtx`, called by generated code with the
            // importer's `VmCtx` during its call, as `caller` requires.
            let r = body(unsafe { caller(vmctx) });
            match r {
                Ok(v) => v,
                Err(code) => {
                    // SAFETY: the same `VmCtx`, during its call; this frame
                    // holds only plain values.
                    unsafe { ffi::raise(vmctx, code as u32) };
                    Default::default()
                }
            }
        }
    )*};
}

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

/// Map slot `idx` of map `map`; out of range traps with `HostError`.
fn slot(i: &Instance, map: u32, idx: u32) -> Result<&AtomicU64, TrapCode> {
    i.shared.map(map).and_then(|m| m.get(idx as usize)).ok_or(TrapCode::HostError)
}

host_fn! {
    fn log(i, ptr: u32, len: u32) -> () {
        let mut msg = MsgBuf::new();
        let _ = write!(msg, "{}: ", i.shared.name());
        let bytes = i.mem_slice(ptr, len).ok_or(TrapCode::MemoryOutOfBounds)?;
        msg.push_sanitized(bytes.strip_suffix(b"\n").unwrap_or(bytes));
        let m = LogMsg { limit: &i.shared.log_limit, msg: msg.as_bytes() };
        let arg = core::ptr::from_ref(&m).cast_mut().cast();
        // SAFETY: a host function runs inside `kwasm_enter`, whose saved
        // kernel stack pointer is in `jmpbuf`; `m` outlives the call and is
        // what `log_on_kstack` reads.
        unsafe { ffi::on_kstack(log_on_kstack, arg, i.jmpbuf.as_ptr()) };
        Ok(())
    }

    fn pkt_len(i) -> i32 {
        Ok(i.packet.map_or(0, |p| p.len().min(i32::MAX as u32) as i32))
    }

    fn pkt_load(i, off: u32, dst: u32, len: u32) -> i32 {
        let pkt = i.packet;
        let out = i.mem_slice(dst, len).ok_or(TrapCode::MemoryOutOfBounds)?;
        let Some(pkt) = pkt else { return Ok(0) };
        let plen = pkt.len();
        if off >= plen {
            return Ok(0);
        }
        let n = len.min(plen - off);
        Ok(if pkt.copy(off, &mut out[..n as usize]) { n as i32 } else { 0 })
    }

    fn time_ns(_i) -> i64 {
        Ok(Ktime::ktime_get().to_ns())
    }

    fn map_get(i, map: u32, idx: u32) -> i64 {
        Ok(slot(i, map, idx)?.load(Ordering::Relaxed) as i64)
    }

    fn map_set(i, map: u32, idx: u32, v: i64) -> () {
        slot(i, map, idx)?.store(v as u64, Ordering::Relaxed);
        Ok(())
    }

    fn map_add(i, map: u32, idx: u32, d: i64) -> i64 {
        Ok(slot(i, map, idx)?.fetch_add(d as u64, Ordering::Relaxed).wrapping_add(d as u64) as i64)
    }

    fn random_u32(_i) -> i32 {
        Ok(ffi::kwasm_random_u32() as i32)
    }
}
