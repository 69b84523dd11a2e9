//! The WebAssembly spec test suite, run through `kwasm_compiler::compile`
//! and the userspace runtime.
//!
//! Every `.wast` in the spec test suite runs in a fresh `Store` (with the
//! `spectest` host module), except files on [`SKIP`], which need proposals
//! kwasm does not implement, once per configuration: modules are compiled
//! with `--opt speed`, again with `--opt none`, and again with `--opt speed
//! --cpu native` when this CPU has any of the optional extensions
//! (`kwasm_abi::cpu`), whose lowerings (`popcnt`, `lzcnt`, `tzcnt`, `rorx`,
//! `roundss`, VEX forms) the baseline never reaches. Output: one line per
//! file and configuration, a total per configuration, and a final
//! `N passed, N failed, N skipped` line over all of them, counting commands
//! (every module, register, invoke and assertion is one). The test fails on
//! any failed command in a supported file.
//!
//! Environment: `KWASM_SPEC_FILTER=i32` runs only files whose name contains
//! the filter (comma-separated alternatives allowed); `KWASM_SPEC_OPT=speed`
//! or `none` runs one level only (default `both`); `KWASM_SPEC_CPU=baseline`
//! leaves out the `--cpu native` run; `KWASM_SPEC_VERBOSE=1`
//! prints every failure (default: the first 10 per file);
//! `KWASM_SPEC_JOBS=N` sets the number of worker threads;
//! `KWASM_SPEC_DIR` points at the suite (default: `shared/spec-testsuite`
//! beside the repository, else `/work/shared/spec-testsuite`).
//!
//! Trap messages are compared the way Wasmtime's wast runner does: the
//! expected text must start with our `TrapCode::message()` (the suite adds
//! details, e.g. "uninitialized element 2") or contain it, with one alias:
//! the suite's "call stack exhausted" is our `StackOverflow` ("stack
//! overflow"). Link errors are matched the same way against our
//! `LinkError` text ("unknown import", "incompatible import type").
//! `assert_invalid`/`assert_malformed` pass when the module is rejected for
//! any reason other than an internal compiler error; a text module the
//! `wast` parser already rejects counts as rejected.
//!
//! Some core files of this Wasm 3.0-era suite mix in modules from proposals
//! we do not support. For the files on [`MIXED`] only, a module whose
//! compilation fails with "unsupported feature" is skipped together with the
//! commands that use it (they are counted as skipped, and the file's line
//! says how many and why). Anywhere else that is a failure.

use kwasm_compiler::{CompileOptions, ErrorKind, OptLevel};
use kwasm_runtime::{Artifact, InstanceId, InstantiateError, InvokeError, Store, StoreConfig, Val};
use kwasm_tools::spec::{
    Counts, arg_val, check_results, fmt_vals, module_slot, trap_matches, wast_buffer,
};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use wast::parser::{self, ParseBuffer};
use wast::token::Span;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke};

