//! Runs WebAssembly spec tests (see [`spec_dir`]) through kwasmc and the test runtime in
//! `tests/runtime`. The curated list below covers the MVP and the
//! extensions kwasm supports; every assertion in those files must pass.
//!
//! `KWASM_SPEC=file1,file2` runs other files and only reports.

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod runtime;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use kwasm_abi::trap::TrapCode;
use kwasm_compiler::{CompileOptions, ErrorKind, OptLevel, compile};
use runtime::{Extern, Instance, Loaded, Spectest};
use wast::core::{NanPattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{Wast, WastArg, WastDirective, WastExecute, WastRet};

/// Files whose every assertion must pass.
const CURATED: &[&str] = &[
    "address",
    "align",
    "binary-leb128",
    "block",
    "br",
    "br_if",
    "br_table",
    "bulk",
    "call",
    "call_indirect",
    "comments",
    "const",
    "conversions",
    "custom",
    "data",
    "elem",
    "endianness",
    "exports",
    "f32",
    "f32_bitwise",
    "f32_cmp",
    "f64",
    "f64_bitwise",
    "f64_cmp",
    "fac",
    "float_exprs",
    "float_literals",
    "float_memory",
    "float_misc",
    "forward",
    "func",
    "func_ptrs",
    "global",
    "i32",
    "i64",
    "if",
    "inline-module",
    "int_exprs",
    "int_literals",
    "labels",
    "left-to-right",
    "linking",
    "load",
    "local_get",
    "local_set",
    "local_tee",
    "loop",
    "memory",
    "memory_copy",
    "memory_fill",
    "memory_grow",
    "memory_init",
    "memory_redundancy",
    "memory_size",
    "memory_trap",
    "names",
    "nop",
    "ref_func",
    "ref_is_null",
    "ref_null",
    "return",
    "select",
    "skip-stack-guard-page",
    "stack",
    "start",
    "store",
    "switch",
    "table",
    "table-sub",
    "table_copy",
    "table_fill",
    "table_get",
    "table_grow",
    "table_init",
    "table_set",
    "table_size",
    "token",
    "traps",
    "type",
    "unreachable",
    "unreached-invalid",
    "unreached-valid",
    "unwind",
    "utf8-custom-section-id",
    "utf8-import-field",
    "utf8-import-module",
    "utf8-invalid-encoding",
];

/// `KWASM_SPEC_OPT=none` runs the suite unoptimised.
fn options() -> CompileOptions {
    CompileOptions {
        opt: match std::env::var("KWASM_SPEC_OPT").as_deref() {
            Ok("none") => OptLevel::None,
            _ => OptLevel::Speed,
        },
        ..CompileOptions::default()
    }
}

/// `$KWASM_SPEC_DIR`, else `shared/spec-testsuite` beside the repository,
/// else `/work/shared/spec-testsuite`.
fn spec_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("KWASM_SPEC_DIR") {
        return PathBuf::from(d);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spec-testsuite");
    if beside.exists() {
        return beside;
    }
    PathBuf::from("/work/shared/spec-testsuite")
}

#[derive(Default)]
struct Stats {
    passed: usize,
    failed: usize,
    skipped: usize,
    failures: Vec<String>,
}

struct Runner {
    spectest: Spectest,
    instances: HashMap<String, Rc<Instance>>,
    registered: HashMap<String, Rc<Instance>>,
    definitions: HashMap<String, Rc<Loaded>>,
    current: Option<Rc<Instance>>,
    /// The last module could not be compiled for lack of a feature.
    current_unsupported: bool,
}

fn raw_arg(a: &WastArg<'_>) -> Option<u64> {
    let WastArg::Core(a) = a else { return None };
    Some(match a {
        WastArgCore::I32(v) => u64::from(*v as u32),
        WastArgCore::I64(v) => *v as u64,
        WastArgCore::F32(f) => u64::from(f.bits),
        WastArgCore::F64(f) => f.bits,
        WastArgCore::RefNull(_) => 0,
        WastArgCore::RefExtern(n) => u64::from(*n) + 1,
        _ => return None,
    })
}

fn check_ret(expected: &WastRet<'_>, got: u64) -> Result<(), String> {
    let WastRet::Core(e) = expected else {
        return Err("component value".into());
    };
    let ok = match e {
        WastRetCore::I32(v) => got as u32 == *v as u32,
        WastRetCore::I64(v) => got == *v as u64,
        WastRetCore::F32(p) => {
            let bits = got as u32;
            match p {
                NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
                NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
                NanPattern::Value(f) => bits == f.bits,
            }
        }
        WastRetCore::F64(p) => match p {
            NanPattern::CanonicalNan => got & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
            NanPattern::ArithmeticNan => got & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
            NanPattern::Value(f) => got == f.bits,
        },
        WastRetCore::RefNull(_) => got == 0,
        WastRetCore::RefExtern(Some(n)) => got == u64::from(*n) + 1,
        WastRetCore::RefExtern(None) | WastRetCore::RefFunc(_) => got != 0,
        _ => return Err("unsupported expected value".into()),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {e:?}, got {got:#x}"))
    }
}

fn trap_matches(code: TrapCode, message: &str) -> bool {
    let ours = code.message();
    message.contains(ours)
        || ours.contains(message)
        || (code == TrapCode::StackOverflow && message.contains("call stack exhausted"))
}

enum Outcome {
    Values(Vec<u64>),
    Trap(TrapCode),
}

impl Runner {
    fn new() -> Runner {
        Runner {
            spectest: Spectest::new(),
            instances: HashMap::new(),
            registered: HashMap::new(),
            definitions: HashMap::new(),
            current: None,
            current_unsupported: false,
        }
    }

    fn compile(&self, bytes: &[u8]) -> Result<Rc<Loaded>, kwasm_compiler::CompileError> {
        let kw = compile(bytes, &options())?;
        Ok(Rc::new(Loaded::new(&kw)))
    }

    fn instantiate(&mut self, loaded: Rc<Loaded>) -> Result<Rc<Instance>, runtime::InstError> {
        let keep: Vec<Rc<Instance>> = self.registered.values().cloned().collect();
        let spectest = &self.spectest;
        let registered = &self.registered;
        let mut resolve = |module: &str, name: &str| -> Option<Extern> {
            if module == "spectest" {
                spectest.resolve(name)
            } else {
                registered.get(module)?.export(name)
            }
        };
        Instance::instantiate(loaded, &mut resolve, keep)
    }

    fn instance(&self, id: Option<wast::token::Id<'_>>) -> Result<Rc<Instance>, String> {
        match id {
            Some(id) => self
                .instances
                .get(id.name())
                .cloned()
                .ok_or_else(|| format!("no instance {}", id.name())),
            None => self
                .current
                .clone()
                .ok_or_else(|| "no current instance".into()),
        }
    }

    fn execute(&mut self, exec: &mut WastExecute<'_>) -> Result<Outcome, String> {
        match exec {
            WastExecute::Invoke(inv) => {
                let inst = self.instance(inv.module)?;
                let Some(Extern::Func(f)) = inst.export(inv.name) else {
                    return Err(format!("no function export {}", inv.name));
                };
                let args = inv
                    .args
                    .iter()
                    .map(raw_arg)
                    .collect::<Option<Vec<u64>>>()
                    .ok_or("unsupported argument")?;
                Ok(match inst.call(&f, &args) {
                    Ok(v) => Outcome::Values(v),
                    Err(t) => Outcome::Trap(t),
                })
            }
            WastExecute::Get { module, global, .. } => {
                let inst = self.instance(*module)?;
                let Some(Extern::Global(g)) = inst.export(global) else {
                    return Err(format!("no global export {global}"));
                };
                Ok(Outcome::Values(vec![unsafe { *g.slot }]))
            }
            WastExecute::Wat(w) => {
                let bytes = w.encode().map_err(|e| e.to_string())?;
                let loaded = self.compile(&bytes).map_err(|e| e.to_string())?;
                match self.instantiate(loaded) {
                    Ok(_) => Ok(Outcome::Values(vec![])),
                    Err(runtime::InstError::Trap(t)) => Ok(Outcome::Trap(t)),
                    Err(runtime::InstError::Link(l)) => Err(l),
                }
            }
        }
    }

    fn directive(&mut self, d: WastDirective<'_>) -> Result<(), String> {
        match d {
            WastDirective::Module(mut m) => {
                let name = m.name().map(|n| n.name().to_string());
                let bytes = m.encode().map_err(|e| e.to_string())?;
                self.current = None;
                self.current_unsupported = false;
                let loaded = match self.compile(&bytes) {
                    Ok(l) => l,
                    Err(e) => {
                        self.current_unsupported = e.kind == ErrorKind::Unsupported;
                        return Err(format!("compile: {e}"));
                    }
                };
                let inst = self
                    .instantiate(loaded)
                    .map_err(|e| format!("instantiate: {e:?}"))?;
                if let Some(n) = name {
                    self.instances.insert(n, inst.clone());
                }
                self.current = Some(inst);
                Ok(())
            }
            WastDirective::ModuleDefinition(mut m) => {
                let name = m.name().map(|n| n.name().to_string());
                let bytes = m.encode().map_err(|e| e.to_string())?;
                let loaded = self.compile(&bytes).map_err(|e| format!("compile: {e}"))?;
                if let Some(n) = name {
                    self.definitions.insert(n, loaded);
                }
                Ok(())
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let def = module
                    .and_then(|m| self.definitions.get(m.name()).cloned())
                    .ok_or("unknown module definition")?;
                let inst = self
                    .instantiate(def)
                    .map_err(|e| format!("instantiate: {e:?}"))?;
                if let Some(i) = instance {
                    self.instances.insert(i.name().to_string(), inst.clone());
                }
                self.current = Some(inst);
                Ok(())
            }
            WastDirective::Register { name, module, .. } => {
                let inst = self.instance(module)?;
                self.registered.insert(name.to_string(), inst);
                Ok(())
            }
            WastDirective::Invoke(inv) => {
                let mut exec = WastExecute::Invoke(inv);
                self.execute(&mut exec).map(|_| ())
            }
            WastDirective::AssertReturn {
                mut exec, results, ..
            } => match self.execute(&mut exec)? {
                Outcome::Values(v) => {
                    if v.len() != results.len() {
                        return Err(format!(
                            "expected {} results, got {}",
                            results.len(),
                            v.len()
                        ));
                    }
                    for (e, g) in results.iter().zip(v) {
                        check_ret(e, g)?;
                    }
                    Ok(())
                }
                Outcome::Trap(t) => Err(format!("unexpected trap: {}", t.message())),
            },
            WastDirective::AssertTrap {
                mut exec, message, ..
            } => match self.execute(&mut exec)? {
                Outcome::Trap(t) if trap_matches(t, message) => Ok(()),
                Outcome::Trap(t) => {
                    Err(format!("expected trap {message:?}, got {:?}", t.message()))
                }
                Outcome::Values(_) => Err(format!("expected trap {message:?}, got values")),
            },
            WastDirective::AssertExhaustion { call, message, .. } => {
                let mut exec = WastExecute::Invoke(call);
                match self.execute(&mut exec)? {
                    Outcome::Trap(t) if trap_matches(t, message) => Ok(()),
                    Outcome::Trap(t) => Err(format!("expected {message:?}, got {:?}", t.message())),
                    Outcome::Values(_) => Err("expected exhaustion".into()),
                }
            }
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            } => {
                let bytes = match module.encode() {
                    Ok(b) => b,
                    Err(_) => return Ok(()),
                };
                match compile(&bytes, &CompileOptions::default()) {
                    Ok(_) => Err(format!("invalid module compiled (expected {message:?})")),
                    Err(e) if e.kind == ErrorKind::Invalid || e.kind == ErrorKind::Unsupported => {
                        Ok(())
                    }
                    Err(e) => Err(format!("expected invalid ({message}), got {e}")),
                }
            }
            WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => {
                let bytes = match module.encode() {
                    Ok(b) => b,
                    Err(_) => return Ok(()),
                };
                match compile(&bytes, &CompileOptions::default()) {
                    Ok(_) => Err(format!("malformed module compiled (expected {message:?})")),
                    Err(e) => {
                        if e.kind != ErrorKind::Malformed
                            && std::env::var_os("KWASM_SPEC_KINDS").is_some()
                        {
                            eprintln!(
                                "    assert_malformed ({message}) reported {:?}: {e}",
                                e.kind
                            );
                        }
                        Ok(())
                    }
                }
            }
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => {
                let bytes = module.encode().map_err(|e| e.to_string())?;
                let loaded = self.compile(&bytes).map_err(|e| format!("compile: {e}"))?;
                match self.instantiate(loaded) {
                    Err(runtime::InstError::Link(_)) => Ok(()),
                    Err(e) => Err(format!("expected link error {message:?}, got {e:?}")),
                    Ok(_) => Err(format!("expected link error {message:?}")),
                }
            }
            other => Err(format!("unsupported directive {other:?}")),
        }
    }
}

fn run_file(path: &Path) -> Stats {
    let mut stats = Stats::default();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            stats.failed += 1;
            stats.failures.push(format!("{}: {e}", path.display()));
            return stats;
        }
    };
    let mut lexer = wast::lexer::Lexer::new(&text);
    lexer.allow_confusing_unicode(true);
    let buf = match ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(e) => {
            stats.failed += 1;
            stats.failures.push(format!("{}: {e}", path.display()));
            return stats;
        }
    };
    let wast: Wast<'_> = match parser::parse(&buf) {
        Ok(w) => w,
        Err(e) => {
            stats.failed += 1;
            stats.failures.push(format!("{}: {e}", path.display()));
            return stats;
        }
    };
    let mut runner = Runner::new();
    for d in wast.directives {
        let (line, _) = d.span().linecol_in(&text);
        let needs_module = matches!(
            d,
            WastDirective::AssertReturn { .. }
                | WastDirective::AssertTrap { .. }
                | WastDirective::Invoke(_)
                | WastDirective::AssertExhaustion { .. }
        );
        if std::env::var_os("KWASM_SPEC_TRACE").is_some() {
            eprintln!("  line {}", line + 1);
        }
        if needs_module && runner.current_unsupported {
            stats.skipped += 1;
            continue;
        }
        match runner.directive(d) {
            Ok(()) => stats.passed += 1,
            Err(e) if runner.current_unsupported => {
                stats.skipped += 1;
                if std::env::var_os("KWASM_SPEC_VERBOSE").is_some() {
                    eprintln!("    skipped line {}: {e}", line + 1);
                }
            }
            Err(e) => {
                stats.failed += 1;
                stats.failures.push(format!(
                    "{}:{}: {e}",
                    path.file_name().unwrap().to_string_lossy(),
                    line + 1
                ));
            }
        }
    }
    stats
}

