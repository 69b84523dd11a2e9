//! `wasmcheck`: the guest build's sanity checks, run on the build machine.
//!
//! ```text
//! wasmcheck wat <in.wat> <out.wasm>
//!     Assemble a WAT file.
//! wasmcheck check [--filter] [--allow-bad-imports] <file.wasm>...
//!     Validate each module with exactly the WebAssembly features kwasmc
//!     supports (MVP + mutable-globals + sign-ext + sat-float-to-int +
//!     multi-value + bulk-memory + reference-types), check that it imports only
//!     host functions of `kwasm_abi::host::HOST_FUNCS` with their exact
//!     signatures, that `kwasm.maps` is well formed and, with `--filter`, that
//!     it exports `filter: (i32) -> i32`. Prints one summary line per module.
//!     `--allow-bad-imports` turns import errors into notes (for programs that
//!     exist to be rejected by kwasmc).
//! ```
//!
//! Exit status: 0 when every module passes, 1 otherwise, 2 on usage errors.

use std::process::ExitCode;

use kwasm_abi::host;
use kwasm_abi::types::ValType as AbiValType;
use wasmparser::{ExternalKind, Parser, Payload, TypeRef, ValType, Validator, WasmFeatures};

/// The features kwasmc accepts.
fn features() -> WasmFeatures {
    WasmFeatures::MVP
        | WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
}

fn abi_val(v: ValType) -> Option<AbiValType> {
    Some(match v {
        ValType::I32 => AbiValType::I32,
        ValType::I64 => AbiValType::I64,
        ValType::F32 => AbiValType::F32,
        ValType::F64 => AbiValType::F64,
        ValType::Ref(r) if r.is_func_ref() => AbiValType::FuncRef,
        ValType::Ref(r) if r.is_extern_ref() => AbiValType::ExternRef,
        _ => return None,
    })
}

fn fmt_sig(params: &[ValType], results: &[ValType]) -> String {
    let list = |v: &[ValType]| {
        v.iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!("({}) -> ({})", list(params), list(results))
}

struct Report {
    errors: Vec<String>,
    notes: Vec<String>,
    imports: Vec<String>,
    exports: Vec<String>,
    maps: Option<Vec<u32>>,
    mem_pages: Option<u64>,
    funcs: u32,
}

fn check(bytes: &[u8], want_filter: bool, allow_bad_imports: bool) -> Report {
    let mut r = Report {
        errors: vec![],
        notes: vec![],
        imports: vec![],
        exports: vec![],
        maps: None,
        mem_pages: None,
        funcs: 0,
    };
    let types = match Validator::new_with_features(features()).validate_all(bytes) {
        Ok(t) => t,
        Err(e) => {
            r.errors
                .push(format!("invalid for kwasmc's feature set: {e}"));
            return r;
        }
    };
    let func_sig = |idx: u32| {
        let ty = types[types.as_ref().core_function_at(idx)]
            .unwrap_func()
            .clone();
        (ty.params().to_vec(), ty.results().to_vec())
    };
    let mut func_imports = 0u32;
    let mut maps_sections = 0;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = match payload {
            Ok(p) => p,
            Err(e) => {
                r.errors.push(format!("parse: {e}"));
                return r;
            }
        };
        match payload {
            Payload::ImportSection(s) => {
                for imp in s.into_imports() {
                    let imp = imp.expect("validated");
                    r.imports.push(format!("{}.{}", imp.module, imp.name));
                    let mut bad = |msg: String| {
                        if allow_bad_imports {
                            r.notes.push(msg);
                        } else {
                            r.errors.push(msg);
                        }
                    };
                    let TypeRef::Func(_) = imp.ty else {
                        bad(format!(
                            "import {}.{} is not a function ({:?}); only host functions can be imported",
                            imp.module, imp.name, imp.ty
                        ));
                        continue;
                    };
                    let (params, results) = func_sig(func_imports);
                    func_imports += 1;
                    let Some(hf) = host::lookup(imp.module, imp.name) else {
                        bad(format!(
                            "import {}.{} is not a kwasm host function",
                            imp.module, imp.name
                        ));
                        continue;
                    };
                    let same = |want: &[AbiValType], got: &[ValType]| {
                        want.len() == got.len()
                            && want.iter().zip(got).all(|(w, g)| abi_val(*g) == Some(*w))
                    };
                    if !same(hf.params, &params) || !same(hf.results, &results) {
                        bad(format!(
                            "import {}.{} has type {}, the host function has {:?} -> {:?}",
                            imp.module,
                            imp.name,
                            fmt_sig(&params, &results),
                            hf.params,
                            hf.results
                        ));
                    }
                }
            }
            Payload::FunctionSection(s) => r.funcs = s.count(),
            Payload::MemorySection(s) => {
                for m in s {
                    r.mem_pages = Some(m.expect("validated").initial);
                }
            }
            Payload::ExportSection(s) => {
                for e in s {
                    let e = e.expect("validated");
                    r.exports.push(e.name.to_string());
                    if e.name == host::FILTER_EXPORT {
                        if e.kind != ExternalKind::Func {
                            r.errors.push("export `filter` is not a function".into());
                            continue;
                        }
                        let (p, res) = func_sig(e.index);
                        if p != [ValType::I32] || res != [ValType::I32] {
                            r.errors.push(format!(
                                "export `filter` has type {}, expected (i32) -> (i32)",
                                fmt_sig(&p, &res)
                            ));
                        }
                    }
                }
            }
            Payload::CustomSection(c) if c.name() == host::MAPS_SECTION => {
                maps_sections += 1;
                let d = c.data();
                if d.len() % 4 != 0 {
                    r.errors.push(format!(
                        "{}: length {} is not a multiple of 4",
                        host::MAPS_SECTION,
                        d.len()
                    ));
                    continue;
                }
                let counts: Vec<u32> = d
                    .chunks(4)
                    .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                if counts.len() as u32 > host::MAX_MAPS {
                    r.errors.push(format!(
                        "{}: {} maps, at most {}",
                        host::MAPS_SECTION,
                        counts.len(),
                        host::MAX_MAPS
                    ));
                }
                for (i, &n) in counts.iter().enumerate() {
                    if n > host::MAX_MAP_ENTRIES {
                        r.errors.push(format!(
                            "{}: map {i} has {n} entries, at most {}",
                            host::MAPS_SECTION,
                            host::MAX_MAP_ENTRIES
                        ));
                    }
                }
                r.maps = Some(counts);
            }
            _ => {}
        }
    }
    if maps_sections > 1 {
        r.errors.push(format!(
            "{} sections: {maps_sections}, expected at most one",
            host::MAPS_SECTION
        ));
    }
    if want_filter && !r.exports.iter().any(|e| e == host::FILTER_EXPORT) {
        r.errors.push("no `filter` export".into());
    }
    r
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
                let maps = match &r.maps {
                    Some(m) => format!("{m:?}"),
                    None => "none".into(),
                };
                let mem = r
                    .mem_pages
                    .map_or("none".into(), |p| format!("{p} page(s)"));
                println!(
                    "{f}: {} bytes, {} funcs, memory {mem}, maps {maps}\n  imports: [{}]\n  exports: [{}]",
                    bytes.len(),
                    r.funcs,
                    r.imports.join(", "),
                    r.exports.join(", ")
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
                "usage: wasmcheck wat <in.wat> <out.wasm>\n       wasmcheck check [--filter] [--allow-bad-imports] <file.wasm>..."
            );
            ExitCode::from(2)
        }
    }
}