/// Files that need an unsupported proposal: (pattern, reason). A pattern
/// ending in `*` matches a prefix, one starting with `*` a suffix; anything
/// else is an exact file stem.
const SKIP: &[(&str, &str)] = &[
    ("simd_*", "SIMD"),
    ("relaxed_*", "relaxed SIMD"),
    ("i16x8_relaxed_q15mulr_s", "relaxed SIMD"),
    ("i32x4_relaxed_trunc", "relaxed SIMD"),
    ("i8x16_relaxed_swizzle", "relaxed SIMD"),
    // The 64-bit copies of core files (not `f64`/`i64`: those are core).
    ("address64", "memory64 / table64"),
    ("align64", "memory64 / table64"),
    ("binary_leb128_64", "memory64 / table64"),
    ("bulk64", "memory64 / table64"),
    ("call_indirect64", "memory64 / table64"),
    ("endianness64", "memory64 / table64"),
    ("float_memory64", "memory64 / table64"),
    ("load64", "memory64 / table64"),
    ("memory64", "memory64 / table64"),
    ("memory_copy64", "memory64 / table64"),
    ("memory_fill64", "memory64 / table64"),
    ("memory_grow64", "memory64 / table64"),
    ("memory_init64", "memory64 / table64"),
    ("memory_redundancy64", "memory64 / table64"),
    ("memory_trap64", "memory64 / table64"),
    ("table64", "memory64 / table64"),
    ("table_copy64", "memory64 / table64"),
    ("table_fill64", "memory64 / table64"),
    ("table_get64", "memory64 / table64"),
    ("table_grow64", "memory64 / table64"),
    ("table_init64", "memory64 / table64"),
    ("table_set64", "memory64 / table64"),
    ("table_size64", "memory64 / table64"),
    ("memory64-imports", "memory64"),
    ("memory-multi", "multi-memory"),
    ("array*", "GC"),
    ("struct", "GC"),
    ("i31", "GC"),
    ("ref_cast", "GC"),
    ("ref_test", "GC"),
    ("ref_eq", "GC"),
    ("br_on_cast", "GC"),
    ("br_on_cast_fail", "GC"),
    ("binary-gc", "GC"),
    ("type-subtyping", "GC"),
    ("type-canon", "GC (recursive types)"),
    ("type-equivalence", "GC (recursive types)"),
    ("type-rec", "GC (recursive types)"),
    ("extern", "GC (any.convert_extern)"),
    ("throw", "exception handling"),
    ("throw_ref", "exception handling"),
    ("try_table", "exception handling"),
    ("tag", "exception handling"),
    ("instance", "exception handling (tags)"),
    ("return_call", "tail calls"),
    ("return_call_indirect", "tail calls"),
    ("return_call_ref", "tail calls + typed function references"),
    ("call_ref", "typed function references"),
    ("br_on_null", "typed function references"),
    ("br_on_non_null", "typed function references"),
    ("ref_as_non_null", "typed function references"),
    (
        "local_init",
        "typed function references (non-nullable locals)",
    ),
    // Numbered copies of core files come from the multi-memory proposal.
    ("address0", "multi-memory"),
    ("address1", "multi-memory"),
    ("align0", "multi-memory"),
    ("binary0", "multi-memory"),
    ("data0", "multi-memory"),
    ("data1", "multi-memory"),
    ("data_drop0", "multi-memory"),
    ("exports0", "multi-memory"),
    ("float_exprs0", "multi-memory"),
    ("float_exprs1", "multi-memory"),
    ("float_memory0", "multi-memory"),
    ("imports0", "multi-memory"),
    ("imports1", "multi-memory"),
    ("imports2", "multi-memory"),
    ("imports3", "multi-memory"),
    ("imports4", "multi-memory"),
    ("linking0", "multi-memory"),
    ("linking1", "multi-memory"),
    ("linking2", "multi-memory"),
    ("linking3", "multi-memory"),
    ("load0", "multi-memory"),
    ("load1", "multi-memory"),
    ("load2", "multi-memory"),
    ("memory_copy0", "multi-memory"),
    ("memory_copy1", "multi-memory"),
    ("memory_fill0", "multi-memory"),
    ("memory_init0", "multi-memory"),
    ("memory_size0", "multi-memory"),
    ("memory_size1", "multi-memory"),
    ("memory_size2", "multi-memory"),
    ("memory_size3", "multi-memory"),
    ("memory_size_import", "multi-memory"),
    ("memory_trap0", "multi-memory"),
    ("memory_trap1", "multi-memory"),
    ("start0", "multi-memory"),
    ("store0", "multi-memory"),
    ("store1", "multi-memory"),
    ("store2", "multi-memory"),
    ("traps0", "multi-memory"),
];

/// Core files that also contain modules from unsupported proposals; in
/// these, modules rejected as "unsupported feature" are skipped with their
/// dependent commands (see the module docs).
const MIXED: &[(&str, &str)] = &[
    ("br_table", "typed function references"),
    (
        "data",
        "extended constant expressions, GC constant expressions",
    ),
    (
        "elem",
        "typed function references, extended constant expressions, GC constant expressions",
    ),
    (
        "global",
        "extended constant expressions, GC constant expressions, typed function references",
    ),
    (
        "imports",
        "typed function references, multi-memory, exception handling",
    ),
    ("linking", "typed function references, multi-memory"),
    ("memory_grow", "multi-memory"),
    ("ref", "typed function references"),
    ("ref_is_null", "typed function references"),
    ("ref_null", "GC"),
    (
        "table",
        "typed function references, memory64 (64-bit tables)",
    ),
    ("table_copy_mixed", "memory64 (64-bit tables)"),
    ("table_init", "GC"),
    ("table-sub", "typed function references (typed tables)"),
    ("unreached-valid", "typed function references"),
];