/// Run files on a thread with a big stack (the recursion tests need one).
fn run_files(names: Vec<String>) -> Vec<(String, Stats)> {
    let dir = spec_dir();
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            names
                .into_iter()
                .map(|n| {
                    if std::env::var_os("KWASM_SPEC_VERBOSE").is_some() {
                        eprintln!("running {n}");
                    }
                    let s = run_file(&dir.join(format!("{n}.wast")));
                    (n, s)
                })
                .collect()
        })
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn spec_testsuite() {
    if !spec_dir().exists() {
        eprintln!(
            "spec testsuite not found at {}; skipping",
            spec_dir().display()
        );
        return;
    }
    let (names, strict): (Vec<String>, bool) = match std::env::var("KWASM_SPEC") {
        Ok(list) => (list.split(',').map(str::to_string).collect(), false),
        Err(_) => (CURATED.iter().map(|s| s.to_string()).collect(), true),
    };
    let results = run_files(names);
    let mut total = Stats::default();
    for (name, s) in &results {
        eprintln!(
            "{name:30} {:5} passed {:4} failed {:4} skipped",
            s.passed, s.failed, s.skipped
        );
        for f in s.failures.iter().take(20) {
            eprintln!("    {f}");
        }
        total.passed += s.passed;
        total.failed += s.failed;
        total.skipped += s.skipped;
    }
    eprintln!(
        "spec: {} passed, {} failed, {} skipped",
        total.passed, total.failed, total.skipped
    );
    if strict {
        assert_eq!(total.failed, 0, "spec assertions failed");
    }
}
