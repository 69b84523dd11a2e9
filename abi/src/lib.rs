//! The vocabulary that `kwasmc`, `kwasm.ko` and the userspace runner share.
//!
//! Everything the compiler and a runtime must agree on lives here and only
//! here: the `.kw` metadata format ([`meta`]), the `VmCtx` layout ([`vmctx`]),
//! trap codes ([`trap`]), value types ([`types`]), the host-import table
//! ([`host`]) and the `/dev/kwasm` ioctl interface ([`ioctl`]).
//!
//! The crate is `#![no_std]` and never allocates, so that the kernel module can
//! build these very source files with `#[path]` modules.

#![no_std]
#![forbid(unsafe_code)]

pub mod host;
pub mod ioctl;
pub mod meta;
pub mod trap;
pub mod types;
pub mod vmctx;

/// Target architectures a `.kw` can carry code for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Arch {
    X86_64 = 1,
    Aarch64 = 2,
}

impl Arch {
    pub fn from_u32(v: u32) -> Option<Arch> {
        match v {
            1 => Some(Arch::X86_64),
            2 => Some(Arch::Aarch64),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
}
