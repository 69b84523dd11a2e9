// SPDX-License-Identifier: GPL-2.0

//! kwasm.ko: runs ahead-of-time compiled WebAssembly programs in the kernel.
//!
//! This is the crate root. `glue.c` provides what Linux 6.12 has no Rust
//! binding for (the misc device `/dev/kwasm`, symbol exports) and calls back
//! into the `extern "C"` functions here; `glue.h` declares both directions.
//! More Rust code goes into `mod` files next to this one.

use kernel::ffi::{c_int, c_long, c_uint, c_ulong, c_void};
use kernel::prelude::*;

module! {
    type: Kwasm,
    name: "kwasm",
    author: "kwasm developers",
    description: "Runs ahead-of-time compiled WebAssembly programs at netfilter hooks",
    license: "GPL",
}

/// Functions implemented in `glue.c`.
mod glue {
    use kernel::ffi::c_int;

    extern "C" {
        /// Registers `/dev/kwasm`. Returns 0 or a negative errno.
        pub(crate) fn kwasm_glue_init() -> c_int;
        /// Removes `/dev/kwasm`. Only after a successful `kwasm_glue_init`.
        pub(crate) fn kwasm_glue_exit();
    }
}

/// The module instance: exists while `/dev/kwasm` is registered.
struct Kwasm;

impl kernel::Module for Kwasm {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: `kwasm_glue_init` has no preconditions. It is called once,
        // here, and the device it registers is removed in `drop`.
        to_result(unsafe { glue::kwasm_glue_init() })?;
        pr_info!("loaded\n");
        Ok(Kwasm)
    }
}

impl Drop for Kwasm {
    fn drop(&mut self) {
        // SAFETY: a `Kwasm` exists only if `kwasm_glue_init` succeeded, and
        // it is dropped once, at module exit.
        unsafe { glue::kwasm_glue_exit() };
        pr_info!("unloaded\n");
    }
}

fn to_result(ret: c_int) -> Result {
    kernel::error::to_result(ret)
}

/// Handles an ioctl on `/dev/kwasm`; called by `glue.c`.
///
/// Returns a non-negative value or a negative errno.
#[no_mangle]
pub extern "C" fn kwasm_ioctl(cmd: c_uint, arg: c_ulong) -> c_long {
    let _ = (cmd, arg);
    ENOTTY.to_errno() as c_long
}

/// Registers a loaded program module; called through the exported
/// `kwasm_register_program` in `glue.c` by the program module's init stub.
///
/// Returns 0 or a negative errno.
#[no_mangle]
pub extern "C" fn kwasm_rs_register_program(
    owner: *mut c_void,
    meta: *const c_void,
    meta_len: usize,
) -> c_int {
    let _ = owner;
    if meta.is_null() || meta_len == 0 {
        return EINVAL.to_errno();
    }
    ENOTSUPP.to_errno()
}

/// Unregisters the programs of `owner`; called through the exported
/// `kwasm_unregister_program` in `glue.c` by the program module's exit stub.
#[no_mangle]
pub extern "C" fn kwasm_rs_unregister_program(owner: *mut c_void) {
    let _ = owner;
}
