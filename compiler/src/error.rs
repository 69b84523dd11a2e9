//! Compile errors.
//!
//! Every error is one line that says *where* (function index and name, byte
//! offset in the wasm binary) and *why*. Users see it verbatim from `kwasmc`,
//! and the spec-test harness inspects [`ErrorKind`] to tell a malformed binary
//! from an invalid module.

use std::fmt;

/// What class of problem stopped compilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input cannot be decoded: not wasm at all, bad WAT, or a binary
    /// that breaks the encoding rules (the spec's `assert_malformed`).
    Malformed,
    /// The module decodes but does not validate (`assert_invalid`), or it
    /// imports a host function with the wrong signature.
    Invalid,
    /// The module is valid WebAssembly but uses a feature kwasm does not
    /// support (SIMD, threads, memory64, ...), or exceeds a kwasm limit.
    Unsupported,
    /// Cranelift failed, or an internal invariant broke. Always a kwasm bug.
    Codegen,
}

/// A function named in an error message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncLoc {
    /// Index in the module's function index space (imports first).
    pub index: u32,
    /// Name from the name section, when the module has one.
    pub name: Option<String>,
}

/// Why [`crate::compile`] failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CompileError {
    pub kind: ErrorKind,
    /// The function the problem is in, if it is in one.
    pub func: Option<FuncLoc>,
    /// Byte offset in the wasm binary, where known.
    pub offset: Option<usize>,
    /// The reason, without location. For [`ErrorKind::Unsupported`] this is
    /// the feature's name.
    pub message: String,
    /// Set for inputs that are not WebAssembly at all (bad magic, bad WAT).
    pub not_wasm: bool,
}

impl CompileError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> CompileError {
        CompileError {
            kind,
            func: None,
            offset: None,
            message: message.into(),
            not_wasm: false,
        }
    }

    pub fn malformed(message: impl Into<String>, offset: usize) -> CompileError {
        CompileError::new(ErrorKind::Malformed, message).at(offset)
    }

    pub fn invalid(message: impl Into<String>, offset: usize) -> CompileError {
        CompileError::new(ErrorKind::Invalid, message).at(offset)
    }

    /// A feature kwasm does not support; `feature` names it.
    pub fn unsupported(feature: impl Into<String>) -> CompileError {
        CompileError::new(ErrorKind::Unsupported, feature)
    }

    /// An internal error (Cranelift failure or broken invariant).
    pub fn codegen(message: impl Into<String>) -> CompileError {
        CompileError::new(ErrorKind::Codegen, message)
    }

    pub fn not_wasm(message: impl Into<String>) -> CompileError {
        CompileError {
            not_wasm: true,
            ..CompileError::new(ErrorKind::Malformed, message)
        }
    }

    /// The class of problem (also available as the `kind` field).
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Attach a byte offset (keeps an offset already set).
    pub fn at(mut self, offset: usize) -> CompileError {
        self.offset.get_or_insert(offset);
        self
    }

    /// Attach the function the error is in (keeps one already set).
    pub fn in_func(mut self, index: u32, name: Option<&str>) -> CompileError {
        if self.func.is_none() {
            self.func = Some(FuncLoc {
                index,
                name: name.map(str::to_owned),
            });
        }
        self
    }
}

impl fmt::Display for CompileError {
    /// The location and reason; for a feature that language toolchains
    /// turn on, what to change (`features::toolchain_hint`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_base(f)?;
        match self.kind {
            ErrorKind::Unsupported => match crate::features::toolchain_hint(&self.message) {
                Some(h) => write!(f, ": {h}"),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

impl CompileError {
    fn write_base(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.not_wasm {
            return write!(f, "not a WebAssembly module: {}", self.message);
        }
        let what = match self.kind {
            ErrorKind::Malformed => "malformed module",
            ErrorKind::Invalid => "invalid module",
            ErrorKind::Unsupported => "unsupported feature",
            ErrorKind::Codegen => "internal compiler error",
        };
        // Shapes:
        //   function 3 (parse_header) at offset 0x1a2: unsupported feature: SIMD
        //   invalid module at offset 0x20: type mismatch ...
        //   invalid module: function 2 at offset 0x31: type mismatch ...
        match (&self.func, self.kind) {
            (Some(func), ErrorKind::Unsupported | ErrorKind::Codegen) => {
                write_func(f, func, self.offset)?;
                write!(f, ": {what}: {}", self.message)
            }
            (Some(func), _) => {
                write!(f, "{what}: ")?;
                write_func(f, func, self.offset)?;
                write!(f, ": {}", self.message)
            }
            (None, _) => {
                match (self.kind, self.offset) {
                    (ErrorKind::Unsupported, Some(off)) => write!(f, "at offset {off:#x}: {what}")?,
                    (_, Some(off)) => write!(f, "{what} at offset {off:#x}")?,
                    (_, None) => write!(f, "{what}")?,
                }
                write!(f, ": {}", self.message)
            }
        }
    }
}

fn write_func(f: &mut fmt::Formatter<'_>, func: &FuncLoc, offset: Option<usize>) -> fmt::Result {
    write!(f, "function {}", func.index)?;
    if let Some(name) = func.name.as_deref().filter(|n| !n.is_empty()) {
        write!(f, " ({})", name.escape_default())?;
    }
    if let Some(off) = offset {
        write!(f, " at offset {off:#x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shapes() {
        let e = CompileError::unsupported("SIMD")
            .at(0x1a2)
            .in_func(3, Some("parse_header"));
        assert_eq!(
            e.to_string(),
            "function 3 (parse_header) at offset 0x1a2: unsupported feature: SIMD: build without \
             SIMD: drop `-msimd128` (C, Zig) or the `simd128` target feature (Rust: no \
             `-C target-feature=+simd128`)"
        );
        let e = CompileError::invalid("type mismatch", 0x20);
        assert_eq!(
            e.to_string(),
            "invalid module at offset 0x20: type mismatch"
        );
        let e = CompileError::invalid("type mismatch", 0x31).in_func(2, None);
        assert_eq!(
            e.to_string(),
            "invalid module: function 2 at offset 0x31: type mismatch"
        );
        let e = CompileError::not_wasm("bad magic");
        assert_eq!(e.to_string(), "not a WebAssembly module: bad magic");
        let e = CompileError::unsupported("memory64").at(0x10);
        assert_eq!(
            e.to_string(),
            "at offset 0x10: unsupported feature: memory64"
        );
        // Names from the binary cannot break the one-line format.
        let e = CompileError::codegen("x").in_func(1, Some("a\nb"));
        assert!(!e.to_string().contains('\n'));
    }
}