fn skip_reason(stem: &str) -> Option<&'static str> {
    SKIP.iter().find_map(|(pat, why)| {
        let hit = if let Some(p) = pat.strip_suffix('*') {
            stem.starts_with(p)
        } else if let Some(s) = pat.strip_prefix('*') {
            stem.ends_with(s)
        } else {
            stem == *pat
        };
        hit.then_some(*why)
    })
}

fn mixed_reason(stem: &str) -> Option<&'static str> {
    MIXED.iter().find(|(n, _)| *n == stem).map(|(_, w)| *w)
}

/// Where a module name points.
#[derive(Clone)]
enum Slot {
    Ready(InstanceId),
    /// The module was skipped (unsupported feature): commands using it skip.
    Skipped,
}

enum Outcome {
    Pass,
    Fail(String),
    /// Depends on a skipped module.
    Skip,
}

use Outcome::{Fail, Pass, Skip};

enum CompileResult {
    Ok(Rc<Artifact>),
    /// Rejected by the wast parser/encoder or by kwasmc (message).
    Rejected(String),
    Unsupported(String),
    /// kwasmc panicked or produced an artifact the runtime refuses.
    Broken(String),
}

struct Runner<'a> {
    file: &'a str,
    mixed: bool,
    opts: CompileOptions,
    store: Store,
    current: Option<Slot>,
    named: HashMap<String, Slot>,
    definitions: HashMap<String, Result<Rc<Artifact>, ()>>,
    /// Registered module names whose module was skipped.
    skipped_regs: Vec<String>,
    counter: usize,
}

/// Fuel per command. The `assert_exhaustion` recursions must reach the
/// stack limit before fuel runs out, and `fib`, `memory.fill` of a whole
/// memory and the like do real work. The suite tests semantics, not the
/// budget: the kernel's ceiling (`fuel::MAX`, 2e7) is not enough since
/// kwasmc proves stores to constant addresses in bounds.
/// `skip-stack-guard-page.wast`'s recursing function charges about 6,000
/// units per call for its 1,056 stores but now needs a 32-byte frame, so
/// 32,768 calls fill the 1 MiB stack: 2e8 units. 2^30 still ends a
/// miscompiled endless loop within a few seconds.
const SPEC_FUEL: u64 = 1 << 30;

fn new_store() -> Store {
    let mut store = Store::new(StoreConfig {
        fuel: SPEC_FUEL,
        ..StoreConfig::default()
    });
    kwasm_runtime::host::define_spectest(&mut store).expect("spectest");
    store.set_spectest_print(false);
    store
}

fn compile(wasm: &[u8], name: &str, opts: &CompileOptions) -> CompileResult {
    let r = std::panic::catch_unwind(|| kwasm_compiler::compile(wasm, opts));
    let kw = match r {
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return CompileResult::Broken(format!("kwasmc panicked: {msg}"));
        }
        Ok(Err(e)) => {
            let msg = e.to_string();
            if msg.contains("unsupported feature") {
                return CompileResult::Unsupported(msg);
            }
            if msg.contains("internal compiler error") {
                return CompileResult::Broken(msg);
            }
            return CompileResult::Rejected(msg);
        }
        Ok(Ok(kw)) => kw,
    };
    match Artifact::from_bytes(name, &kw) {
        Ok(a) => CompileResult::Ok(Rc::new(a)),
        Err(e) => CompileResult::Broken(format!("runtime rejects kwasmc's output: {e}")),
    }
}

fn encode_quote(q: &mut QuoteWat<'_>) -> Result<Vec<u8>, String> {
    q.encode().map_err(|e| e.to_string())
}

