//! The comparison at the heart of the differential test, shared by
//! `runtime/tests/differential.rs` (fixed seeds) and the `differential` fuzz
//! target in `fuzz/` (libFuzzer's inputs), which includes this file with
//! `#[path]`. Both feed it a wasm-smith module from [`smith_config`]; it
//! compiles the module with kwasm and Wasmtime, runs every export in both
//! and reports what differed ([`run_module`]).
//!
//! Not a test target of its own (cargo builds only `tests/*.rs` and
//! `tests/*/main.rs`); each includer uses part of it.
#![allow(dead_code)]

use arbitrary::Unstructured;
use kwasm_compiler::{CompileOptions, ErrorKind, OptLevel, compile};
use kwasm_runtime::{
    Artifact, InstantiateError, InvokeError, Store, StoreConfig, TrapCode, Val as KVal, ValType,
};
use std::rc::Rc;

/// Fuel per call of the large, uninstrumented modules: kwasm charges
/// operators a region at a time (a loop's whole body per iteration) plus the
/// bytes of bulk operations, Wasmtime (roughly) instructions executed. The
/// calls that exhaust either are endless loops or recursions: raising
/// kwasm's fuel tenfold compares no more calls (seeds 0..1000).
pub const KWASM_FUEL: u64 = 2_000_000;
pub const WASMTIME_FUEL: u64 = 5_000_000;
/// kwasm's fuel for everything else: the small modules, whose calls
/// wasm-smith's fuel code bounds (Wasmtime runs them without fuel), and the
/// recursions of `stack_exhaustion_matches`, which must end on the stack.
/// Unlimited, so that fuel never ends a call first (the store's default
/// bounds a call to about a millisecond of work).
pub const UNLIMITED_FUEL: u64 = u64::MAX;
/// wasm-smith fuel: bounds loop iterations and call depth per instance, and
/// so keeps recursion far from either engine's stack limit.
pub const SMITH_FUEL: u32 = 1000;
/// Wasm stack of each engine (Wasmtime's may not exceed its default async
/// stack size, 2 MiB).
pub const WASM_STACK: usize = 1 << 20;
/// Stack of the worker threads (Wasmtime runs wasm on the caller's stack).
pub const THREAD_STACK: usize = 8 << 20;
/// The largest memory of any compared module, in pages: wasm-smith's
/// maximum, and more than the generated modules' one or two pages. kwasm
/// reserves at most this much per memory, not 4 GiB for a memory without a
/// maximum (which under qemu-aarch64 costs the emulator ~25 MiB that it
/// never gives back); no module can tell, since none can grow this far.
pub const MAX_MEMORY_PAGES: u32 = 16;
/// Calls per exported function, each in the same (fresh) instance.
pub const CALLS: usize = 2;

// The SplitMix64 every seeded test uses (a path relative to this file, so
// that the fuzz targets that include it with `#[path]` resolve it too).
#[path = "../../../abi/tests/support/rng.rs"]
mod rng;
pub use rng::Rng;

/// How a module is generated and compiled.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub opt: OptLevel,
    /// Larger, and without wasm-smith's fuel instrumentation: the engines'
    /// fuel bounds execution.
    pub large: bool,
    /// wasm-smith guards divisions, conversions and accesses, so execution
    /// gets deeper before it ends.
    pub disallow_traps: bool,
    /// Compile with this CPU's optional extensions (`--cpu native`).
    pub host_cpu: bool,
}

impl Profile {
    /// The profile of a seed of the fixed-seed test. Both optimisation
    /// levels alternate; every third module avoids traps, every fifth is
    /// large and every seventh uses this CPU's extensions (2, 3, 5 and 7
    /// are coprime, so every combination occurs).
    pub fn of(seed: u64) -> Profile {
        Profile {
            opt: if seed % 2 == 1 {
                OptLevel::None
            } else {
                OptLevel::Speed
            },
            large: seed % 5 == 4,
            disallow_traps: seed.is_multiple_of(3),
            host_cpu: seed % 7 == 6,
        }
    }
}

