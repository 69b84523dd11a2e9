//! The linking rules: which imports a module may have and what its entry
//! point must look like. The compiler, `kwasm load`, `kwasm.ko` and the
//! guests' `wasmcheck` all decide with these functions, so a module one of
//! them accepts is never refused by another for a different reason.

use super::host::{self, FILTER_EXPORT, HOST_FUNCS, HOST_MODULE, HostFunc};
use super::meta::{Meta, MetaSig, kind};
use super::types::{Sig, ValType};
use core::fmt;

/// A function type as some caller holds it (the compiler's, or one in a
/// `.kw`'s metadata), compared against the host's.
pub trait FuncSig: fmt::Display {
    fn is(&self, params: &[ValType], results: &[ValType]) -> bool;
}

impl FuncSig for MetaSig<'_> {
    fn is(&self, params: &[ValType], results: &[ValType]) -> bool {
        MetaSig::is(self, params, results)
    }
}

impl FuncSig for Sig<'_> {
    fn is(&self, params: &[ValType], results: &[ValType]) -> bool {
        self.params == params && self.results == results
    }
}

/// Where a module will run, which decides what it may import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linking {
    /// `kwasm.ko`: host functions of the `kwasm` module (and their aliases)
    /// only.
    Kernel,
    /// The userspace runner, which can also link modules to each other (the
    /// spec suite does): imports outside the host API are its business, but
    /// an import from `kwasm` must still be a host function of that type.
    Any,
}

/// The type of an entry point: `filter(pkt_len: i32) -> verdict: i32`.
pub const ENTRY_SIG: Sig<'static> = Sig::new(&[ValType::I32], &[ValType::I32]);

/// Why a module cannot be linked. `S` is the caller's function type.
#[derive(Clone, Copy, Debug)]
pub enum LinkError<'a, S> {
    /// A table, memory or global import, in the kernel.
    NotAFunction { module: &'a str, name: &'a str },
    /// An import that names no host function.
    UnknownImport { module: &'a str, name: &'a str },
    /// A host function imported with another type.
    ImportType {
        module: &'a str,
        name: &'a str,
        have: S,
        host: &'static HostFunc,
    },
    /// An export named `filter` that is not a function.
    EntryNotAFunction,
    /// A `filter` function of another type than [`ENTRY_SIG`].
    EntryType { have: S },
}

/// `kwasm.log, kwasm.pkt_len, ...`: what the kernel provides.
struct HostList;

impl fmt::Display for HostList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, h) in HOST_FUNCS.iter().enumerate() {
            write!(
                f,
                "{}{}.{}",
                if i > 0 { ", " } else { "" },
                h.module,
                h.name
            )?;
        }
        Ok(())
    }
}

/// What to change when an import comes from a language toolchain's
/// runtime rather than from the program: WASI, an imported memory, an
/// undefined C or Zig function, AssemblyScript's `abort`. `None` for other
/// imports.
pub fn toolchain_hint(module: &str, name: &str) -> Option<&'static str> {
    Some(match (module, name) {
        (m, _) if m.starts_with("wasi") => {
            "kwasm programs have no WASI: build with `--target wasm32-unknown-unknown` (Rust), \
             `--target=wasm32 -nostdlib` (C), `-target wasm32-freestanding` (Zig)"
        }
        ("env", "abort") => {
            "AssemblyScript's abort handler: build with `asc --use abort=` (or define `abort` \
             in the program)"
        }
        ("env", "memory" | "__linear_memory") => {
            "the program must define its memory: link without `--import-memory`"
        }
        (
            "env",
            "__stack_pointer" | "__indirect_function_table" | "__memory_base" | "__table_base",
        ) => {
            "this is a relocatable object or a shared library: link it into a module with \
             `wasm-ld --no-entry --export=filter` (clang: `-Wl,--no-entry -Wl,--export=filter`)"
        }
        ("env", _) => {
            "an undefined function (a C or Zig `extern`, or a libc call): kwasm has no libc; \
             define it in the program, or use the SDK's (`guests/c/kwasm.h`) helpers"
        }
        _ => return None,
    })
}

