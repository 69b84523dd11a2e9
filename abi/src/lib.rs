//! The vocabulary that `kwasmc`, `kwasm.ko` and the userspace runner share.
//!
//! Everything the compiler and a runtime must agree on lives here and only
//! here: the `.kw` metadata format ([`meta`]), the `VmCtx` layout ([`vmctx`]),
//! trap codes ([`trap`]), fuel rates ([`fuel`]), value types ([`types`]), the
//! host-import table ([`host`]), map kinds and declarations ([`maps`], [`hash`], [`ring`]), the linking and instantiation rules
//! ([`link`], [`instantiate`]), the libcalls and host functions as generated
//! code calls them ([`calls`]) and the `/dev/kwasm` ioctl interface
//! ([`ioctl`]).
//!
//! The crate is `#![no_std]` and never allocates, so that the kernel module can
//! build these very source files with `#[path]` modules. For that reason
//! the modules refer to each other with `super::`, never `crate::`.

#![no_std]
// `deny`, not `forbid`: `vmctx::view` and `calls` are the audited
// exceptions (where `VmCtx` addresses become references and functions).
#![deny(unsafe_code)]

#[macro_use]
pub mod wire;

pub mod bulk;
pub mod calls;
pub mod cpu;
pub mod fuel;
pub mod hash;
pub mod host;
#[cfg(feature = "std")]
pub mod host_cpu;
pub mod instantiate;
pub mod ioctl;
pub mod link;
pub mod maps;
pub mod meta;
pub mod ring;
pub mod trap;
pub mod types;
pub mod vmctx;

pub use types::Arch;