/// wasm-smith restricted to what kwasm supports.
pub fn smith_config(profile: Profile) -> wasm_smith::Config {
    let large = profile.large;
    wasm_smith::Config {
        // Proposals kwasm implements.
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        allow_floats: true,
        // Everything else off.
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        custom_descriptors_enabled: false,
        custom_page_sizes_enabled: false,
        memory64_enabled: false,
        tail_call_enabled: false,
        extended_const_enabled: false,
        wide_arithmetic_enabled: false,
        max_memories: 1, // no multi-memory
        max_tags: 0,
        // No imports: the module stands alone in both engines.
        available_imports: None,
        max_imports: 0,
        // Small, bounded entities.
        max_memory32_bytes: MAX_MEMORY_PAGES as u64 * 65536,
        memory_max_size_required: true,
        max_tables: 3,
        max_table_elements: 64,
        table_max_size_required: true,
        min_types: 1, // without a function type there are no functions
        max_types: if large { 32 } else { 16 },
        min_funcs: 3,
        max_funcs: if large { 40 } else { 12 },
        max_globals: 12,
        max_data_segments: 6,
        max_element_segments: 6,
        max_elements: 16,
        max_instructions: if large { 1000 } else { 300 },
        // Exercise everything that is generated.
        export_everything: true,
        allow_start_export: true,
        generate_custom_sections: false,
        // Same NaN bits in both engines.
        canonicalize_nans: true,
        disallow_traps: profile.disallow_traps,
        ..wasm_smith::Config::default()
    }
}

/// A module from wasm-smith's input bytes: instrumented with wasm-smith's
/// fuel unless the profile is large.
pub fn generate_from(u: &mut Unstructured<'_>, profile: Profile) -> Result<Vec<u8>, String> {
    let mut m = wasm_smith::Module::new(smith_config(profile), u).map_err(|e| e.to_string())?;
    if !profile.large {
        m.ensure_termination(SMITH_FUEL)
            .map_err(|e| e.to_string())?;
    }
    Ok(m.to_bytes())
}

/// Wasmtime engines: without fuel, and with fuel for the large modules.
pub struct Engines {
    pub plain: wasmtime::Engine,
    pub fuel: wasmtime::Engine,
}

pub fn wasmtime_engines() -> Engines {
    Engines {
        plain: wasmtime_engine(false),
        fuel: wasmtime_engine(true),
    }
}

pub fn wasmtime_engine(fuel: bool) -> wasmtime::Engine {
    let mut c = wasmtime::Config::new();
    c.consume_fuel(fuel);
    c.wasm_reference_types(true)
        .wasm_bulk_memory(true)
        .wasm_multi_value(true)
        .wasm_simd(false)
        .wasm_relaxed_simd(false)
        .wasm_tail_call(false)
        .wasm_multi_memory(false)
        .wasm_memory64(false)
        .max_wasm_stack(WASM_STACK)
        .cranelift_nan_canonicalization(false);
    if cfg!(target_arch = "aarch64") {
        // Under qemu-aarch64 (7.2) every reserved page costs the emulator
        // a page descriptor that outlives the mapping: Wasmtime's default
        // 4 GiB + guard reservation per memory ran the test out of RAM.
        c.memory_reservation(0)
            .memory_guard_size(0)
            .memory_reservation_for_growth(0);
    }
    wasmtime::Engine::new(&c).expect("wasmtime engine")
}

// ---------------------------------------------------------------------------
// Values and outcomes in engine-neutral form.

/// A value as compared: numbers by bits, references by null-ness (funcref)
/// or host value (externref).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    FuncRef { null: bool },
    ExternRef(Option<u64>),
}

impl std::fmt::Display for V {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            V::I32(v) => write!(f, "i32:{v}"),
            V::I64(v) => write!(f, "i64:{v}"),
            V::F32(b) => write!(f, "f32:{} ({b:#010x})", f32::from_bits(b)),
            V::F64(b) => write!(f, "f64:{} ({b:#018x})", f64::from_bits(b)),
            V::FuncRef { null: true } => write!(f, "funcref:null"),
            V::FuncRef { null: false } => write!(f, "funcref:<func>"),
            V::ExternRef(None) => write!(f, "externref:null"),
            V::ExternRef(Some(v)) => write!(f, "externref:{v}"),
        }
    }
}