impl<'a> Runner<'a> {
    fn new(file: &'a str, mixed: bool, config: Config) -> Runner<'a> {
        Runner {
            file,
            mixed,
            opts: CompileOptions {
                opt: config.opt,
                cpu: config.cpu,
                ..CompileOptions::default()
            },
            store: new_store(),
            current: None,
            named: HashMap::new(),
            definitions: HashMap::new(),
            skipped_regs: Vec::new(),
            counter: 0,
        }
    }

    fn slot(&self, id: Option<wast::token::Id<'_>>) -> Result<Slot, String> {
        module_slot(&self.named, self.current.as_ref(), id)
    }

    fn artifact_name(&mut self) -> String {
        self.counter += 1;
        format!("{}#{}", self.file, self.counter)
    }

    /// Compile and instantiate; `Ok(None)` when skipped as unsupported.
    fn instantiate(&mut self, wasm: &[u8]) -> Result<Option<InstanceId>, String> {
        let name = self.artifact_name();
        match compile(wasm, &name, &self.opts) {
            CompileResult::Ok(a) => self.instantiate_artifact(&a),
            CompileResult::Unsupported(m) if self.mixed => {
                let _ = m;
                Ok(None)
            }
            CompileResult::Unsupported(m)
            | CompileResult::Rejected(m)
            | CompileResult::Broken(m) => Err(format!("module failed to compile: {m}")),
        }
    }

    fn instantiate_artifact(&mut self, a: &Rc<Artifact>) -> Result<Option<InstanceId>, String> {
        match self.store.instantiate(a) {
            Ok(id) => Ok(Some(id)),
            Err(InstantiateError::Link(e)) if self.depends_on_skipped(&e.to_string()) => Ok(None),
            Err(e) => Err(format!("instantiation failed: {e}")),
        }
    }

    /// Whether a link error is about an import from a skipped module.
    fn depends_on_skipped(&self, msg: &str) -> bool {
        self.mixed
            && msg.starts_with("unknown import")
            && self
                .skipped_regs
                .iter()
                .any(|r| msg.contains(&format!("`{r}`.")))
    }

    fn define(&mut self, name: Option<&str>, slot: Slot) {
        if let Some(n) = name {
            self.named.insert(n.to_string(), slot.clone());
        }
        self.current = Some(slot);
    }

    fn invoke(&mut self, inv: &WastInvoke<'_>) -> Result<Result<Vec<Val>, InvokeError>, Outcome> {
        let id = match self.slot(inv.module) {
            Ok(Slot::Ready(id)) => id,
            Ok(Slot::Skipped) => return Err(Skip),
            Err(e) => return Err(Fail(e)),
        };
        let mut args = Vec::new();
        for a in &inv.args {
            match arg_val(a) {
                Some(v) => args.push(v),
                None => return Err(Fail(format!("unsupported argument {a:?}"))),
            }
        }
        Ok(self.store.invoke(id, inv.name, &args))
    }

    fn execute(
        &mut self,
        exec: &mut WastExecute<'_>,
    ) -> Result<Result<Vec<Val>, ExecError>, Outcome> {
        match exec {
            WastExecute::Invoke(inv) => Ok(self.invoke(inv)?.map_err(ExecError::Invoke)),
            WastExecute::Get { module, global, .. } => {
                let id = match self.slot(*module) {
                    Ok(Slot::Ready(id)) => id,
                    Ok(Slot::Skipped) => return Err(Skip),
                    Err(e) => return Err(Fail(e)),
                };
                Ok(self
                    .store
                    .get_global(id, global)
                    .map(|v| vec![v])
                    .map_err(ExecError::Invoke))
            }
            WastExecute::Wat(wat) => {
                let wasm = wat
                    .encode()
                    .map_err(|e| Fail(format!("cannot encode module: {e}")))?;
                let name = self.artifact_name();
                let a = match compile(&wasm, &name, &self.opts) {
                    CompileResult::Ok(a) => a,
                    CompileResult::Unsupported(_) if self.mixed => return Err(Skip),
                    CompileResult::Unsupported(m)
                    | CompileResult::Rejected(m)
                    | CompileResult::Broken(m) => {
                        return Err(Fail(format!("module failed to compile: {m}")));
                    }
                };
                match self.store.instantiate(&a) {
                    Ok(_) => Ok(Ok(vec![])),
                    Err(InstantiateError::Link(e)) if self.depends_on_skipped(&e.to_string()) => {
                        Err(Skip)
                    }
                    Err(e) => Ok(Err(ExecError::Instantiate(e))),
                }
            }
        }
    }

    /// `assert_invalid` (`invalid`) or `assert_malformed`: kwasmc must reject
    /// the module without an internal error; an invalid one as invalid (or
    /// unsupported, which is checked first), not as malformed.
    fn assert_rejected(&self, module: &mut QuoteWat<'_>, message: &str, invalid: bool) -> Outcome {
        let wasm = match encode_quote(module) {
            Ok(w) => w,
            Err(_) => return Pass,
        };
        let opts = self.opts;
        match std::panic::catch_unwind(|| kwasm_compiler::compile(&wasm, &opts)) {
            Err(_) => Fail(format!("kwasmc panicked (expected \"{message}\")")),
            Ok(Ok(_)) => Fail(format!("module compiled, expected \"{message}\"")),
            Ok(Err(e)) if e.kind == ErrorKind::Codegen => {
                Fail(format!("expected \"{message}\", got {e}"))
            }
            Ok(Err(e))
                if invalid && !matches!(e.kind, ErrorKind::Invalid | ErrorKind::Unsupported) =>
            {
                Fail(format!("expected invalid (\"{message}\"), got {e}"))
            }
            Ok(Err(_)) => Pass,
        }
    }

    fn run(&mut self, d: WastDirective<'_>) -> Outcome {
        match d {
            WastDirective::Module(mut q) => {
                let name = q.name().map(|i| i.name().to_string());
                let wasm = match encode_quote(&mut q) {
                    Ok(w) => w,
                    Err(e) => return Fail(format!("cannot encode module: {e}")),
                };
                match self.instantiate(&wasm) {
                    Ok(Some(id)) => {
                        self.define(name.as_deref(), Slot::Ready(id));
                        Pass
                    }
                    Ok(None) => {
                        self.define(name.as_deref(), Slot::Skipped);
                        Skip
                    }
                    Err(e) => {
                        // Later commands on this module fail on their own.
                        self.current = None;
                        Fail(e)
                    }
                }
            }
            WastDirective::ModuleDefinition(mut q) => {
                let name = q.name().map(|i| i.name().to_string()).unwrap_or_default();
                let wasm = match encode_quote(&mut q) {
                    Ok(w) => w,
                    Err(e) => return Fail(format!("cannot encode module: {e}")),
                };
                let aname = self.artifact_name();
                match compile(&wasm, &aname, &self.opts) {
                    CompileResult::Ok(a) => {
                        self.definitions.insert(name, Ok(a));
                        Pass
                    }
                    CompileResult::Unsupported(_) if self.mixed => {
                        self.definitions.insert(name, Err(()));
                        Skip
                    }
                    CompileResult::Unsupported(m)
                    | CompileResult::Rejected(m)
                    | CompileResult::Broken(m) => Fail(format!("module failed to compile: {m}")),
                }
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let def = module.map(|m| m.name().to_string()).unwrap_or_default();
                let a = match self.definitions.get(&def) {
                    Some(Ok(a)) => a.clone(),
                    Some(Err(())) => {
                        self.define(instance.map(|i| i.name()), Slot::Skipped);
                        return Skip;
                    }
                    None => return Fail(format!("no module definition ${def}")),
                };
                match self.instantiate_artifact(&a) {
                    Ok(Some(id)) => {
                        self.define(instance.map(|i| i.name()), Slot::Ready(id));
                        Pass
                    }
                    Ok(None) => {
                        self.define(instance.map(|i| i.name()), Slot::Skipped);
                        Skip
                    }
                    Err(e) => Fail(e),
                }
            }
            WastDirective::Register { name, module, .. } => match self.slot(module) {
                Ok(Slot::Ready(id)) => {
                    self.store.register(name, id);
                    Pass
                }
                Ok(Slot::Skipped) => {
                    self.skipped_regs.push(name.to_string());
                    Skip
                }
                Err(e) => Fail(e),
            },
            WastDirective::Invoke(inv) => match self.invoke(&inv) {
                Err(o) => o,
                Ok(Ok(_)) => Pass,
                Ok(Err(e)) => Fail(format!("invoke `{}` failed: {e}", inv.name)),
            },
            WastDirective::AssertReturn {
                mut exec, results, ..
            } => {
                let got = match self.execute(&mut exec) {
                    Err(o) => return o,
                    Ok(Err(e)) => return Fail(format!("expected results, got {e}")),
                    Ok(Ok(v)) => v,
                };
                match check_results(&results, &got) {
                    None => Fail("component results are not supported".into()),
                    Some(Ok(())) => Pass,
                    Some(Err(e)) => Fail(e),
                }
            }
            WastDirective::AssertTrap {
                mut exec, message, ..
            } => match self.execute(&mut exec) {
                Err(o) => o,
                Ok(Ok(v)) => Fail(format!("expected trap \"{message}\", got {}", fmt_vals(&v))),
                Ok(Err(ExecError::Invoke(InvokeError::Trap(t))))
                | Ok(Err(ExecError::Instantiate(InstantiateError::Trap(t)))) => {
                    if t.signal.is_none() && trap_matches(t.code, message) {
                        Pass
                    } else {
                        Fail(format!("expected trap \"{message}\", got \"{t}\""))
                    }
                }
                Ok(Err(e)) => Fail(format!("expected trap \"{message}\", got error: {e}")),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Err(o) => o,
                Ok(Err(InvokeError::Trap(t)))
                    if t.signal.is_none() && trap_matches(t.code, message) =>
                {
                    Pass
                }
                Ok(Err(e)) => Fail(format!("expected exhaustion \"{message}\", got {e}")),
                Ok(Ok(v)) => Fail(format!(
                    "expected exhaustion \"{message}\", got {}",
                    fmt_vals(&v)
                )),
            },
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            } => self.assert_rejected(&mut module, message, true),
            WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => self.assert_rejected(&mut module, message, false),
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => {
                let wasm = match module.encode() {
                    Ok(w) => w,
                    Err(e) => return Fail(format!("cannot encode module: {e}")),
                };
                let name = self.artifact_name();
                let a = match compile(&wasm, &name, &self.opts) {
                    CompileResult::Ok(a) => a,
                    CompileResult::Unsupported(_) if self.mixed => return Skip,
                    CompileResult::Unsupported(m)
                    | CompileResult::Rejected(m)
                    | CompileResult::Broken(m) => {
                        return Fail(format!("module failed to compile: {m}"));
                    }
                };
                match self.store.instantiate(&a) {
                    Ok(_) => Fail(format!("module linked, expected \"{message}\"")),
                    Err(InstantiateError::Link(e)) => {
                        let ours = e.to_string();
                        if ours.starts_with(message) {
                            Pass
                        } else if self.depends_on_skipped(&ours) {
                            Skip
                        } else {
                            Fail(format!("expected \"{message}\", got \"{ours}\""))
                        }
                    }
                    Err(e) => Fail(format!("expected link error \"{message}\", got {e}")),
                }
            }
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => {
                Fail("custom-section assertions are not supported by this harness".into())
            }
            WastDirective::AssertException { .. } => Fail("exceptions are not supported".into()),
            WastDirective::AssertSuspension { .. } => {
                Fail("stack switching is not supported".into())
            }
            WastDirective::Thread(_) | WastDirective::Wait { .. } => {
                Fail("threads are not supported".into())
            }
        }
    }
}

