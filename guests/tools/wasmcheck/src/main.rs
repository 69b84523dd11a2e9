//! `wasmcheck`: the guest build's sanity checks, run on the build machine.
//!
//! ```text
//! wasmcheck wat <in.wat> <out.wasm>
//!     Assemble a WAT file.
//! wasmcheck add-maps <file.wasm> <SPEC>...
//!     Append a kwasm.maps section (`kwasmc add-maps`, for AssemblyScript):
//!     SPEC is array:N, per_cpu_array:N, hash:KEY:VALUE:N or ring_buf:BYTES.
//! wasmcheck check [--filter] [--allow-bad-imports] <file.wasm>...
//!     Check each module with kwasmc's own front end and the kernel's linking
//!     rules, and print one summary per module:
//!     - kwasmc's validator (`kwasm_compiler::validate`): exactly the
//!       WebAssembly features kwasmc supports;
//!     - kwasmc's module rules (`kwasm_compiler::module_env::parse`): a
//!       well-formed `kwasm.maps` section, host functions imported with their
//!       exact types and only called directly, an `(i32) -> i32` `filter`,
//!       kwasm's implementation limits;
//!     - the kernel's linking rules (`kwasm_abi::link`, `Linking::Kernel`):
//!       only host functions may be imported, and `filter` is a function.
//!     `--filter` also requires a `filter` export. `--allow-bad-imports`
//!     turns import errors, and kwasmc's refusal that follows from them, into
//!     notes (for programs that exist to be rejected by kwasmc).
//! ```
//!
//! Exit status: 0 when every module passes, 1 otherwise, 2 on usage errors.

use std::process::ExitCode;

use kwasm_abi::host::FILTER_EXPORT;
use kwasm_abi::link::{self, Linking};
use kwasm_abi::meta::kind;
use kwasm_abi::types::Sig;
use kwasm_compiler::maps_section;
use kwasm_compiler::module_env::{self, FuncType, ModuleInfo};
use kwasm_compiler::{CompileError, validate};
use wasmparser::{Parser, Payload, TypeRef};

/// One import: module, name, and its type when it is a function.
type Import<'a> = (&'a str, &'a str, Option<FuncType>);

/// The imports of a module that passed kwasmc's validator. `module_env::parse`
/// refuses a module with a bad host import outright, so the imports are read
/// here too, to check and list them whatever kwasmc thinks.
fn imports(wasm: &[u8]) -> Result<Vec<Import<'_>>, CompileError> {
    let wp = |e: wasmparser::Error| CompileError::malformed(e.message(), e.offset());
    let mut types = Vec::new();
    let mut imports = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(wp)? {
            Payload::TypeSection(s) => {
                for t in s.into_iter_err_on_gc_types() {
                    let t = t.map_err(wp)?;
                    let vals = |v: &[wasmparser::ValType]| {
                        v.iter()
                            .map(|t| module_env::val_type(*t))
                            .collect::<Result<_, _>>()
                    };
                    types.push(FuncType {
                        params: vals(t.params())?,
                        results: vals(t.results())?,
                    });
                }
            }
            Payload::ImportSection(s) => {
                for imp in s.into_imports() {
                    let imp = imp.map_err(wp)?;
                    let func = match imp.ty {
                        TypeRef::Func(t) => types.get(t as usize).cloned(),
                        _ => None,
                    };
                    imports.push((imp.module, imp.name, func));
                }
            }
            _ => {}
        }
    }
    Ok(imports)
}

fn sig(t: &FuncType) -> Sig<'_> {
    Sig::new(&t.params, &t.results)
}

#[derive(Default)]
struct Report {
    errors: Vec<String>,
    notes: Vec<String>,
    imports: Vec<String>,
    /// What kwasmc's front end made of the module, when it accepted it.
    summary: Option<String>,
}

