// SPDX-License-Identifier: GPL-2.0

//! kwasm.ko: runs ahead-of-time compiled WebAssembly programs in the kernel.
//!
//! The crate root: module init and exit. The rest, with the userspace
//! runtime's names where it has the same job (`runtime/src/`):
//! - `registry`: loaded programs and the program-module ABI;
//! - `dev`: `/dev/kwasm` and its ioctls;
//! - `program`: a program, its per-CPU instances, stats and the call path;
//! - `instance`: one per-CPU instance, its allocation and instantiation;
//! - `libcalls`, `host`: what generated code calls;
//! - `ffi`: glue.c and entry.S, and the safe wrappers over them;
//! - `abi`: the `kwasm-abi` crate's sources, shared with userspace.

use kernel::prelude::*;

#[allow(dead_code, unreachable_pub, missing_docs, unused_imports, clippy::all)]
mod abi;
mod dev;
mod ffi;
mod host;
mod instance;
mod libcalls;
mod program;
mod registry;

module! {
    type: Kwasm,
    name: "kwasm",
    author: "kwasm developers",
    description: "Runs ahead-of-time compiled WebAssembly programs at netfilter hooks",
    license: "GPL",
}

/// The module instance: owns the registry and `/dev/kwasm`.
struct Kwasm {
    /// Declared first: deregistered first, so no ioctl runs afterwards.
    dev: Option<ffi::MiscDev>,
    registry: Pin<KBox<registry::Registry>>,
}

impl kernel::Module for Kwasm {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let registry = KBox::pin_init(kernel::new_mutex!(KVec::new()), GFP_KERNEL)?;
        registry::publish(Some(&registry));
        let dev = ffi::MiscDev::register().inspect_err(|_| registry::publish(None))?;
        pr_info!("loaded\n");
        Ok(Kwasm { dev: Some(dev), registry })
    }
}

impl Drop for Kwasm {
    fn drop(&mut self) {
        drop(self.dev.take());
        registry::clear(&self.registry);
        registry::publish(None);
        pr_info!("unloaded\n");
    }
}