#[derive(Debug)]
enum ExecError {
    Invoke(InvokeError),
    Instantiate(InstantiateError),
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecError::Invoke(e) => write!(f, "{e}"),
            ExecError::Instantiate(e) => write!(f, "{e}"),
        }
    }
}

fn directive_name(d: &WastDirective<'_>) -> &'static str {
    match d {
        WastDirective::Module(_) => "module",
        WastDirective::ModuleDefinition(_) => "module definition",
        WastDirective::ModuleInstance { .. } => "module instance",
        WastDirective::AssertMalformed { .. } => "assert_malformed",
        WastDirective::AssertInvalid { .. } => "assert_invalid",
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom",
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom",
        WastDirective::Register { .. } => "register",
        WastDirective::Invoke(_) => "invoke",
        WastDirective::AssertTrap { .. } => "assert_trap",
        WastDirective::AssertReturn { .. } => "assert_return",
        WastDirective::AssertExhaustion { .. } => "assert_exhaustion",
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable",
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertSuspension { .. } => "assert_suspension",
        WastDirective::Thread(_) => "thread",
        WastDirective::Wait { .. } => "wait",
    }
}

struct FileResult {
    counts: Counts,
    line: String,
    failures: Vec<String>,
}

/// How the modules of one run are compiled.
#[derive(Clone, Copy, Debug)]
struct Config {
    opt: OptLevel,
    /// `kwasm_abi::cpu` extensions.
    cpu: u32,
}

impl Config {
    /// `speed`, `none`, or `speed, cpu popcnt,lzcnt,...`.
    fn name(self) -> String {
        let level = match self.opt {
            OptLevel::Speed => "speed",
            OptLevel::None => "none",
        };
        match self.cpu {
            0 => level.to_string(),
            m => format!("{level}, cpu {}", kwasm_abi::cpu::Names(m)),
        }
    }
}

fn run_file(path: &Path, config: Config, verbose: bool) -> FileResult {
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let level = config.name();
    let level = level.as_str();
    let stem = path.file_stem().unwrap().to_string_lossy().to_string();
    let mut counts = Counts::default();
    let mut failures = Vec::new();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            counts.failed += 1;
            return FileResult {
                counts,
                line: format!("FAIL {file} (opt {level}): cannot read: {e}"),
                failures,
            };
        }
    };
    let mixed = mixed_reason(&stem);
    let buf = match wast_buffer(&text) {
        Ok(b) => b,
        Err(e) => {
            counts.failed += 1;
            return FileResult {
                counts,
                line: format!("FAIL {file} (opt {level}): cannot lex: {e}"),
                failures,
            };
        }
    };
    let wast = match parser::parse::<Wast>(&buf) {
        Ok(w) => w,
        Err(mut e) => {
            e.set_text(&text);
            counts.failed += 1;
            return FileResult {
                counts,
                line: format!("FAIL {file} (opt {level}): cannot parse: {e}"),
                failures,
            };
        }
    };
    let mut runner = Runner::new(&file, mixed.is_some(), config);
    let mut mixed_skips = 0;
    for d in wast.directives {
        let span: Span = d.span();
        let (line, _) = span.linecol_in(&text);
        let what = directive_name(&d);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner.run(d)))
            .unwrap_or_else(|p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Fail(format!("panic: {msg}"))
            });
        match outcome {
            Pass => counts.passed += 1,
            Skip => {
                counts.skipped += 1;
                mixed_skips += 1;
            }
            Fail(msg) => {
                counts.failed += 1;
                if verbose || failures.len() < 10 {
                    failures.push(format!(
                        "  {file}:{} (opt {level}): {what}: {msg}",
                        line + 1
                    ));
                }
            }
        }
    }
    let status = if counts.failed == 0 { "PASS" } else { "FAIL" };
    let mut line = format!(
        "{status} {file} (opt {level}): {} passed, {} failed",
        counts.passed, counts.failed
    );
    if mixed_skips > 0 {
        let _ = write!(
            line,
            ", {mixed_skips} skipped ({})",
            mixed.unwrap_or("unsupported feature")
        );
    }
    FileResult {
        counts,
        line,
        failures,
    }
}

