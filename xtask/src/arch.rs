//! The VM's architecture (`--arch`): what differs between the x86-64 and the
//! arm64 kernel, VM and userspace.

use std::path::PathBuf;

use clap::ValueEnum;

use crate::util;

/// The architecture of the VM kernel and everything that runs in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Arch {
    /// x86-64: `bzImage` on `qemu-system-x86_64`
    #[default]
    #[value(name = "x86_64", alias = "x86-64", alias = "amd64")]
    X86_64,
    /// arm64: `Image` on `qemu-system-aarch64 -M virt` (always TCG here)
    #[value(name = "aarch64", alias = "arm64")]
    Aarch64,
}

impl Arch {
    /// The name Rust, QEMU and `kwasmc --target` use: `x86_64` or
    /// `aarch64`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The other architecture: the hostile-input check loads a program
    /// compiled for it, which both `kwasm` and the kernel must refuse.
    pub fn other(self) -> Arch {
        match self {
            Arch::X86_64 => Arch::Aarch64,
            Arch::Aarch64 => Arch::X86_64,
        }
    }

    /// The kernel's `ARCH=`/`SRCARCH` (`arch/<..>/` in the tree).
    pub fn kernel_arch(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86",
            Arch::Aarch64 => "arm64",
        }
    }

    /// The boot image QEMU's `-kernel` takes, relative to the tree.
    pub fn image(self) -> &'static str {
        match self {
            Arch::X86_64 => "arch/x86/boot/bzImage",
            Arch::Aarch64 => "arch/arm64/boot/Image",
        }
    }

    /// The first config fragment, applied on top of `tinyconfig`.
    pub fn base_fragment(self) -> &'static str {
        match self {
            Arch::X86_64 => "vm/kernel.config",
            Arch::Aarch64 => "vm/kernel-arm64.config",
        }
    }

    /// Whether this is the architecture xtask runs on (the default, whose
    /// paths and cache names predate `--arch`, and where KVM may work).
    pub fn is_host(self) -> bool {
        self.name() == std::env::consts::ARCH
    }

    /// The architecture xtask runs on: the host's `kwasmc` compiles every
    /// VM's guests (x86-64 on a host that is neither).
    pub fn host() -> Arch {
        if Arch::Aarch64.is_host() {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    }

    /// Where xtask writes the initramfs, payload, logs and console logs:
    /// `target/kwasm-vm/` for x86-64 (as before `--arch`), a subdirectory
    /// named after the architecture otherwise.
    pub fn out_dir(self) -> PathBuf {
        match self {
            Arch::X86_64 => util::out_dir(),
            Arch::Aarch64 => util::out_dir().join(self.name()),
        }
    }

    /// The QEMU system emulator.
    pub fn qemu(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Aarch64 => "qemu-system-aarch64",
        }
    }

    /// The serial console device on QEMU's machine.
    pub fn console(self) -> &'static str {
        match self {
            Arch::X86_64 => "ttyS0",
            Arch::Aarch64 => "ttyAMA0",
        }
    }

    /// The ELF `e_machine` of binaries for this architecture.
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Aarch64 => 183,
        }
    }

    /// The glibc Rust target: the VM's CLI, linked static against glibc
    /// (Debian's static libelf is built against glibc).
    pub fn gnu_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        for (s, a) in [
            ("x86_64", Arch::X86_64),
            ("amd64", Arch::X86_64),
            ("aarch64", Arch::Aarch64),
            ("arm64", Arch::Aarch64),
        ] {
            assert_eq!(Arch::from_str(s, false), Ok(a));
        }
        assert!(Arch::from_str("riscv64", false).is_err());
        assert_eq!(Arch::default(), Arch::X86_64);
    }
}
