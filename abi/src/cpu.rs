//! Optional CPU extensions that code in a `.kw` may use.
//!
//! kwasmc targets each architecture's baseline unless it is asked for more
//! (`kwasmc compile --cpu`), so that a `.kw` runs on every CPU of its
//! architecture. Code compiled with extensions records them in the metadata
//! header ([`super::meta::Meta::cpu`]), and both runtimes refuse to run it
//! on a CPU that lacks one ([`first_missing`]; userspace asks
//! [`super::host_cpu`] what this CPU has). The check is not optional:
//! in the kernel an unsupported instruction is an invalid-opcode oops, and
//! some are worse. `lzcnt` on a CPU without it executes as `bsr` and
//! silently computes a different number.
//!
//! Only extensions that change the code of scalar WebAssembly are listed
//! (kwasm has no SIMD). Names are Rust's and LLVM's `target-feature` names.

use super::types::Arch;
use core::fmt;

/// `popcnt`: `i32.popcnt` and `i64.popcnt` in one instruction.
pub const POPCNT: u32 = 1 << 0;
/// `lzcnt` (ABM): `clz` in one instruction, without the zero test.
pub const LZCNT: u32 = 1 << 1;
/// BMI1: `tzcnt` for `ctz`, `andn`, `blsr` and friends.
pub const BMI1: u32 = 1 << 2;
/// BMI2: `rorx` and the flag-free shifts `shlx`/`shrx`/`sarx`, which need
/// no `cl` and no copy of their source.
pub const BMI2: u32 = 1 << 3;
/// SSE4.1: `roundss`/`roundsd` for `floor`, `ceil`, `trunc` and `nearest`,
/// which are libcalls without it.
pub const SSE41: u32 = 1 << 4;
/// AVX: the three-operand VEX forms of the scalar float instructions.
pub const AVX: u32 = 1 << 5;
/// SSE4.2: nothing of its own in scalar code, but Cranelift uses `popcnt`
/// only when SSE4.2 is there too (they arrived together, with Nehalem).
pub const SSE42: u32 = 1 << 6;

/// One extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension {
    pub arch: Arch,
    /// Its bit in the metadata's mask (one of the constants above).
    pub bit: u32,
    /// Its `target-feature` name, as `--cpu` takes it.
    pub name: &'static str,
}

/// Every extension, in the order messages list them.
pub const EXTENSIONS: &[Extension] = &[
    Extension {
        arch: Arch::X86_64,
        bit: POPCNT,
        name: "popcnt",
    },
    Extension {
        arch: Arch::X86_64,
        bit: LZCNT,
        name: "lzcnt",
    },
    Extension {
        arch: Arch::X86_64,
        bit: BMI1,
        name: "bmi1",
    },
    Extension {
        arch: Arch::X86_64,
        bit: BMI2,
        name: "bmi2",
    },
    Extension {
        arch: Arch::X86_64,
        bit: SSE41,
        name: "sse4.1",
    },
    Extension {
        arch: Arch::X86_64,
        bit: SSE42,
        name: "sse4.2",
    },
    Extension {
        arch: Arch::X86_64,
        bit: AVX,
        name: "avx",
    },
];

/// The mask of every extension of `arch`: a metadata mask with any other
/// bit is refused.
pub fn known(arch: Arch) -> u32 {
    of_arch(arch).fold(0, |m, e| m | e.bit)
}

/// The extensions of `arch`.
pub fn of_arch(arch: Arch) -> impl Iterator<Item = &'static Extension> {
    EXTENSIONS.iter().filter(move |e| e.arch == arch)
}

/// The extensions in `mask`, in table order.
pub fn in_mask(mask: u32) -> impl Iterator<Item = &'static Extension> {
    EXTENSIONS.iter().filter(move |e| mask & e.bit != 0)
}

/// The extension called `name`, of any architecture.
pub fn by_name(name: &str) -> Option<&'static Extension> {
    EXTENSIONS.iter().find(|e| e.name == name)
}

/// The first extension in `need` that the CPU lacks, by `has`; `None` when
/// it has them all. Both runtimes call this before they map any code.
pub fn first_missing(
    need: u32,
    mut has: impl FnMut(&Extension) -> bool,
) -> Option<&'static Extension> {
    in_mask(need).find(|e| !has(e))
}

/// A mask printed as `bmi1,bmi2`, or `baseline` when empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Names(pub u32);