/// Trap kinds as compared. kwasm's `UndefinedElement` (call_indirect past
/// the table) is Wasmtime's `TableOutOfBounds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    MemoryOutOfBounds,
    TableOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    IntegerOverflow,
    IntegerDivisionByZero,
    BadConversionToInteger,
    StackOverflow,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Values(Vec<V>),
    Trap(TrapKind),
    /// Out of fuel (large modules only): not compared.
    Exhausted,
    /// Anything else (an engine error, a fault, an unexpected trap code).
    Error(String),
}

impl Outcome {
    /// Out of fuel or stack. Without wasm-smith's fuel code (large modules)
    /// recursion is unbounded, and how deep it gets before the stack runs
    /// out depends on each engine's frame sizes, as how far a call gets
    /// depends on how each counts fuel; so for those modules neither outcome
    /// (nor the state it leaves) is compared. Elsewhere wasm-smith's fuel
    /// keeps recursion shallow and stack exhaustion must match.
    fn is_exhaustion(&self) -> bool {
        matches!(
            self,
            Outcome::Exhausted | Outcome::Trap(TrapKind::StackOverflow)
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Values(vs) => {
                let s: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
                write!(f, "[{}]", s.join(", "))
            }
            Outcome::Trap(t) => write!(f, "trap {t:?}"),
            Outcome::Exhausted => write!(f, "out of fuel"),
            Outcome::Error(e) => write!(f, "error: {e}"),
        }
    }
}

pub fn kwasm_trap(code: TrapCode) -> Result<TrapKind, String> {
    Ok(match code {
        TrapCode::Unreachable => TrapKind::Unreachable,
        TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds | TrapCode::UndefinedElement => TrapKind::TableOutOfBounds,
        TrapCode::IndirectCallToNull => TrapKind::IndirectCallToNull,
        TrapCode::BadSignature => TrapKind::BadSignature,
        TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
        TrapCode::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        TrapCode::BadConversionToInteger => TrapKind::BadConversionToInteger,
        TrapCode::StackOverflow => TrapKind::StackOverflow,
        c @ (TrapCode::OutOfFuel | TrapCode::HostError) => {
            return Err(format!("unexpected kwasm trap {c:?}"));
        }
    })
}

pub fn wasmtime_trap(e: &wasmtime::Error) -> Outcome {
    use wasmtime::Trap as T;
    let Some(t) = e.downcast_ref::<T>() else {
        return Outcome::Error(format!("wasmtime: {e:?}"));
    };
    Outcome::Trap(match t {
        T::UnreachableCodeReached => TrapKind::Unreachable,
        T::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        T::TableOutOfBounds => TrapKind::TableOutOfBounds,
        T::IndirectCallToNull => TrapKind::IndirectCallToNull,
        T::BadSignature => TrapKind::BadSignature,
        T::IntegerOverflow => TrapKind::IntegerOverflow,
        T::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
        T::BadConversionToInteger => TrapKind::BadConversionToInteger,
        T::StackOverflow => TrapKind::StackOverflow,
        T::OutOfFuel => return Outcome::Exhausted,
        other => return Outcome::Error(format!("unexpected wasmtime trap {other:?}")),
    })
}

