//! Differential testing against Wasmtime: random valid modules from
//! wasm-smith (restricted to kwasm's feature set, NaNs canonicalised so
//! results are deterministic) run in both; results, traps, exported globals
//! and memory must agree. `KWASM_DIFF_ITERS` sets the number of modules,
//! `KWASM_DIFF_SEED` the random seed.

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod runtime;

use std::rc::Rc;

use arbitrary::Unstructured;
use kwasm_abi::trap::TrapCode;
use kwasm_compiler::{CompileOptions, OptLevel, compile};
use runtime::{Extern, Instance, Loaded};
use wasmtime::{Config, Engine, Store, Val};

thread_local! {
    static CALLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        tail_call_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        extended_const_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        max_memories: 1,
        max_tables: 2,
        max_imports: 0,
        export_everything: true,
        canonicalize_nans: true,
        min_funcs: 1,
        max_instructions: 1000,
        min_exports: 4,
        max_memory32_bytes: 4 << 16,
        memory_max_size_required: true,
        max_table_elements: 100,
        table_max_size_required: true,
        ..wasm_smith::Config::default()
    }
}

/// What a call did, in terms both engines share.
#[derive(Debug, PartialEq)]
enum Outcome {
    Values(Vec<u64>),
    Trap(&'static str),
    /// Fuel or stack ran out: engines account differently; stop comparing.
    Exhausted,
}

fn ours_trap(t: TrapCode) -> Outcome {
    Outcome::Trap(match t {
        TrapCode::OutOfFuel | TrapCode::StackOverflow => return Outcome::Exhausted,
        TrapCode::UndefinedElement | TrapCode::TableOutOfBounds => "table",
        other => other.name(),
    })
}

fn wasmtime_trap(e: &wasmtime::Error) -> Outcome {
    use wasmtime::Trap;
    let Some(t) = e.downcast_ref::<Trap>() else {
        return Outcome::Trap("host error");
    };
    Outcome::Trap(match t {
        Trap::OutOfFuel | Trap::StackOverflow => return Outcome::Exhausted,
        Trap::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds.name(),
        Trap::TableOutOfBounds => "table",
        Trap::IndirectCallToNull => TrapCode::IndirectCallToNull.name(),
        Trap::BadSignature => TrapCode::BadSignature.name(),
        Trap::IntegerOverflow => TrapCode::IntegerOverflow.name(),
        Trap::IntegerDivisionByZero => TrapCode::IntegerDivisionByZero.name(),
        Trap::BadConversionToInteger => TrapCode::BadConversionToInteger.name(),
        Trap::UnreachableCodeReached => TrapCode::Unreachable.name(),
        _ => "other",
    })
}

fn raw(v: &Val) -> u64 {
    match v {
        Val::I32(x) => u64::from(*x as u32),
        Val::I64(x) => *x as u64,
        Val::F32(b) => u64::from(*b),
        Val::F64(b) => *b,
        Val::FuncRef(f) => f.is_some() as u64,
        Val::ExternRef(r) => r.is_some() as u64,
        _ => 0,
    }
}

fn arg_val(ty: &wasmtime::ValType, bits: u64) -> (Val, u64) {
    use wasmtime::ValType as T;
    match ty {
        T::I32 => (Val::I32(bits as i32), u64::from(bits as u32)),
        T::I64 => (Val::I64(bits as i64), bits),
        T::F32 => (Val::F32(bits as u32), u64::from(bits as u32)),
        T::F64 => (Val::F64(bits), bits),
        T::Ref(r) if r.heap_type().is_func() => (Val::FuncRef(None), 0),
        _ => (Val::ExternRef(None), 0),
    }
}

fn run_one(wasm: &[u8], u: &mut Unstructured<'_>, engine: &Engine) -> Result<(), String> {
    let kw = compile(
        wasm,
        &CompileOptions {
            opt: if u.arbitrary::<bool>().unwrap_or(false) {
                OptLevel::None
            } else {
                OptLevel::Speed
            },
            ..CompileOptions::default()
        },
    )
    .map_err(|e| format!("kwasmc rejected a valid module: {e}"))?;
    let module = wasmtime::Module::new(engine, wasm).map_err(|e| format!("wasmtime: {e}"))?;
    let loaded = Rc::new(Loaded::new(&kw));
    let exports: Vec<(String, wasmtime::ExternType)> = module
        .exports()
        .map(|e| (e.name().to_string(), e.ty()))
        .collect();
    if std::env::var_os("KWASM_DIFF_VERBOSE").is_some() {
        eprintln!("{} exports, {} bytes", exports.len(), wasm.len());
    }
    // Each export runs in fresh instances, so that running out of fuel (which
    // the engines count differently) only stops comparing that one call.
    for (name, ty) in &exports {
        let wasmtime::ExternType::Func(fty) = ty else {
            continue;
        };
        let mut store = Store::new(engine, ());
        store.set_fuel(5_000_000).unwrap();
        let theirs = wasmtime::Instance::new(&mut store, &module, &[]);
        let ours = Instance::instantiate(loaded.clone(), &mut |_, _| None, vec![]);
        let (theirs, ours) = match (theirs, ours) {
            (Ok(t), Ok(o)) => (t, o),
            (Err(t), Err(runtime::InstError::Trap(o))) => {
                let (t, o) = (wasmtime_trap(&t), ours_trap(o));
                if t == o || t == Outcome::Exhausted || o == Outcome::Exhausted {
                    return Ok(());
                }
                return Err(format!(
                    "instantiation traps differ: wasmtime {t:?}, kwasm {o:?}"
                ));
            }
            (t, o) => {
                return Err(format!(
                    "instantiation differs: wasmtime ok={}, kwasm ok={}",
                    t.is_ok(),
                    o.is_ok()
                ));
            }
        };
        let Some(Extern::Func(of)) = ours.export(name) else {
            return Err(format!("kwasm lacks export {name}"));
        };
        let mut targs = Vec::new();
        let mut oargs = Vec::new();
        for p in fty.params() {
            let bits = match u.int_in_range(0..=3u8).unwrap_or(0) {
                0 => 0,
                1 => u.arbitrary::<u8>().unwrap_or(0) as u64,
                _ => u.arbitrary::<u64>().unwrap_or(0),
            };
            let (t, o) = arg_val(&p, bits);
            targs.push(t);
            oargs.push(o);
        }
        let tf = theirs.get_func(&mut store, name).unwrap();
        let mut tres: Vec<Val> = fty.results().map(|_| Val::I32(0)).collect();
        store.set_fuel(5_000_000).unwrap();
        let t = match tf.call(&mut store, &targs, &mut tres) {
            Ok(()) => Outcome::Values(tres.iter().map(raw).collect()),
            Err(e) => wasmtime_trap(&e),
        };
        ours.set_fuel(2_000_000);
        let o = match ours.call_with_fuel(&of, &oargs) {
            Ok(v) => {
                // References: compare null-ness only.
                let v = v
                    .into_iter()
                    .zip(fty.results())
                    .map(|(x, ty)| if ty.is_ref() { (x != 0) as u64 } else { x })
                    .collect();
                Outcome::Values(v)
            }
            Err(t) => ours_trap(t),
        };
        CALLS.with(|c| c.set(c.get() + 1));
        if std::env::var_os("KWASM_DIFF_VERBOSE").is_some() {
            eprintln!("{name}: {t:?}");
        }
        if t == Outcome::Exhausted || o == Outcome::Exhausted {
            continue;
        }
        if t != o {
            return Err(format!("export {name}: wasmtime {t:?}, kwasm {o:?}"));
        }
        // State must agree too.
        for (gname, gty) in &exports {
            match gty {
                wasmtime::ExternType::Global(_) => {
                    let tv = raw(&theirs
                        .get_global(&mut store, gname)
                        .unwrap()
                        .get(&mut store));
                    let Some(Extern::Global(og)) = ours.export(gname) else {
                        return Err(format!("kwasm lacks global {gname}"));
                    };
                    let mut ov = unsafe { *og.slot };
                    if og.ty.is_ref() {
                        ov = (ov != 0) as u64;
                    } else if matches!(
                        og.ty,
                        kwasm_abi::types::ValType::I32 | kwasm_abi::types::ValType::F32
                    ) {
                        ov &= 0xffff_ffff;
                    }
                    if tv != ov {
                        return Err(format!(
                            "after {name}: global {gname}: wasmtime {tv:#x}, kwasm {ov:#x}"
                        ));
                    }
                }
                wasmtime::ExternType::Memory(_) => {
                    let tm = theirs.get_memory(&mut store, gname).unwrap();
                    if tm.data(&store) != ours.memory_bytes().as_slice() {
                        return Err(format!("after {name}: memory {gname} differs"));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[test]
fn differential_against_wasmtime() {
    let iters: u64 = std::env::var("KWASM_DIFF_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let mut cfg = Config::new();
    cfg.consume_fuel(true);
    let engine = Engine::new(&cfg).unwrap();
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(move || {
            runtime::set_start_fuel(2_000_000);
            let mut failures = Vec::new();
            let mut generated = 0;
            let mut seed = std::env::var("KWASM_DIFF_SEED")
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0x9e37_79b9_7f4a_7c15)
                | 1;
            for i in 0..iters {
                let mut data = vec![0u8; 32 * 1024];
                for b in data.iter_mut() {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    *b = seed as u8;
                }
                let mut u = Unstructured::new(&data);
                let m = match wasm_smith::Module::new(smith_config(), &mut u) {
                    Ok(m) => m,
                    Err(e) => {
                        eprintln!("wasm-smith: {e}");
                        continue;
                    }
                };
                generated += 1;
                let wasm = m.to_bytes();
                if let Err(e) = run_one(&wasm, &mut u, &engine) {
                    let path = std::env::temp_dir().join(format!("kwasm-diff-{i}.wasm"));
                    let _ = std::fs::write(&path, &wasm);
                    failures.push(format!("module {i} ({}): {e}", path.display()));
                }
            }
            eprintln!(
                "{generated} modules, {} calls compared",
                CALLS.with(|c| c.get())
            );
            assert!(failures.is_empty(), "{}", failures.join("\n"));
        })
        .unwrap()
        .join()
        .unwrap();
}
