//! Value types as they appear in `.kw` metadata and import signatures.
//!
//! The byte codes are the WebAssembly binary encodings, so a reader of a hex
//! dump sees familiar numbers.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValType {
    I32 = 0x7f,
    I64 = 0x7e,
    F32 = 0x7d,
    F64 = 0x7c,
    FuncRef = 0x70,
    ExternRef = 0x6f,
}

impl ValType {
    pub fn from_u8(b: u8) -> Option<ValType> {
        Some(match b {
            0x7f => ValType::I32,
            0x7e => ValType::I64,
            0x7d => ValType::F32,
            0x7c => ValType::F64,
            0x70 => ValType::FuncRef,
            0x6f => ValType::ExternRef,
            _ => return None,
        })
    }

    pub fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef)
    }

    pub fn is_float(self) -> bool {
        matches!(self, ValType::F32 | ValType::F64)
    }

    pub fn name(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        }
    }
}

/// Every value crosses the host boundary as one 64-bit slot: integers
/// zero-extended, floats as their bit patterns, references as pointers
/// (funcref: `*const VmFuncRef`; externref: an opaque host value), null = 0.
pub type RawVal = u64;

/// Why a value from outside the kernel was refused as an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgError {
    /// An `i32`/`f32` slot with bits above the low 32 set.
    Wide,
    /// A non-null reference: only the runtime may create references, so
    /// a caller can pass nothing but null (DESIGN decision 11).
    Reference,
}

impl ArgError {
    pub fn message(self) -> &'static str {
        match self {
            ArgError::Wide => "a 32-bit value with high bits set",
            ArgError::Reference => "a non-null reference (only null can be passed)",
        }
    }
}

/// Checks one argument that arrives from outside the sandbox (the `INVOKE`
/// ioctl) against its parameter type. Nothing from userspace may become a
/// reference or an address: a reference parameter takes only null.
pub fn check_external_arg(ty: ValType, raw: RawVal) -> Result<(), ArgError> {
    match ty {
        ValType::I32 | ValType::F32 if raw >> 32 != 0 => Err(ArgError::Wide),
        ValType::FuncRef | ValType::ExternRef if raw != 0 => Err(ArgError::Reference),
        _ => Ok(()),
    }
}

/// What a result of type `ty` may show outside the sandbox. References are
/// kernel addresses: they leave only as 0 (null) or 1 (non-null), so no
/// address ever reaches userspace (DESIGN decision 11).
pub fn external_result(ty: ValType, raw: RawVal) -> RawVal {
    if ty.is_ref() {
        (raw != 0) as RawVal
    } else {
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_null_references_cross_in() {
        assert_eq!(check_external_arg(ValType::FuncRef, 0), Ok(()));
        assert_eq!(
            check_external_arg(ValType::FuncRef, 0x4141_4141_4141_4141),
            Err(ArgError::Reference)
        );
        assert_eq!(
            check_external_arg(ValType::ExternRef, 1),
            Err(ArgError::Reference)
        );
        assert_eq!(check_external_arg(ValType::I32, u32::MAX as u64), Ok(()));
        assert_eq!(
            check_external_arg(ValType::I32, 1 << 32),
            Err(ArgError::Wide)
        );
        assert_eq!(
            check_external_arg(ValType::F32, 1 << 40),
            Err(ArgError::Wide)
        );
        assert_eq!(check_external_arg(ValType::I64, u64::MAX), Ok(()));
    }

    #[test]
    fn signatures_print_one_way() {
        extern crate std;
        use std::string::ToString;
        let s = Sig::new(&[ValType::I32, ValType::FuncRef], &[ValType::I64]);
        assert_eq!(s.to_string(), "(i32, funcref) -> (i64)");
        assert_eq!(Sig::new(&[], &[]).to_string(), "() -> ()");
        assert_eq!(Arch::from_name("arm64"), Some(Arch::Aarch64));
        assert_eq!(Arch::from_name(Arch::X86_64.name()), Some(Arch::X86_64));
    }

    #[test]
    fn references_leave_as_a_flag() {
        assert_eq!(external_result(ValType::FuncRef, 0xffa0_0000_0001_5048), 1);
        assert_eq!(external_result(ValType::ExternRef, 0), 0);
        assert_eq!(
            external_result(ValType::I64, 0xffa0_0000_0001_5048),
            0xffa0_0000_0001_5048
        );
    }
}

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

    /// The architecture this code was built for: what a runtime executes,
    /// and what `kwasmc` targets when none is named. `None` on any other
    /// machine (abi itself builds anywhere; only the runtimes need this).
    pub const HOST: Option<Arch> = if cfg!(target_arch = "x86_64") {
        Some(Arch::X86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(Arch::Aarch64)
    } else {
        None
    };

    /// Every architecture, for command-line parsers and help texts.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// Parses a name as `name()` prints it; `x86-64` and `arm64` are
    /// accepted too.
    pub fn from_name(s: &str) -> Option<Arch> {
        match s {
            "x86_64" | "x86-64" => Some(Arch::X86_64),
            "aarch64" | "arm64" => Some(Arch::Aarch64),
            _ => None,
        }
    }
}

impl core::fmt::Display for Arch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// `(i32, i64) -> (i32)`: how every kwasm message prints a function type.
pub fn fmt_sig(
    f: &mut core::fmt::Formatter<'_>,
    params: impl Iterator<Item = ValType>,
    results: impl Iterator<Item = ValType>,
) -> core::fmt::Result {
    fn list(
        f: &mut core::fmt::Formatter<'_>,
        tys: impl Iterator<Item = ValType>,
    ) -> core::fmt::Result {
        f.write_str("(")?;
        for (i, t) in tys.enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(t.name())?;
        }
        f.write_str(")")
    }
    list(f, params)?;
    f.write_str(" -> ")?;
    list(f, results)
}

/// A function type held as two slices, printed with [`fmt_sig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sig<'a> {
    pub params: &'a [ValType],
    pub results: &'a [ValType],
}

impl<'a> Sig<'a> {
    pub const fn new(params: &'a [ValType], results: &'a [ValType]) -> Sig<'a> {
        Sig { params, results }
    }
}

impl core::fmt::Display for Sig<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        fmt_sig(f, self.params.iter().copied(), self.results.iter().copied())
    }
}