fn check(wasm: &[u8], want_filter: bool, allow_bad_imports: bool) -> Report {
    let mut r = Report::default();
    if let Err(e) = validate::validate(wasm) {
        r.errors.push(format!("kwasmc: {e}"));
        return r;
    }
    let imports = match imports(wasm) {
        Ok(i) => i,
        Err(e) => {
            r.errors.push(format!("kwasmc: {e}"));
            return r;
        }
    };
    let mut bad_imports = false;
    for (module, name, func) in &imports {
        r.imports.push(format!("{module}.{name}"));
        if let Err(e) = link::check_import(module, name, func.as_ref().map(sig), Linking::Kernel) {
            bad_imports = true;
            let msg = format!("kernel: {e}");
            if allow_bad_imports {
                r.notes.push(msg);
            } else {
                r.errors.push(msg);
            }
        }
    }
    match module_env::parse(wasm) {
        Ok(m) => {
            check_entry(&m, want_filter, &mut r.errors);
            r.summary = Some(summary(&m));
        }
        Err(e) if bad_imports && allow_bad_imports => r.notes.push(format!("kwasmc: {e}")),
        Err(e) => r.errors.push(format!("kwasmc: {e}")),
    }
    r
}

/// The entry point as the kernel sees it (kwasmc only checks the type of a
/// `filter` that is a function), and its presence with `--filter`.
fn check_entry(m: &ModuleInfo<'_>, want_filter: bool, errors: &mut Vec<String>) {
    match m.exports.iter().find(|e| e.name == FILTER_EXPORT) {
        Some(e) => {
            let func = (e.kind == kind::FUNC).then(|| sig(m.func_type(e.index)));
            if let Err(e) = link::check_entry(func) {
                errors.push(format!("kernel: {e}"));
            }
        }
        None if want_filter => errors.push(format!("no `{FILTER_EXPORT}` export")),
        None => {}
    }
}

fn summary(m: &ModuleInfo<'_>) -> String {
    let mem = m
        .memory
        .map_or("none".into(), |mem| format!("{} page(s)", mem.min));
    let maps = if m.maps.is_empty() {
        "none".into()
    } else {
        let decls: Vec<String> = m.maps.iter().map(ToString::to_string).collect();
        format!("[{}]", decls.join(", "))
    };
    let exports: Vec<&str> = m.exports.iter().map(|e| e.name).collect();
    format!(
        "{} funcs, memory {mem}, maps {maps}, exports: [{}]",
        m.num_defined_funcs(),
        exports.join(", ")
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("wat") if args.len() == 3 => match wat::parse_file(&args[1]) {
            Ok(bin) => match std::fs::write(&args[2], bin) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("wasmcheck: {}: {e}", args[2]);
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("wasmcheck: {e}");
                ExitCode::FAILURE
            }
        },
        Some("add-maps") if args.len() >= 3 => {
            let r = args[2..]
                .iter()
                .enumerate()
                .map(|(i, s)| maps_section::parse_spec(s, i as u32))
                .collect::<Result<Vec<_>, _>>()
                .and_then(|d| {
                    let m = std::fs::read(&args[1]).map_err(|e| e.to_string())?;
                    maps_section::append(&m, &d)
                })
                .and_then(|out| std::fs::write(&args[1], out).map_err(|e| e.to_string()));
            match r {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("wasmcheck: {}: {e}", args[1]);
                    ExitCode::FAILURE
                }
            }
        }
        Some("check") => {
            let mut want_filter = false;
            let mut allow_bad_imports = false;
            let mut files = vec![];
            for a in &args[1..] {
                match a.as_str() {
                    "--filter" => want_filter = true,
                    "--allow-bad-imports" => allow_bad_imports = true,
                    f => files.push(f),
                }
            }
            if files.is_empty() {
                eprintln!("wasmcheck check: no files");
                return ExitCode::from(2);
            }
            let mut ok = true;
            for f in files {
                let bytes = match std::fs::read(f) {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("{f}: {e}");
                        ok = false;
                        continue;
                    }
                };
                let r = check(&bytes, want_filter, allow_bad_imports);
                let summary = r.summary.as_deref().unwrap_or("not accepted by kwasmc");
                println!(
                    "{f}: {} bytes, {summary}\n  imports: [{}]",
                    bytes.len(),
                    r.imports.join(", "),
                );
                for n in &r.notes {
                    println!("  note: {n}");
                }
                for e in &r.errors {
                    println!("  ERROR: {e}");
                }
                ok &= r.errors.is_empty();
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        _ => {
            eprintln!(
                "usage: wasmcheck wat <in.wat> <out.wasm>\n       wasmcheck add-maps <file.wasm> <SPEC>...\n       wasmcheck check [--filter] [--allow-bad-imports] <file.wasm>..."
            );
            ExitCode::from(2)
        }
    }
}