impl<S: fmt::Display> fmt::Display for LinkError<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::NotAFunction { module, name } => match toolchain_hint(module, name) {
                Some(hint) => write!(f, "imports `{module}`.`{name}`: {hint}"),
                None => write!(
                    f,
                    "import `{module}`.`{name}` is not a function: the kernel provides only the \
                     host functions of module `{HOST_MODULE}`"
                ),
            },
            LinkError::UnknownImport { module, name } => match toolchain_hint(module, name) {
                Some(hint) => write!(f, "imports `{module}`.`{name}`: {hint}"),
                None => write!(
                    f,
                    "unknown import `{module}`.`{name}`: the host functions are {HostList}"
                ),
            },
            LinkError::ImportType {
                module,
                name,
                have,
                host,
            } => write!(
                f,
                "import `{module}`.`{name}` has type {have}, but the host function has type {}",
                Sig::new(host.params, host.results)
            ),
            LinkError::EntryNotAFunction => {
                write!(
                    f,
                    "export `{FILTER_EXPORT}` must be a function of type {ENTRY_SIG}"
                )
            }
            LinkError::EntryType { have } => write!(
                f,
                "export `{FILTER_EXPORT}` has type {have}, but an entry point must have type {ENTRY_SIG}"
            ),
        }
    }
}

/// Checks one import. `func` is the import's type when it imports a
/// function, `None` for a table, memory or global. Returns the host function
/// it binds to, or `None` for an import the userspace linker resolves.
pub fn check_import<'a, S: FuncSig>(
    module: &'a str,
    name: &'a str,
    func: Option<S>,
    linking: Linking,
) -> Result<Option<&'static HostFunc>, LinkError<'a, S>> {
    let found = host::lookup(module, name);
    if found.is_none() && module != HOST_MODULE && linking == Linking::Any {
        return Ok(None);
    }
    let Some(have) = func else {
        return Err(match found {
            Some(_) => LinkError::NotAFunction { module, name },
            None if linking == Linking::Kernel => LinkError::NotAFunction { module, name },
            None => LinkError::UnknownImport { module, name },
        });
    };
    let Some(host) = found else {
        return Err(LinkError::UnknownImport { module, name });
    };
    if !have.is(host.params, host.results) {
        return Err(LinkError::ImportType {
            module,
            name,
            have,
            host,
        });
    }
    Ok(Some(host))
}

/// Checks the export named `filter`, if any: `func` is its type when it is
/// a function, `None` otherwise.
pub fn check_entry<'a, S: FuncSig>(func: Option<S>) -> Result<(), LinkError<'a, S>> {
    match func {
        None => Err(LinkError::EntryNotAFunction),
        Some(have) if !have.is(ENTRY_SIG.params, ENTRY_SIG.results) => {
            Err(LinkError::EntryType { have })
        }
        Some(_) => Ok(()),
    }
}

/// Every import of a `.kw` under `linking`, in order; stops at the first bad
/// one.
// The error carries the `.kw`'s signature (a `Meta` by value, to print it);
// abi is `no_std` without an allocator, so it cannot be boxed, and the error
// path is cold.
#[allow(clippy::result_large_err)]
pub fn check_imports<'a>(
    meta: &Meta<'a>,
    linking: Linking,
) -> Result<(), LinkError<'a, MetaSig<'a>>> {
    for imp in meta.imports().iter() {
        let func = if imp.kind == kind::FUNC {
            // A type index out of range cannot match any host function.
            Some(meta.types().get(imp.index).map(|t| meta.sig(t)))
        } else {
            None
        };
        let (module, name) = (meta.str(imp.module), meta.str(imp.name));
        match func {
            Some(None) => return Err(LinkError::UnknownImport { module, name }),
            Some(Some(sig)) => check_import(module, name, Some(sig), linking)?,
            None => check_import::<MetaSig<'a>>(module, name, None, linking)?,
        };
    }
    Ok(())
}