/// Deterministic arguments for a signature.
pub fn arguments(rng: &mut Rng, params: &[ValType]) -> Vec<V> {
    params
        .iter()
        .map(|t| match t {
            ValType::I32 => V::I32(match rng.next() % 3 {
                0 => rng.pick(&[0, 1, -1, 2, 7, 8, 16, 255, 65535, 65536, i32::MIN, i32::MAX]),
                1 => (rng.next() % 256) as i32,
                _ => rng.next() as i32,
            }),
            ValType::I64 => V::I64(match rng.next() % 3 {
                0 => rng.pick(&[0, 1, -1, 2, 63, 64, 1 << 32, i64::MIN, i64::MAX]),
                1 => (rng.next() % 256) as i64,
                _ => rng.next() as i64,
            }),
            ValType::F32 => V::F32(match rng.next() % 3 {
                0 => rng.pick(&[
                    0.0f32.to_bits(),
                    (-0.0f32).to_bits(),
                    1.0f32.to_bits(),
                    (-1.5f32).to_bits(),
                    0x7fc0_0000, // canonical NaN
                    f32::INFINITY.to_bits(),
                    f32::NEG_INFINITY.to_bits(),
                    f32::MAX.to_bits(),
                    1,           // smallest subnormal
                    0x4f00_0000, // 2^31
                    0xcf00_0000, // -2^31
                ]),
                1 => ((rng.next() % 2000) as f32 - 1000.0).to_bits(),
                _ => rng.next() as u32,
            }),
            ValType::F64 => V::F64(match rng.next() % 3 {
                0 => rng.pick(&[
                    0.0f64.to_bits(),
                    (-0.0f64).to_bits(),
                    1.0f64.to_bits(),
                    (-1.5f64).to_bits(),
                    0x7ff8_0000_0000_0000, // canonical NaN
                    f64::INFINITY.to_bits(),
                    f64::NEG_INFINITY.to_bits(),
                    f64::MAX.to_bits(),
                    1,
                    0x43e0_0000_0000_0000, // 2^63
                    0xc3e0_0000_0000_0000, // -2^63
                ]),
                1 => ((rng.next() % 2000) as f64 - 1000.0).to_bits(),
                _ => rng.next(),
            }),
            ValType::FuncRef => V::FuncRef { null: true },
            ValType::ExternRef => V::ExternRef(match rng.next() % 2 {
                0 => None,
                _ => Some(rng.next() % 1000),
            }),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// kwasm side.

pub fn kwasm_val(v: V) -> KVal {
    match v {
        V::I32(x) => KVal::I32(x),
        V::I64(x) => KVal::I64(x),
        V::F32(b) => KVal::F32(b),
        V::F64(b) => KVal::F64(b),
        V::FuncRef { .. } => KVal::FuncRef(None),
        V::ExternRef(x) => KVal::ExternRef(x),
    }
}

pub fn from_kwasm(v: &KVal) -> V {
    match *v {
        KVal::I32(x) => V::I32(x),
        KVal::I64(x) => V::I64(x),
        KVal::F32(b) => V::F32(b),
        KVal::F64(b) => V::F64(b),
        KVal::FuncRef(r) => V::FuncRef { null: r.is_none() },
        KVal::ExternRef(x) => V::ExternRef(x),
    }
}

/// `fuel`: whether the store was given bounded fuel (large modules).
pub fn kwasm_trap_outcome(t: &kwasm_runtime::Trap, fuel: bool) -> Outcome {
    if let Some(sig) = t.signal {
        return Outcome::Error(format!(
            "kwasm: fault (signal {sig}) in generated code: {t}"
        ));
    }
    if fuel && t.code == TrapCode::OutOfFuel {
        return Outcome::Exhausted;
    }
    match kwasm_trap(t.code) {
        Ok(k) => Outcome::Trap(k),
        Err(e) => Outcome::Error(e),
    }
}

pub fn kwasm_store(fuel: bool) -> Store {
    Store::new(StoreConfig {
        stack_size: WASM_STACK,
        fuel: if fuel { KWASM_FUEL } else { UNLIMITED_FUEL },
        max_memory_pages: MAX_MEMORY_PAGES,
        ..StoreConfig::default()
    })
}

// ---------------------------------------------------------------------------
// Wasmtime side.

pub fn wasmtime_val(store: &mut wasmtime::Store<()>, v: V) -> wasmtime::Val {
    match v {
        V::I32(x) => wasmtime::Val::I32(x),
        V::I64(x) => wasmtime::Val::I64(x),
        V::F32(b) => wasmtime::Val::F32(b),
        V::F64(b) => wasmtime::Val::F64(b),
        V::FuncRef { .. } => wasmtime::Val::FuncRef(None),
        V::ExternRef(None) => wasmtime::Val::ExternRef(None),
        V::ExternRef(Some(x)) => wasmtime::Val::ExternRef(Some(
            wasmtime::ExternRef::new(&mut *store, x).expect("allocate externref"),
        )),
    }
}

pub fn from_wasmtime(store: &wasmtime::Store<()>, v: &wasmtime::Val) -> Result<V, String> {
    Ok(match v {
        wasmtime::Val::I32(x) => V::I32(*x),
        wasmtime::Val::I64(x) => V::I64(*x),
        wasmtime::Val::F32(b) => V::F32(*b),
        wasmtime::Val::F64(b) => V::F64(*b),
        wasmtime::Val::FuncRef(r) => V::FuncRef { null: r.is_none() },
        wasmtime::Val::ExternRef(None) => V::ExternRef(None),
        wasmtime::Val::ExternRef(Some(r)) => {
            let data = r
                .data(store)
                .map_err(|e| e.to_string())?
                .and_then(|d| d.downcast_ref::<u64>().copied());
            match data {
                Some(x) => V::ExternRef(Some(x)),
                None => return Err("externref without a u64 payload".into()),
            }
        }
        other => return Err(format!("unexpected wasmtime value {other:?}")),
    })
}

pub fn wasmtime_default(t: &wasmtime::ValType) -> wasmtime::Val {
    wasmtime::Val::default_for_ty(t).unwrap_or(wasmtime::Val::I32(0))
}

/// FNV-1a, to summarise memory contents.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The observable state of an instance's non-function exports: global
/// values, memory sizes and contents, table sizes and which elements are
/// null.
pub fn kwasm_state(
    store: &Store,
    inst: kwasm_runtime::InstanceId,
    names: &[String],
) -> Vec<String> {
    use kwasm_runtime::Extern;
    names
        .iter()
        .map(|n| match store.export(inst, n) {
            Some(Extern::Global(_)) => match store.get_global(inst, n) {
                Ok(v) => format!("global {n:?} = {}", from_kwasm(&v)),
                Err(e) => format!("global {n:?}: {e}"),
            },
            Some(Extern::Memory(m)) => {
                let m = store.memory(m).expect("own memory");
                format!(
                    "memory {n:?}: {} pages, contents {:016x}",
                    m.pages(),
                    fnv1a(m.data())
                )
            }
            Some(Extern::Table(t)) => {
                let t = store.table(t).expect("own table");
                let nulls: String = (0..t.len())
                    .map(|i| if t.get(i) == Some(0) { '0' } else { '1' })
                    .collect();
                format!("table {n:?}: {} elements, non-null {nulls}", t.len())
            }
            Some(Extern::Func(_)) => format!("func {n:?}"),
            None => format!("{n:?} missing"),
        })
        .collect()
}

pub fn wasmtime_state(
    store: &mut wasmtime::Store<()>,
    inst: &wasmtime::Instance,
    names: &[String],
) -> Vec<String> {
    names
        .iter()
        .map(|n| match inst.get_export(&mut *store, n) {
            Some(wasmtime::Extern::Global(g)) => {
                let v = g.get(&mut *store);
                match from_wasmtime(store, &v) {
                    Ok(v) => format!("global {n:?} = {v}"),
                    Err(e) => format!("global {n:?}: {e}"),
                }
            }
            Some(wasmtime::Extern::Memory(m)) => format!(
                "memory {n:?}: {} pages, contents {:016x}",
                m.size(&*store),
                fnv1a(m.data(&*store))
            ),
            Some(wasmtime::Extern::Table(t)) => {
                let len = t.size(&*store);
                let nulls: String = (0..len)
                    .map(|i| match t.get(&mut *store, i) {
                        Some(r) if r.is_null() => '0',
                        Some(_) => '1',
                        None => '?',
                    })
                    .collect();
                format!("table {n:?}: {len} elements, non-null {nulls}")
            }
            Some(wasmtime::Extern::Func(_)) => format!("func {n:?}"),
            Some(_) => format!("{n:?}: unexpected kind"),
            None => format!("{n:?} missing"),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// One module.

#[derive(Default)]
pub struct Report {
    pub functions: usize,
    pub calls: usize,
    pub note: Option<String>,
    /// How calls ended (in both engines, when they agree): "values" or the
    /// trap kind.
    pub outcomes: Vec<String>,
    /// Human-readable mismatches for this module.
    pub mismatches: Vec<String>,
}

pub fn compare(ctx: &str, kw: &Outcome, wt: &Outcome, report: &mut Report) {
    if kw != wt {
        report
            .mismatches
            .push(format!("{ctx}: kwasm {kw}, wasmtime {wt}"));
    }
}

pub fn run_module(engines: &Engines, seed: u64, wasm: &[u8], profile: Profile) -> Report {
    let mut report = Report::default();
    let fuel = profile.large;
    let engine = if fuel { &engines.fuel } else { &engines.plain };
    let opts = CompileOptions {
        opt: profile.opt,
        cpu: match profile.host_cpu {
            true => kwasm_abi::host_cpu::host(kwasm_compiler::DEFAULT_TARGET),
            false => 0,
        },
        ..CompileOptions::default()
    };

    let kw = match compile(wasm, &opts) {
        Ok(kw) => kw,
        Err(e) if e.kind == ErrorKind::Unsupported => {
            report.mismatches.push(format!(
                "kwasm rejects the module as unsupported ({e}): the wasm-smith config allows a feature kwasm lacks"
            ));
            return report;
        }
        Err(e) => {
            report
                .mismatches
                .push(format!("kwasm does not compile a valid module: {e}"));
            return report;
        }
    };
    let artifact = match Artifact::from_bytes(&format!("seed{seed}"), &kw) {
        Ok(a) => Rc::new(a),
        Err(e) => {
            report
                .mismatches
                .push(format!("kwasm cannot load its own artifact: {e}"));
            return report;
        }
    };
    let module = match wasmtime::Module::new(engine, wasm) {
        Ok(m) => m,
        Err(e) => {
            report
                .mismatches
                .push(format!("wasmtime does not compile the module: {e:?}"));
            return report;
        }
    };

    let exports = artifact.exported_funcs();
    // Globals, memories and tables, compared after every call.
    let state_names: Vec<String> = module
        .exports()
        .filter(|e| !matches!(e.ty(), wasmtime::ExternType::Func(_)))
        .map(|e| e.name().to_string())
        .collect();
    let wt_exports: Vec<String> = module
        .exports()
        .filter(|e| matches!(e.ty(), wasmtime::ExternType::Func(_)))
        .map(|e| e.name().to_string())
        .collect();
    // Exports are a set (a .kw lists them sorted by name); calls below go
    // by name in kwasm's order on both engines.
    let mut wt_exports = wt_exports;
    wt_exports.sort();
    let mut kw_names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
    kw_names.sort();
    if kw_names != wt_exports {
        report.mismatches.push(format!(
            "exported functions differ: kwasm {kw_names:?}, wasmtime {wt_exports:?}"
        ));
        return report;
    }

    // Instantiation alone (the start function and segment initialisation).
    // With no exported function, this is the whole test of the module.
    let targets: Vec<Option<usize>> = if exports.is_empty() {
        vec![None]
    } else {
        (0..exports.len()).map(Some).collect()
    };
    for (n, target) in targets.into_iter().enumerate() {
        // Fresh instances per function, so wasm-smith's fuel and the
        // module's state start over for each.
        let mut kstore = kwasm_store(fuel);
        let kinst = kstore.instantiate(&artifact);
        let mut wstore = wasmtime::Store::new(engine, ());
        if fuel {
            wstore.set_fuel(WASMTIME_FUEL).expect("fuel is enabled");
        }
        let winst = wasmtime::Instance::new(&mut wstore, &module, &[]);
        let (kinst, winst) = match (kinst, winst) {
            (Ok(k), Ok(w)) => (k, w),
            (k, w) => {
                let ko = match k {
                    Ok(_) => Outcome::Values(vec![]),
                    Err(InstantiateError::Trap(t)) => kwasm_trap_outcome(&t, fuel),
                    Err(e) => Outcome::Error(format!("kwasm: {e}")),
                };
                let wo = match w {
                    Ok(_) => Outcome::Values(vec![]),
                    Err(e) => wasmtime_trap(&e),
                };
                report.note = Some(format!("instantiation: {ko}"));
                if fuel && (ko.is_exhaustion() || wo.is_exhaustion()) {
                    // A start function that ran out of fuel or stack in
                    // either (see `Outcome::is_exhaustion`).
                    report.note = Some("instantiation: exhausted".into());
                    return report;
                }
                compare("instantiation", &ko, &wo, &mut report);
                // Both trapped alike: the same happens for every function.
                return report;
            }
        };
        if n == 0 {
            // Every instance starts the same; check the first.
            let ks = kwasm_state(&kstore, kinst, &state_names);
            let ws = wasmtime_state(&mut wstore, &winst, &state_names);
            for (k, w) in ks.iter().zip(&ws) {
                if k != w {
                    report
                        .mismatches
                        .push(format!("after instantiation: kwasm {k}, wasmtime {w}"));
                }
            }
        }
        let Some(fi) = target else { continue };
        let (name, ty) = &exports[fi];
        report.functions += 1;
        let wfunc = winst.get_func(&mut wstore, name).expect("wasmtime export");
        let wty = wfunc.ty(&wstore);
        let mut rng = Rng(seed ^ ((fi as u64 + 1) << 32));
        for call in 0..CALLS {
            report.calls += 1;
            let args = arguments(&mut rng, &ty.params);
            let ctx = {
                let a: Vec<String> = args.iter().map(|v| v.to_string()).collect();
                format!("call {call} of `{name}` {ty} with ({})", a.join(", "))
            };

            let kargs: Vec<KVal> = args.iter().map(|&v| kwasm_val(v)).collect();
            let ko = match kstore.invoke(kinst, name, &kargs) {
                Ok(vs) => Outcome::Values(vs.iter().map(from_kwasm).collect()),
                Err(InvokeError::Trap(t)) => kwasm_trap_outcome(&t, fuel),
                Err(e) => Outcome::Error(format!("kwasm: {e}")),
            };

            let wargs: Vec<wasmtime::Val> =
                args.iter().map(|&v| wasmtime_val(&mut wstore, v)).collect();
            let mut wres: Vec<wasmtime::Val> =
                wty.results().map(|t| wasmtime_default(&t)).collect();
            if fuel {
                wstore.set_fuel(WASMTIME_FUEL).expect("fuel is enabled");
            }
            let wo = match wfunc.call(&mut wstore, &wargs, &mut wres) {
                Ok(()) => match wres
                    .iter()
                    .map(|v| from_wasmtime(&wstore, v))
                    .collect::<Result<Vec<_>, _>>()
                {
                    Ok(vs) => Outcome::Values(vs),
                    Err(e) => Outcome::Error(e),
                },
                Err(e) => wasmtime_trap(&e),
            };
            report.outcomes.push(match &ko {
                Outcome::Values(_) => "values".to_string(),
                Outcome::Trap(t) => format!("{t:?}"),
                Outcome::Exhausted => "out of fuel".to_string(),
                Outcome::Error(_) => "error".to_string(),
            });
            if fuel && (ko.is_exhaustion() || wo.is_exhaustion()) {
                // Where one engine ran out of fuel or stack the other may
                // have run further (see `Outcome::is_exhaustion`), and the
                // state differs accordingly. Stop comparing this function.
                break;
            }
            compare(&ctx, &ko, &wo, &mut report);
            let ks = kwasm_state(&kstore, kinst, &state_names);
            let ws = wasmtime_state(&mut wstore, &winst, &state_names);
            for (k, w) in ks.iter().zip(&ws) {
                if k != w {
                    report
                        .mismatches
                        .push(format!("after {ctx}: kwasm {k}, wasmtime {w}"));
                }
            }
        }
    }
    report
}