/// The suite: `$KWASM_SPEC_DIR`, else `shared/spec-testsuite` beside the
/// repository, else `/work/shared/spec-testsuite`.
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

/// Configurations to run: the optimisation levels of
/// `KWASM_SPEC_OPT=speed|none|both` (default both) at the baseline ISA,
/// then `speed` with this CPU's extensions unless
/// `KWASM_SPEC_CPU=baseline` (or the CPU has none).
fn configs() -> Vec<Config> {
    let levels = match std::env::var("KWASM_SPEC_OPT").as_deref() {
        Ok("speed") => vec![OptLevel::Speed],
        Ok("none") => vec![OptLevel::None],
        Ok("both") | Err(_) => vec![OptLevel::Speed, OptLevel::None],
        Ok(other) => {
            eprintln!("KWASM_SPEC_OPT must be speed, none or both, not {other:?}");
            println!("0 passed, 1 failed, 0 skipped");
            std::process::exit(1);
        }
    };
    let mut out: Vec<Config> = levels.iter().map(|&opt| Config { opt, cpu: 0 }).collect();
    let host = kwasm_abi::host_cpu::host(kwasm_compiler::DEFAULT_TARGET);
    match std::env::var("KWASM_SPEC_CPU").as_deref() {
        Ok("baseline") => {}
        Ok("native") | Err(_) if host != 0 && levels.contains(&OptLevel::Speed) => {
            out.push(Config {
                opt: OptLevel::Speed,
                cpu: host,
            })
        }
        Ok("native") | Err(_) => {}
        Ok(other) => {
            eprintln!("KWASM_SPEC_CPU must be baseline or native, not {other:?}");
            println!("0 passed, 1 failed, 0 skipped");
            std::process::exit(1);
        }
    }
    out
}