/// The entry point of a `.kw`: the function index of its `filter` export,
/// `None` when it has none.
#[allow(clippy::result_large_err)] // As for `check_imports`.
pub fn entry<'a>(meta: &Meta<'a>) -> Result<Option<u32>, LinkError<'a, MetaSig<'a>>> {
    let Some(e) = meta.export(FILTER_EXPORT) else {
        return Ok(None);
    };
    let func = (e.kind == kind::FUNC)
        .then(|| meta.func_type(e.index).and_then(|t| meta.types().get(t)))
        .flatten()
        .map(|t| meta.sig(t));
    check_entry(func)?;
    Ok(Some(e.index))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use ValType::{I32, I64};
    use std::string::ToString;

    #[test]
    fn kernel_takes_only_host_functions_of_their_type() {
        let ok = Sig::new(&[], &[I32]);
        let h = check_import("kwasm", "pkt_len", Some(ok), Linking::Kernel).unwrap();
        assert_eq!(h.unwrap().name, "pkt_len");
        let bad = Sig::new(&[I64], &[I32]);
        let e = check_import("kwasm", "pkt_len", Some(bad), Linking::Kernel).unwrap_err();
        assert_eq!(
            e.to_string(),
            "import `kwasm`.`pkt_len` has type (i64) -> (i32), but the host function has type () -> (i32)"
        );
        let e = check_import("mylib", "f", Some(ok), Linking::Kernel).unwrap_err();
        assert!(matches!(e, LinkError::UnknownImport { .. }));
        assert!(e.to_string().contains("kwasm.pkt_len"));
        let e = check_import::<Sig<'_>>("env", "mem", None, Linking::Kernel).unwrap_err();
        assert!(matches!(e, LinkError::NotAFunction { .. }));
    }

    #[test]
    fn toolchain_imports_say_what_to_change() {
        let f = Some(Sig::new(&[I32, I32, I32, I32], &[I32]));
        let msg = |m, n, sig| match sig {
            Some(s) => check_import(m, n, Some(s), Linking::Kernel)
                .unwrap_err()
                .to_string(),
            None => check_import::<Sig<'_>>(m, n, None, Linking::Kernel)
                .unwrap_err()
                .to_string(),
        };
        assert!(msg("wasi_snapshot_preview1", "fd_write", f).starts_with(
            "imports `wasi_snapshot_preview1`.`fd_write`: kwasm programs have no WASI: build \
                 with `--target wasm32-unknown-unknown` (Rust)"
        ));
        assert!(msg("env", "abort", f).contains("asc --use abort="));
        assert!(msg("env", "memory", None).contains("without `--import-memory`"));
        assert!(msg("env", "__stack_pointer", None).contains("relocatable object"));
        assert!(msg("env", "printf", f).contains("kwasm has no libc"));
        assert_eq!(toolchain_hint("kwasm", "log"), None);
    }

    #[test]
    fn userspace_links_other_modules_itself() {
        assert!(matches!(
            check_import("spectest", "print", Some(Sig::new(&[], &[])), Linking::Any),
            Ok(None)
        ));
        assert!(check_import::<Sig<'_>>("spectest", "table", None, Linking::Any).is_ok());
        // The host module's names are reserved everywhere.
        assert!(check_import("kwasm", "nope", Some(Sig::new(&[], &[])), Linking::Any).is_err());
    }

    #[test]
    fn entry_must_be_i32_to_i32() {
        assert!(check_entry(Some(ENTRY_SIG)).is_ok());
        let e = check_entry(Some(Sig::new(&[], &[I32]))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "export `filter` has type () -> (i32), but an entry point must have type (i32) -> (i32)"
        );
        assert!(matches!(
            check_entry::<Sig<'_>>(None),
            Err(LinkError::EntryNotAFunction)
        ));
    }
}