impl fmt::Display for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("baseline");
        }
        for (i, e) in in_mask(self.0).enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(e.name)?;
        }
        Ok(())
    }
}

/// Parses a comma-separated list of extension names (`--cpu bmi1,bmi2`),
/// of any architecture; `baseline`, or an empty list, is the empty mask.
/// Fails with the first name that is not an extension.
pub fn parse_names(list: &str) -> Result<u32, &str> {
    let mut mask = 0;
    for name in list.split(',').map(str::trim) {
        if name.is_empty() || name == "baseline" {
            continue;
        }
        mask |= by_name(name).ok_or(name)?.bit;
    }
    Ok(mask)
}

/// The first extension in `mask` that is not `arch`'s.
pub fn foreign(mask: u32, arch: Arch) -> Option<&'static Extension> {
    in_mask(mask).find(|e| e.arch != arch)
}

/// Why a mask is not a set of extensions of its architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskError {
    /// `extension` belongs to another architecture than `target`.
    Foreign {
        extension: &'static Extension,
        target: Arch,
    },
    /// Bits that are no extension at all (a newer format, or a forgery).
    Unknown(u32),
}

impl fmt::Display for MaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaskError::Foreign { extension, target } => write!(
                f,
                "CPU extension {} is for {}, not {}",
                extension.name,
                extension.arch.name(),
                target.name()
            ),
            MaskError::Unknown(bits) => write!(f, "unknown CPU extension bits {bits:#x}"),
        }
    }
}

/// The one rule for a mask, wherever it comes from (`--cpu`, the compiler's
/// options, a `.kw`'s metadata): every bit is an extension of `arch`.
pub fn check(mask: u32, arch: Arch) -> Result<(), MaskError> {
    if let Some(extension) = foreign(mask, arch) {
        return Err(MaskError::Foreign {
            extension,
            target: arch,
        });
    }
    match mask & !known(arch) {
        0 => Ok(()),
        bits => Err(MaskError::Unknown(bits)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn bits_and_names_are_unique() {
        for (i, a) in EXTENSIONS.iter().enumerate() {
            assert_eq!(a.bit.count_ones(), 1, "{}", a.name);
            for b in &EXTENSIONS[i + 1..] {
                assert_ne!(a.bit, b.bit, "{} and {}", a.name, b.name);
                assert_ne!(a.name, b.name);
            }
        }
        assert_eq!(known(Arch::Aarch64), 0, "no aarch64 extension yet");
    }

    #[test]
    fn lists_parse_and_print_one_way() {
        let m = parse_names("bmi2, popcnt,bmi1").unwrap();
        assert_eq!(m, BMI1 | BMI2 | POPCNT);
        assert_eq!(Names(m).to_string(), "popcnt,bmi1,bmi2");
        assert_eq!(parse_names("baseline"), Ok(0));
        assert_eq!(parse_names(""), Ok(0));
        assert_eq!(Names(0).to_string(), "baseline");
        assert_eq!(parse_names("bmi1,bmi3"), Err("bmi3"));
        assert_eq!(foreign(m, Arch::X86_64), None);
        assert_eq!(foreign(m, Arch::Aarch64).map(|e| e.name), Some("popcnt"));
    }

    #[test]
    fn a_mask_is_checked_against_its_architecture() {
        assert_eq!(check(BMI1 | AVX, Arch::X86_64), Ok(()));
        assert_eq!(check(0, Arch::Aarch64), Ok(()));
        let e = check(LZCNT, Arch::Aarch64).unwrap_err();
        assert_eq!(
            e,
            MaskError::Foreign {
                extension: by_name("lzcnt").unwrap(),
                target: Arch::Aarch64
            }
        );
        assert!(
            e.to_string().contains("lzcnt is for x86_64, not aarch64"),
            "{e}"
        );
        let e = check(BMI2 | 1 << 30, Arch::X86_64).unwrap_err();
        assert_eq!(e, MaskError::Unknown(1 << 30));
        assert_eq!(e.to_string(), "unknown CPU extension bits 0x40000000");
    }

    #[test]
    fn the_first_missing_extension_is_named() {
        let cpu = POPCNT | BMI1;
        assert_eq!(first_missing(POPCNT | BMI1, |e| cpu & e.bit != 0), None);
        let e = first_missing(POPCNT | LZCNT | BMI2, |e| cpu & e.bit != 0).unwrap();
        assert_eq!(e.name, "lzcnt");
        assert_eq!(first_missing(0, |_| false), None);
    }
}