fn main() {
    // `cargo test` passes harness flags (e.g. `--nocapture`, a filter);
    // accept a bare filter argument as KWASM_SPEC_FILTER.
    let arg_filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let filter: Vec<String> = std::env::var("KWASM_SPEC_FILTER")
        .ok()
        .map(|f| f.split(',').map(str::to_string).collect())
        .unwrap_or(arg_filter);
    let verbose = std::env::var_os("KWASM_SPEC_VERBOSE").is_some_and(|v| v != "0");
    let levels = configs();
    let dir = spec_dir();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wast"))
            .collect(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", dir.display());
            println!("0 passed, 1 failed, 0 skipped");
            std::process::exit(1);
        }
    };
    files.sort();
    files.retain(|p| {
        let name = p.file_name().unwrap().to_string_lossy();
        filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()))
    });

    // Totals per level, in the order of `levels`.
    let totals: Vec<Mutex<Counts>> = levels.iter().map(|_| Mutex::default()).collect();
    let mut to_run = Vec::new();
    for p in &files {
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        if let Some(why) = skip_reason(&stem) {
            // Count the file's commands as skipped (at every level) so the
            // totals reflect them.
            let n = std::fs::read_to_string(p)
                .ok()
                .and_then(|t| {
                    let b = ParseBuffer::new(&t).ok()?;
                    parser::parse::<Wast>(&b).ok().map(|w| w.directives.len())
                })
                .unwrap_or(1);
            for t in &totals {
                t.lock().unwrap().skipped += n;
            }
            println!("SKIP {}: {why}", p.file_name().unwrap().to_string_lossy());
        } else {
            for l in 0..levels.len() {
                to_run.push((l, p.clone()));
            }
        }
    }

    let next = AtomicUsize::new(0);
    let jobs = std::env::var("KWASM_SPEC_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((l, p)) = to_run.get(i) else { break };
                    let r = run_file(p, levels[*l], verbose);
                    {
                        let mut out = std::io::stdout().lock();
                        use std::io::Write;
                        let _ = writeln!(out, "{}", r.line);
                        for f in &r.failures {
                            let _ = writeln!(out, "{f}");
                        }
                    }
                    let mut t = totals[*l].lock().unwrap();
                    *t += r.counts;
                }
            });
        }
    });
    let mut all = Counts::default();
    for (level, t) in levels.iter().zip(totals) {
        let t = t.into_inner().unwrap();
        println!(
            "opt {}: {} passed, {} failed, {} skipped",
            level.name(),
            t.passed,
            t.failed,
            t.skipped
        );
        all += t;
    }
    println!(
        "{} passed, {} failed, {} skipped",
        all.passed, all.failed, all.skipped
    );
    if all.failed > 0 {
        std::process::exit(1);
    }
}
