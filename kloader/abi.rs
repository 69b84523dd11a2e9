// SPDX-License-Identifier: GPL-2.0

//! The sources of the `kwasm-abi` crate (`../abi/src/`), built as a module of
//! kwasm.ko so that the kernel validates metadata, encodes ioctl records and
//! runs the libcalls and host functions (`calls`) with the very code
//! userspace and the compiler use. The abi files refer to
//! each other with `super::`, which resolves to this module.

#[macro_use]
#[path = "../abi/src/wire.rs"]
pub(crate) mod wire;

#[path = "../abi/src/bulk.rs"]
pub(crate) mod bulk;
#[path = "../abi/src/calls.rs"]
pub(crate) mod calls;
#[path = "../abi/src/cpu.rs"]
pub(crate) mod cpu;
#[path = "../abi/src/fuel.rs"]
pub(crate) mod fuel;
#[path = "../abi/src/hash.rs"]
pub(crate) mod hash;
#[path = "../abi/src/host.rs"]
pub(crate) mod host;
#[path = "../abi/src/instantiate.rs"]
pub(crate) mod instantiate;
#[path = "../abi/src/ioctl.rs"]
pub(crate) mod ioctl;
#[path = "../abi/src/link.rs"]
pub(crate) mod link;
#[path = "../abi/src/maps.rs"]
pub(crate) mod maps;
#[path = "../abi/src/meta.rs"]
pub(crate) mod meta;
#[path = "../abi/src/ring.rs"]
pub(crate) mod ring;
#[path = "../abi/src/trap.rs"]
pub(crate) mod trap;
#[path = "../abi/src/types.rs"]
pub(crate) mod types;
#[path = "../abi/src/vmctx.rs"]
pub(crate) mod vmctx;

pub(crate) use types::Arch;

/// The architecture of this kernel, and so of the code kwasm.ko runs:
/// programs compiled for any other are refused.
pub(crate) const KERNEL_ARCH: Arch = match Arch::HOST {
    Some(a) => a,
    None => panic!("kwasm.ko supports x86-64 and arm64 kernels only"),
};
