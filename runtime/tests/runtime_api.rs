//! The runtime's Rust API on compiled modules: linking between instances,
//! traps across instance boundaries, limits and link errors; and what
//! generated code does at run time that the spec suite does not check: exact
//! fuel accounting, the stack check and the function index a trap reports,
//! many return values through trampolines, and accesses after memory growth.

use kwasm_abi::fuel::{CALL, MEM_SHIFT, PER_OP, TABLE_SHIFT, bulk_cost};
use kwasm_compiler::{CompileOptions, OptLevel};
use kwasm_runtime::{
    Artifact, Extern, InstantiateError, InvokeError, LinkError, Store, StoreConfig, TrapCode, Val,
};
use std::rc::Rc;

fn load(wat: &str) -> Rc<Artifact> {
    load_opt(wat, OptLevel::default())
}

fn load_opt(wat: &str, opt: OptLevel) -> Rc<Artifact> {
    let opts = CompileOptions {
        opt,
        ..CompileOptions::default()
    };
    let kw = kwasm_compiler::compile(wat.as_bytes(), &opts)
        .unwrap_or_else(|e| panic!("compile failed: {e}"));
    Rc::new(Artifact::from_bytes("test.kw", &kw).unwrap())
}

const OPT_LEVELS: [OptLevel; 2] = [OptLevel::None, OptLevel::Speed];

fn trap_of<T: std::fmt::Debug>(r: Result<T, InvokeError>) -> kwasm_runtime::Trap {
    match r {
        Err(InvokeError::Trap(t)) => t,
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// Run `check` on `wat` compiled at both `--opt` levels, with and without
/// Spectre guards, each in a fresh instance: `call(export, args)` invokes an
/// export with `i32` arguments, `ctx` names the build for messages.
fn each_build(
    wat: &str,
    mut check: impl FnMut(&mut dyn FnMut(&str, &[i32]) -> Result<Vec<Val>, InvokeError>, &str),
) {
    for (a, ctx) in builds(wat) {
        let mut s = Store::default();
        let i = s.instantiate(&a).unwrap();
        let mut call = |f: &str, args: &[i32]| {
            let args: Vec<Val> = args.iter().map(|v| Val::I32(*v)).collect();
            s.invoke(i, f, &args)
        };
        check(&mut call, &ctx);
    }
}

/// `wat` compiled at both `--opt` levels, with and without Spectre
/// guards, each with a name for messages.
fn builds(wat: &str) -> Vec<(Rc<Artifact>, String)> {
    let mut out = Vec::new();
    for opt in OPT_LEVELS {
        for guards in [true, false] {
            let opts = CompileOptions {
                opt,
                spectre_guards: guards,
                ..CompileOptions::default()
            };
            let kw = kwasm_compiler::compile(wat.as_bytes(), &opts).unwrap();
            let a = Rc::new(Artifact::from_bytes("test.kw", &kw).unwrap());
            out.push((a, format!("{opt:?}, guards {guards}")));
        }
    }
    out
}

const LIB: &str = r#"
(module
  (memory (export "mem") 1 3)
  (global (export "g") (mut i32) (i32.const 5))
  (table (export "tab") 2 funcref)
  (func $sq (export "sq") (param i32) (result i32) local.get 0 local.get 0 i32.mul)
  (func $crash (export "crash") (param i32) (result i32) local.get 0 i32.const 0 i32.div_u)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (elem (i32.const 0) $sq))
"#;

const APP: &str = r#"
(module
  (import "lib" "sq" (func $sq (param i32) (result i32)))
  (import "lib" "crash" (func $crash (param i32) (result i32)))
  (import "lib" "mem" (memory 1))
  (import "lib" "g" (global $g (mut i32)))
  (import "lib" "tab" (table 2 funcref))
  (type $t (func (param i32) (result i32)))
  (func (export "go") (param i32) (result i32)
    (i32.store (i32.const 8) (call $sq (local.get 0)))
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (call_indirect (type $t) (i32.load (i32.const 8)) (i32.const 0)))
  (func $via (export "via") (param i32) (result i32) (call $crash (local.get 0)))
  (func (export "size") (result i32) memory.size))
"#;

#[test]
fn instances_share_memory_globals_tables_and_traps_name_the_callee() {
    let mut s = Store::default();
    let lib = s.instantiate(&load(LIB)).unwrap();
    s.register("lib", lib);
    let app = s.instantiate(&load(APP)).unwrap();
    // sq(3) = 9 stored in the shared memory, then sq(9) via the shared table.
    assert_eq!(
        s.invoke(app, "go", &[Val::I32(3)]).unwrap(),
        vec![Val::I32(81)]
    );
    assert_eq!(s.get_global(lib, "g").unwrap(), Val::I32(6));
    // The trap happens in lib's function: its name is reported.
    match s.invoke(app, "via", &[Val::I32(1)]) {
        Err(InvokeError::Trap(t)) => {
            assert_eq!(t.code, TrapCode::IntegerDivisionByZero);
            assert_eq!(t.func_name, "crash");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    // Growing in one instance is visible in the other; the maximum holds.
    assert_eq!(
        s.invoke(lib, "grow", &[Val::I32(2)]).unwrap(),
        vec![Val::I32(1)]
    );
    assert_eq!(s.invoke(app, "size", &[]).unwrap(), vec![Val::I32(3)]);
    assert_eq!(
        s.invoke(lib, "grow", &[Val::I32(1)]).unwrap(),
        vec![Val::I32(-1)]
    );
    // Still usable after the trap.
    assert_eq!(
        s.invoke(app, "go", &[Val::I32(2)]).unwrap(),
        vec![Val::I32(16)]
    );
}

/// Each instance's code accesses its own memory, whichever instance called
/// it and whatever instance its callees ran in: a function entered from
/// another instance, a caller after an imported function or a
/// `call_indirect` into another instance, and a function that accesses no
/// memory in between. Each memory's byte 0 names it; code that kept a base
/// across instances (as a pinned base register could) reads the other's.
#[test]
fn each_instance_accesses_its_own_memory_across_calls() {
    const A: &str = r#"
(module
  (memory 1) (data (i32.const 0) "\2a")
  (table (export "t") 1 funcref) (elem (i32.const 0) $peek)
  (func $peek (export "peek") (result i32) (i32.load8_u (i32.const 0))))
"#;
    const B: &str = r#"
(module
  (import "a" "peek" (func $peek (result i32)))
  (import "a" "t" (table 1 funcref))
  (memory 1) (data (i32.const 0) "\07")
  (type $r (func (result i32)))
  (func $mid (result i32) (call $peek))
  (func $mid_ind (result i32) (call_indirect (type $r) (i32.const 0)))
  (func (export "direct") (result i32)
    (i32.add (i32.mul (call $peek) (i32.const 100)) (i32.load8_u (i32.const 0))))
  (func (export "nested") (result i32)
    (i32.add (i32.mul (call $mid) (i32.const 100)) (i32.load8_u (i32.const 0))))
  (func (export "indirect") (result i32)
    (i32.add (i32.mul (call $mid_ind) (i32.const 100)) (i32.load8_u (i32.const 0))))
  (func (export "own") (result i32) (i32.load8_u (i32.const 0))))
"#;
    for opt in OPT_LEVELS {
        let mut s = Store::default();
        let a = s.instantiate(&load_opt(A, opt)).unwrap();
        s.register("a", a);
        let b = s.instantiate(&load_opt(B, opt)).unwrap();
        for (f, want) in [
            ("direct", 4207),
            ("nested", 4207),
            ("indirect", 4207),
            ("own", 7),
        ] {
            assert_eq!(
                s.invoke(b, f, &[]).unwrap(),
                vec![Val::I32(want)],
                "{f}, {opt:?}"
            );
        }
        assert_eq!(s.invoke(a, "peek", &[]).unwrap(), vec![Val::I32(42)]);
    }
}

#[test]
fn link_errors() {
    let mut s = Store::default();
    let app = load(APP);
    match s.instantiate(&app) {
        Err(InstantiateError::Link(LinkError::UnknownImport { module, name })) => {
            assert_eq!((module.as_str(), name.as_str()), ("lib", "sq"));
        }
        other => panic!("expected unknown import, got {other:?}"),
    }
    // `lib` with a different signature for sq and a memory without max.
    let other = load(
        r#"(module (memory (export "mem") 1) (global (export "g") (mut i32) (i32.const 0))
             (table (export "tab") 2 funcref)
             (func (export "sq") (param i64) (result i64) local.get 0)
             (func (export "crash") (param i32) (result i32) local.get 0))"#,
    );
    let o = s.instantiate(&other).unwrap();
    s.register("lib", o);
    let e = s.instantiate(&app).unwrap_err().to_string();
    assert!(e.starts_with("incompatible import type"), "{e}");
    assert!(e.contains("`lib`.`sq`"), "{e}");
}

#[test]
fn store_limits_apply() {
    let mut s = Store::new(StoreConfig {
        max_memory_pages: 2,
        ..StoreConfig::default()
    });
    let a = load(
        r#"(module (memory 1) (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#,
    );
    let i = s.instantiate(&a).unwrap();
    assert_eq!(
        s.invoke(i, "grow", &[Val::I32(1)]).unwrap(),
        vec![Val::I32(1)]
    );
    assert_eq!(
        s.invoke(i, "grow", &[Val::I32(1)]).unwrap(),
        vec![Val::I32(-1)]
    );
    let big = load("(module (memory 3))");
    assert!(matches!(
        s.instantiate(&big),
        Err(InstantiateError::Resource(_))
    ));
}

#[test]
fn fuel_is_reset_per_invocation() {
    let mut s = Store::new(StoreConfig {
        fuel: 1000,
        ..StoreConfig::default()
    });
    let a = load(
        r#"(module (func (export "count") (param i32) (result i32)
             (loop $l (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                      (br_if $l (local.get 0)))
             (local.get 0)))"#,
    );
    let i = s.instantiate(&a).unwrap();
    // Entry: 4 operators; each iteration: 6. So 100 iterations take 604
    // units of the 1000, again in every invocation.
    for _ in 0..5 {
        assert_eq!(
            s.invoke(i, "count", &[Val::I32(100)]).unwrap(),
            vec![Val::I32(0)]
        );
    }
    match s.invoke(i, "count", &[Val::I32(5000)]) {
        Err(InvokeError::Trap(t)) => assert_eq!(t.code, TrapCode::OutOfFuel),
        other => panic!("expected out of fuel, got {other:?}"),
    }
}

#[test]
fn references_round_trip() {
    let mut s = Store::default();
    let a = load(
        r#"(module (func $f) (elem declare func $f)
             (func (export "id") (param externref) (result externref) local.get 0)
             (func (export "fr") (result funcref) ref.func $f)
             (func (export "null") (param funcref) (result i32) local.get 0 ref.is_null))"#,
    );
    let i = s.instantiate(&a).unwrap();
    for v in [
        Val::ExternRef(None),
        Val::ExternRef(Some(0)),
        Val::ExternRef(Some(77)),
    ] {
        assert_eq!(s.invoke(i, "id", &[v]).unwrap(), vec![v]);
    }
    let r = s.invoke(i, "fr", &[]).unwrap();
    assert!(matches!(r[..], [Val::FuncRef(Some(_))]));
    assert_eq!(
        s.invoke(i, "null", &[Val::FuncRef(None)]).unwrap(),
        vec![Val::I32(1)]
    );
    assert_eq!(s.invoke(i, "null", &[r[0]]).unwrap(), vec![Val::I32(0)]);
    assert!(matches!(
        s.invoke(i, "id", &[Val::I32(1)]),
        Err(InvokeError::ArgType { .. })
    ));
}

#[test]
fn externs_of_another_store_are_refused_and_resolvers_work() {
    let mut a = Store::default();
    let lib = a.instantiate(&load(LIB)).unwrap();
    let mem = a.export(lib, "mem").unwrap();
    let importer = load(
        r#"(module (import "lib" "mem" (memory 1)) (func (export "s") (result i32) memory.size))"#,
    );
    let mut b = Store::default();
    b.define("lib", "mem", mem);
    let e = b.instantiate(&importer).unwrap_err().to_string();
    assert!(e.contains("another store"), "{e}");
    // The same extern through a resolver in its own store.
    let i = a
        .instantiate_with(&importer, |m, n| (m, n).eq(&("lib", "mem")).then_some(mem))
        .unwrap();
    assert_eq!(a.invoke(i, "s", &[]).unwrap(), vec![Val::I32(1)]);
    match mem {
        kwasm_runtime::Extern::Memory(m) => {
            assert_eq!(a.memory(m).unwrap().pages(), 1);
            assert!(b.memory(m).is_none());
        }
        _ => unreachable!(),
    }
}

#[test]
fn fuel_bounds_loops_and_calls_exactly() {
    for opt in OPT_LEVELS {
        let a = load_opt(
            r#"(module
                (func (export "spin") (loop (br 0)))
                (func $leaf)
                (func (export "calls") (param i32)
                    (loop (call $leaf)
                        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                        (br_if 0 (local.get 0)))))"#,
            opt,
        );
        let mut s = Store::new(StoreConfig {
            fuel: 1000,
            ..StoreConfig::default()
        });
        let i = s.instantiate(&a).unwrap();
        let t = trap_of(s.invoke(i, "spin", &[]));
        assert_eq!(t.code, TrapCode::OutOfFuel, "{opt:?}");
        // Fuel counts operators (kwasm_abi::fuel::PER_OP each, CALL for a
        // call): the entry charges `loop` and the two `end`s (3), each
        // iteration the loop's body (call; local.get, i32.const, i32.sub,
        // local.set, local.get, br_if: 6) and the leaf's `end` (1). That
        // is exactly enough, one less is not.
        let need = 3 * PER_OP + 10 * (CALL + 6 * PER_OP + PER_OP);
        s.set_fuel(need);
        assert_eq!(s.invoke(i, "calls", &[Val::I32(10)]).unwrap(), vec![]);
        s.set_fuel(need - 1);
        let t = trap_of(s.invoke(i, "calls", &[Val::I32(10)]));
        assert_eq!(t.code, TrapCode::OutOfFuel, "{opt:?}");
    }
}

/// The fast copy of a versioned loop charges fuel differently
/// (`loops::FastFuel`): a counter's once, before it runs (`Prepaid`), a
/// `<=` loop's in its header without a test, after the pre-header made sure
/// the fuel covers every iteration (`Covered`). The charges must be exact,
/// and a call without enough fuel must run out at the same iteration as the
/// tested per-iteration charges would: the stores made before the trap stay.
#[test]
fn fast_loop_fuel_is_exact() {
    use kwasm_abi::fuel::MEMORY_ACCESS;
    const N: i32 = 10;
    // `fill(N)` stores a nonzero word at 0, 4, ..., 4 * (N - 1); `filled`
    // counts the nonzero words from 0.
    let filled = r#"(func (export "filled") (result i32) (local $n i32)
          (block
            (loop
              (br_if 1 (i32.eqz (i32.load (i32.shl (local.get $n) (i32.const 2)))))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br 0)))
          (local.get $n))"#;
    // A counter: entry `loop` and two `end`s; per iteration the store and
    // eleven other operators.
    let counter = r#"(func (export "fill") (param $c i32) (local $p i32)
          (loop
            (i32.store (local.get $p) (local.get $c))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br_if 0 (local.tee $c (i32.add (local.get $c) (i32.const -1))))))"#;
    // `p += s` while `p <= 4 * (c - 1)`: eight more operators at entry, the
    // store and nine others per iteration.
    let bounded = r#"(func (export "fill") (param $c i32) (local $p i32) (local $s i32)
          (local.set $s (i32.const 4))
          (local.set $c (i32.shl (i32.sub (local.get $c) (i32.const 1)) (i32.const 2)))
          (loop
            (i32.store (local.get $p) (local.get $s))
            (br_if 0 (i32.le_u (local.tee $p (i32.add (local.get $p) (local.get $s)))
                               (local.get $c)))))"#;
    // The counter with a way out before its exit test (never taken): a
    // `block` and its `end` more at entry, four more operators per
    // iteration.
    let leaves = r#"(func (export "fill") (param $c i32) (local $p i32)
          (block
            (loop
              (i32.store (local.get $p) (local.get $c))
              (br_if 1 (i32.eq (local.get $c) (i32.const -1)))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (br_if 0 (local.tee $c (i32.add (local.get $c) (i32.const -1)))))))"#;
    // Tested at the top, `p += 4` until `p == 4 * c` (prepaid, and its
    // header entered once more, to leave): nine operators at entry, the
    // store and eleven others per iteration.
    let top = r#"(func (export "fill") (param $c i32) (local $p i32) (local $n i32)
          (local.set $n (i32.shl (local.get $c) (i32.const 2)))
          (block $out
            (loop $top
              (br_if $out (i32.eq (local.get $p) (local.get $n)))
              (i32.store (local.get $p) (local.get $c))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (br $top))))"#;
    // The last element: how many more times the header is entered than the
    // loop iterates.
    for (fill, entry, body, exits) in [
        (counter, 3 * PER_OP, MEMORY_ACCESS + 11 * PER_OP, 0),
        (leaves, 5 * PER_OP, MEMORY_ACCESS + 15 * PER_OP, 0),
        (bounded, 11 * PER_OP, MEMORY_ACCESS + 9 * PER_OP, 0),
        (top, 9 * PER_OP, MEMORY_ACCESS + 11 * PER_OP, 1),
    ] {
        for opt in OPT_LEVELS {
            let a = load_opt(&format!("(module (memory 1) {fill} {filled})"), opt);
            for iterations in [0, 1, N - 1, N] {
                let mut s = Store::default();
                let i = s.instantiate(&a).unwrap();
                let mut fuel = entry + iterations as u64 * body;
                if iterations == N {
                    fuel += exits * body;
                }
                s.set_fuel(fuel);
                let r = s.invoke(i, "fill", &[Val::I32(N)]);
                if iterations == N {
                    assert_eq!(r.unwrap(), vec![], "{opt:?}\n{fill}");
                    if exits > 0 {
                        // Every store paid for, but not the way out.
                        s.set_fuel(fuel - 1);
                        let r = s.invoke(i, "fill", &[Val::I32(N)]);
                        assert_eq!(trap_of(r).code, TrapCode::OutOfFuel, "{opt:?}\n{fill}");
                    }
                } else {
                    assert_eq!(trap_of(r).code, TrapCode::OutOfFuel, "{opt:?}\n{fill}");
                    // Not quite enough for the next iteration either.
                    s.set_fuel(fuel + body - 1);
                    let r = s.invoke(i, "fill", &[Val::I32(N)]);
                    assert_eq!(trap_of(r).code, TrapCode::OutOfFuel, "{opt:?}\n{fill}");
                }
                s.set_fuel(1 << 20);
                let n = s.invoke(i, "filled", &[]).unwrap();
                assert_eq!(
                    n,
                    vec![Val::I32(iterations)],
                    "{opt:?}, fuel {fuel}\n{fill}"
                );
            }
        }
    }
}

/// Bulk operations and host calls charge in proportion to what they touch
/// (DESIGN 10), before they run: exactly `bulk_cost(len, shift)` and
/// `base + (len >> MEM_SHIFT)` on top of the operators.
#[test]
fn fuel_of_bulk_operations_and_host_calls_is_exact() {
    let a = load(
        r#"(module
            (import "kwasm" "log" (func $log (param i32 i32)))
            (memory (export "mem") 1)
            (table 64 funcref)
            (func (export "fill") (param i32)
                (memory.fill (i32.const 0) (i32.const 0x61) (local.get 0)))
            (func (export "tfill") (param i32)
                (table.fill (i32.const 0) (ref.null func) (local.get 0)))
            (func (export "log") (param i32)
                (call $log (i32.const 0) (local.get 0))))"#,
    );
    let log = kwasm_abi::host::lookup("kwasm", "log").unwrap().cost;
    // Each body: i32.const, i32.const or ref.null, local.get, the operator,
    // end (log: i32.const, local.get, end, and the call at CALL).
    let cases: [(&str, u32, u64); 6] = [
        ("fill", 0, 5 * PER_OP + bulk_cost(0, MEM_SHIFT)),
        ("fill", 1000, 5 * PER_OP + bulk_cost(1000, MEM_SHIFT)),
        ("fill", 65536, 5 * PER_OP + bulk_cost(65536, MEM_SHIFT)),
        ("tfill", 63, 5 * PER_OP + bulk_cost(63, TABLE_SHIFT)),
        (
            "log",
            5,
            3 * PER_OP + CALL + u64::from(log.base) + (5 >> MEM_SHIFT),
        ),
        (
            "log",
            4000,
            3 * PER_OP + CALL + u64::from(log.base) + (4000 >> MEM_SHIFT),
        ),
    ];
    for (f, len, need) in cases {
        let mut s = Store::new(StoreConfig {
            fuel: need,
            ..StoreConfig::default()
        });
        let i = s.instantiate(&a).unwrap();
        s.invoke(i, f, &[Val::I32(len as i32)])
            .unwrap_or_else(|e| panic!("{f}({len}) with {need} units: {e}"));
        s.set_fuel(need - 1);
        let t = trap_of(s.invoke(i, f, &[Val::I32(len as i32)]));
        assert_eq!(t.code, TrapCode::OutOfFuel, "{f}({len})");
    }
    // The charge comes first: a fill that runs out of fuel writes nothing.
    let mut s = Store::new(StoreConfig {
        fuel: 100,
        ..StoreConfig::default()
    });
    let i = s.instantiate(&a).unwrap();
    let t = trap_of(s.invoke(i, "fill", &[Val::I32(65536)]));
    assert_eq!(t.code, TrapCode::OutOfFuel);
    let Some(Extern::Memory(m)) = s.export(i, "mem") else {
        panic!("no memory export");
    };
    assert!(s.memory(m).unwrap().data().iter().all(|b| *b == 0));
}

#[test]
fn stack_overflow_traps_in_the_recursing_function() {
    for opt in OPT_LEVELS {
        let mut s = Store::default();
        let rec = load_opt(
            r#"(module
                (func $entry (export "go") (param i64) (result i64) (call $rec (local.get 0)))
                (func $rec (param i64) (result i64)
                    (i64.add (i64.const 1) (call $rec (i64.add (local.get 0) (i64.const 1))))))"#,
            opt,
        );
        let i = s.instantiate(&rec).unwrap();
        let t = trap_of(s.invoke(i, "go", &[Val::I64(0)]));
        assert_eq!(t.code, TrapCode::StackOverflow, "{opt:?}");
        assert_eq!(t.signal, None, "{opt:?}: {t}");
        // The check fires in $rec (index 1), not in the entry function.
        assert_eq!(t.func, 1, "{opt:?}: {t}");
        // The store is usable afterwards, and a later trap reports its own
        // function.
        let div = load_opt(
            r#"(module (func (export "f") (result i32) (i32.div_u (i32.const 7) (i32.const 0))))"#,
            opt,
        );
        let j = s.instantiate(&div).unwrap();
        let t = trap_of(s.invoke(j, "f", &[]));
        assert_eq!(t.code, TrapCode::IntegerDivisionByZero, "{opt:?}");
        assert_eq!(t.func, 0, "{opt:?}: {t}");
        let t = trap_of(s.invoke(i, "go", &[Val::I64(0)]));
        assert_eq!((t.code, t.func), (TrapCode::StackOverflow, 1), "{opt:?}");
    }
}

#[test]
fn many_results_through_trampolines() {
    for opt in OPT_LEVELS {
        let a = load_opt(include_str!("data/many_results.wat"), opt);
        let mut s = Store::default();
        let i = s.instantiate(&a).unwrap();
        let args = [
            Val::I32(5),
            Val::F32(2.5f32.to_bits()),
            Val::I64(7),
            Val::F64(4.25f64.to_bits()),
        ];
        assert_eq!(
            s.invoke(i, "many", &args).unwrap(),
            vec![
                Val::I32(5),
                Val::F32(2.5f32.to_bits()),
                Val::I64(7),
                Val::F64(4.25f64.to_bits()),
                Val::I32(6),
                Val::F32(3.5f32.to_bits()),
                Val::I64(8),
                Val::F64(5.25f64.to_bits()),
                Val::I32(-1),
                Val::I64(-1),
            ],
            "{opt:?}"
        );
    }
}

/// A per_cpu_array (one copy in the runner, which is one CPU) beside a
/// shared array: `map_add`, `map_get` and `map_set` reach both, and an index
/// past the end traps with `HostError` (guests/wat/per_cpu.wat; the kernel
/// runs the same program in vm/checks/35-per-cpu.sh).
#[test]
fn per_cpu_arrays_count_and_trap_out_of_range() {
    let wat = include_str!("../../guests/wat/per_cpu.wat");
    each_build(wat, |call, ctx| {
        for _ in 0..3 {
            assert_eq!(call("filter", &[20]).unwrap(), [Val::I32(1)], "{ctx}");
        }
        for (m, i, want) in [(0, 0, 3), (1, 0, 3), (0, 1, 0)] {
            assert_eq!(call("get", &[m, i]).unwrap(), [Val::I64(want)], "{ctx}");
        }
        assert_eq!(
            trap_of(call("get", &[0, 2])).code,
            TrapCode::HostError,
            "{ctx}"
        );
        assert_eq!(
            trap_of(call("get", &[1, 1])).code,
            TrapCode::HostError,
            "{ctx}"
        );
        assert_eq!(
            trap_of(call("get", &[2, 0])).code,
            TrapCode::HostError,
            "{ctx}"
        );
    });
}

/// An IPv4 packet (IHL 5, no options) carrying a UDP datagram to port
/// `dport` with `payload`; only the fields the test programs read are set.
fn ipv4_udp(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut pkt = vec![0u8; 28];
    pkt[0] = 0x45;
    pkt[9] = 17;
    pkt[22..24].copy_from_slice(&dport.to_be_bytes());
    pkt.extend_from_slice(payload);
    pkt
}

/// `wat` compiled at `opt` and instantiated in a store whose packet is
/// `pkt`.
fn instance_with_packet(
    wat: &str,
    opt: OptLevel,
    pkt: &[u8],
) -> (Store, kwasm_runtime::InstanceId) {
    let a = load_opt(wat, opt);
    let mut s = Store::new(StoreConfig {
        packet: pkt.to_vec(),
        ..StoreConfig::default()
    });
    let i = s.instantiate(&a).unwrap();
    (s, i)
}

/// A hash map from wasm: `map_update` with every flag, `map_lookup`,
/// `map_delete`, a full map refusing inserts with a status, a missing map
/// as a status, and a value range outside memory as a trap; and `filter`
/// counting a UDP packet per destination port with `UPDATE_ADD`
/// (guests/wat/hash.wat; the kernel runs the same program in
/// vm/checks/36-hash.sh).
#[test]
fn hash_maps_from_wasm() {
    // Destination port 53, 40 bytes.
    let pkt = ipv4_udp(53, &[0; 12]);
    let wat = include_str!("../../guests/wat/hash.wat");
    for opt in OPT_LEVELS {
        let (mut s, i) = instance_with_packet(wat, opt, &pkt);
        let mut call = |f: &str, args: &[i32]| {
            let args: Vec<Val> = args.iter().map(|v| Val::I32(*v)).collect();
            s.invoke(i, f, &args)
        };
        let i32s = |v: i32| vec![Val::I32(v)];
        let i64s = |v: i64| vec![Val::I64(v)];
        for _ in 0..3 {
            assert_eq!(call("filter", &[40]).unwrap(), i32s(1), "{opt:?}");
        }
        assert_eq!(
            call("get", &[53]).unwrap(),
            i64s(3),
            "{opt:?}: packets to port 53"
        );
        assert_eq!(
            call("bytes", &[53]).unwrap(),
            i64s(120),
            "{opt:?}: bytes to port 53"
        );
        // Flags: UPDATE_ANY (0), UPDATE_NOEXIST (1), UPDATE_EXIST (2);
        // statuses: -2 absent, -7 full, -17 exists, -22 invalid.
        let steps: &[(&str, &[i32], Val, &str)] = &[
            ("put", &[7, 70, 1], Val::I32(0), "insert"),
            ("put", &[7, 71, 1], Val::I32(-17), "exists"),
            ("put", &[8, 80, 2], Val::I32(-2), "absent"),
            ("put", &[7, 72, 2], Val::I32(0), "replace"),
            ("get", &[7], Val::I64(72), "replaced"),
            ("put", &[8, 80, 0], Val::I32(0), "third key"),
            ("put", &[9, 90, 0], Val::I32(0), "fourth key"),
            ("put", &[10, 100, 0], Val::I32(-7), "full at 4"),
            ("put", &[8, 5, 9], Val::I32(-22), "bad flags"),
            ("del", &[8], Val::I32(0), "delete"),
            ("del", &[8], Val::I32(-2), "deleted"),
            ("get", &[8], Val::I64(-2), "deleted"),
            ("put", &[10, 100, 0], Val::I32(0), "room again"),
            ("get", &[10], Val::I64(100), "inserted"),
        ];
        for (f, args, want, why) in steps {
            assert_eq!(
                call(f, args).unwrap(),
                [*want],
                "{opt:?}: {f}{args:?}: {why}"
            );
        }
        assert_eq!(call("nomap", &[]).unwrap(), i32s(-22));
        assert_eq!(
            trap_of(call("oob", &[])).code,
            TrapCode::MemoryOutOfBounds,
            "{opt:?}"
        );
        // A full map: the packet to port 53 still counts (the key is
        // present); delete it and the next insert is refused and counted.
        assert_eq!(call("filter", &[40]).unwrap(), i32s(1));
        assert_eq!(call("get", &[53]).unwrap(), i64s(4));
        assert_eq!(call("del", &[53]).unwrap(), i32s(0));
        assert_eq!(call("put", &[11, 1, 0]).unwrap(), i32s(0));
        assert_eq!(
            call("filter", &[40]).unwrap(),
            i32s(1),
            "{opt:?}: never traps"
        );
        assert_eq!(call("get", &[53]).unwrap(), i64s(-2));
    }
}

/// A ring buffer from wasm: `filter` streams each UDP payload as a record,
/// records come out in order with their data, a full ring drops and counts
/// (and `event_output` reports it), a record above `ring::MAX_RECORD` is
/// dropped too, a map that is not a ring is a status, and a range outside
/// memory traps (guests/wat/events.wat; the kernel runs the same program
/// in vm/checks/37-events.sh).
#[test]
fn ring_buffers_from_wasm() {
    // Payload "hello" (33 bytes in all).
    let pkt = ipv4_udp(9, b"hello");
    let wat = include_str!("../../guests/wat/events.wat");
    for opt in OPT_LEVELS {
        let (mut s, i) = instance_with_packet(wat, opt, &pkt);
        let i32s = |v: i32| vec![Val::I32(v)];
        for _ in 0..2 {
            assert_eq!(s.invoke(i, "filter", &[Val::I32(33)]).unwrap(), i32s(1));
        }
        assert_eq!(s.invoke(i, "emit", &[Val::I32(5)]).unwrap(), i32s(0));
        let (ev, dropped) = s.drain_events(i, 0).unwrap();
        let data: Vec<&[u8]> = ev.iter().map(|e| &e.data[..]).collect();
        assert_eq!(data, [&b"hello"[..], b"hello", b"event"], "{opt:?}");
        assert_eq!(dropped, 0);
        assert!(ev.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
        // 4096 bytes hold 170 records of 8 data bytes (3 words each).
        let mut stored = 0;
        for _ in 0..200 {
            match s.invoke(i, "emit", &[Val::I32(8)]).unwrap()[..] {
                [Val::I32(0)] => stored += 1,
                [Val::I32(-7)] => {}
                ref other => panic!("{other:?}"),
            }
        }
        assert_eq!(stored, 170, "{opt:?}");
        let (ev, dropped) = s.drain_events(i, 0).unwrap();
        assert_eq!((ev.len(), dropped), (170, 30));
        assert_eq!(s.invoke(i, "emit", &[Val::I32(5000)]).unwrap(), i32s(-7));
        assert_eq!(
            s.drain_events(i, 0).unwrap().1,
            31,
            "a record too large is dropped"
        );
        assert_eq!(s.invoke(i, "notring", &[]).unwrap(), i32s(-22));
        assert_eq!(
            trap_of(s.invoke(i, "oob", &[])).code,
            TrapCode::MemoryOutOfBounds
        );
        assert!(s.drain_events(i, 1).is_none(), "map 1 is no ring");
    }
}

/// `popcnt` at both widths on edge values and a spread of patterns. On
/// aarch64 the compiler counts bits in general registers rather than with
/// Cranelift's NEON sequence (`compiler/src/bits.rs`), so this runs that
/// lowering; on x86-64 it runs Cranelift's own.
#[test]
fn popcnt_counts_bits() {
    let wat = r#"(module
        (func (export "p32") (param i32) (result i32) (i32.popcnt (local.get 0)))
        (func (export "p64") (param i64) (result i64) (i64.popcnt (local.get 0))))"#;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut cases = vec![
        0,
        1,
        u64::MAX,
        1 << 63,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
    ];
    for _ in 0..500 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        cases.push(x);
    }
    for opt in OPT_LEVELS {
        let a = load_opt(wat, opt);
        let mut s = Store::default();
        let i = s.instantiate(&a).unwrap();
        for &c in &cases {
            let got32 = s.invoke(i, "p32", &[Val::I32(c as i32)]).unwrap();
            assert_eq!(
                got32,
                vec![Val::I32((c as u32).count_ones() as i32)],
                "{c:#x} {opt:?}"
            );
            let got64 = s.invoke(i, "p64", &[Val::I64(c as i64)]).unwrap();
            assert_eq!(
                got64,
                vec![Val::I64(i64::from(c.count_ones()))],
                "{c:#x} {opt:?}"
            );
        }
    }
}

#[test]
fn memory_grow_and_accesses_after_growth() {
    for opt in OPT_LEVELS {
        let a = load_opt(
            r#"(module (memory (export "mem") 1 100)
                (func (export "f") (result i32)
                    (local i32)
                    (i32.store (i32.const 65532) (i32.const 42))
                    (local.set 0 (i32.const 0))
                    (block (loop
                        (br_if 1 (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
                        (i32.store (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4))
                                   (memory.size))
                        (local.set 0 (i32.add (local.get 0) (i32.load (i32.const 65532))))
                        (br 0)))
                    (i32.add (local.get 0)
                        (i32.load (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4))))))"#,
            opt,
        );
        let mut s = Store::default();
        let i = s.instantiate(&a).unwrap();
        // 99 successful grows each add 42, then the last page holds 100.
        assert_eq!(
            s.invoke(i, "f", &[]).unwrap(),
            vec![Val::I32(99 * 42 + 100)],
            "{opt:?}"
        );
        let Some(Extern::Memory(m)) = s.export(i, "mem") else {
            panic!("no memory export")
        };
        let m = s.memory(m).unwrap();
        assert_eq!(m.pages(), 100);
        assert_eq!(m.len(), 100 * 65536);
        // Each page's last word holds the page count after its grow.
        for p in 2..=100u32 {
            let off = (p * 65536 - 4) as usize;
            let word = u32::from_le_bytes(m.data()[off..off + 4].try_into().unwrap());
            assert_eq!(word, p, "{opt:?}: page {p}");
        }
    }
}

/// The compiler skips checks it can prove (an address below the declared
/// minimum, an access covered by an earlier check on the same address) and
/// keeps the memory length in a variable. None of that may let an access
/// through that the spec traps on, or trap one it allows.
#[test]
fn skipped_and_shared_bounds_checks_trap_exactly() {
    const WAT: &str = r#"(module (memory 1 3)
        ;; `x & 3` is at most 3: 65528 + 3 + 4 fits in the minimum, no check.
        (func (export "masked_in") (param i32) (result i32)
            (i32.load offset=65528 (i32.and (local.get 0) (i32.const 3))))
        ;; 65532 + 3 + 4 does not: still checked.
        (func (export "masked_edge") (param i32) (result i32)
            (i32.load offset=65532 (i32.and (local.get 0) (i32.const 3))))
        ;; The load at offset 4 is covered by the one at 8; not the reverse.
        (func (export "wide_then_narrow") (param i32) (result i32)
            (i32.add (i32.load offset=8 (local.get 0)) (i32.load offset=4 (local.get 0))))
        (func (export "narrow_then_wide") (param i32) (result i32)
            (i32.add (i32.load offset=4 (local.get 0)) (i32.load offset=8 (local.get 0))))
        ;; A check inside `if` or before a `br_if` out of a block does not
        ;; cover what follows the construct.
        (func (export "after_if") (param i32 i32) (result i32)
            (if (local.get 1) (then (drop (i32.load (local.get 0)))))
            (i32.load (local.get 0)))
        (func (export "after_else") (param i32 i32) (result i32)
            (if (local.get 1)
                (then (drop (i32.load (local.get 0))))
                (else (drop (i32.load offset=100 (i32.const 0)))))
            (i32.load (local.get 0)))
        (func (export "after_br_if") (param i32 i32) (result i32)
            (block (br_if 0 (local.get 1)) (drop (i32.load (local.get 0))))
            (i32.load (local.get 0)))
        ;; A check before a loop covers its body.
        (func (export "loop_sum") (param i32 i32) (result i32) (local i32)
            (drop (i32.load offset=12 (local.get 0)))
            (loop
                (local.set 2 (i32.add (local.get 2) (i32.load offset=8 (local.get 0))))
                (br_if 0 (local.tee 1 (i32.sub (local.get 1) (i32.const 1)))))
            (local.get 2))
        ;; The length is reloaded after a call that grew memory.
        (func $grow (result i32) (memory.grow (i32.const 1)))
        (func (export "grow_then_load") (param i32) (result i32)
            (drop (i32.load (local.get 0)))
            (drop (call $grow))
            (i32.store (i32.const 65536) (i32.const 7))
            (i32.load (i32.const 65536))))"#;
    let oob = |r| trap_of(r).code == TrapCode::MemoryOutOfBounds;
    each_build(WAT, |call, ctx| {
        for x in [0, 1, 3, -1] {
            assert_eq!(call("masked_in", &[x]).unwrap(), vec![Val::I32(0)], "{ctx}");
        }
        assert!(call("masked_edge", &[0]).is_ok(), "{ctx}");
        assert!(oob(call("masked_edge", &[1])), "{ctx}");
        assert!(call("wide_then_narrow", &[65524]).is_ok(), "{ctx}");
        assert!(oob(call("wide_then_narrow", &[65525])), "{ctx}");
        assert!(oob(call("narrow_then_wide", &[65528])), "{ctx}");
        for f in ["after_if", "after_else", "after_br_if"] {
            assert!(call(f, &[65532, 1]).is_ok(), "{f} {ctx}");
            assert!(call(f, &[65532, 0]).is_ok(), "{f} {ctx}");
            assert!(oob(call(f, &[65533, 1])), "{f} {ctx}");
            // The construct's check did not run: the load after it
            // still traps, whether or not the path checked.
            assert!(oob(call(f, &[0x7fff_0000, 0])), "{f} {ctx}");
            assert!(oob(call(f, &[-4, 0])), "{f} {ctx}");
        }
        assert_eq!(
            call("loop_sum", &[65520, 5]).unwrap(),
            vec![Val::I32(0)],
            "{ctx}"
        );
        assert!(oob(call("loop_sum", &[65521, 5])), "{ctx}");
        assert_eq!(
            call("grow_then_load", &[0]).unwrap(),
            vec![Val::I32(7)],
            "{ctx}"
        );
    });
}

/// kwasmc versions counted innermost loops (`compiler/src/loops.rs`): one
/// check of the whole range before the loop, then a copy without per-access
/// checks, or the checked copy when the range does not fit. Whichever runs,
/// the loop must trap at exactly the access the spec traps on, after the
/// same stores, and not trap when an address wraps back into memory or the
/// loop leaves early.
#[test]
fn versioned_loops_trap_exactly() {
    const WAT: &str = r#"(module (memory 1 3)
        ;; The sieve's shape: `t[m] = 1; m += p; while m <= n`.
        (func (export "fill") (param $t i32) (param $m i32) (param $p i32) (param $n i32)
            (loop
                (i32.store8 (i32.add (local.get $t) (local.get $m)) (i32.const 1))
                (br_if 0 (i32.le_u (local.tee $m (i32.add (local.get $m) (local.get $p)))
                                   (local.get $n)))))
        ;; `while m < n`, written `n > m`.
        (func (export "fill_below") (param $t i32) (param $m i32) (param $n i32)
            (loop
                (i32.store8 offset=2 (i32.add (local.get $m) (local.get $t)) (i32.const 1))
                (br_if 0 (i32.gt_u (local.get $n)
                                   (local.tee $m (i32.add (local.get $m) (i32.const 1)))))))
        ;; matmul's shape: `i += 16` until `i == 1024`, two accesses each.
        (func (export "stride") (param $a i32) (param $i i32)
            (loop
                (f64.store (i32.add (local.get $a) (local.get $i)) (f64.const 1))
                (f64.store offset=8 (i32.add (local.get $a) (local.get $i)) (f64.const 2))
                (br_if 0 (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 16)))
                                 (i32.const 1024)))))
        ;; Leaves at the first nonzero byte, long before its limit.
        (func (export "find") (param $t i32) (param $n i32) (result i32)
            (block $found
                (loop
                    (br_if $found (i32.load8_u (local.get $t)))
                    (br_if 0 (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 1)))
                                       (local.get $n)))))
            (local.get $t))
        ;; A counter: `*p = 7; p += 4` while `--c != 0`.
        (func (export "count") (param $p i32) (param $c i32)
            (loop
                (i32.store (local.get $p) (i32.const 7))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br_if 0 (local.tee $c (i32.add (local.get $c) (i32.const -1))))))
        ;; Tested at the top: `while x < n { t[x] = 1; x += 1 }`, back to
        ;; the header from two places.
        (func (export "top") (param $t i32) (param $x i32) (param $n i32)
            (block $out
                (loop $top
                    (br_if $out (i32.ge_u (local.get $x) (local.get $n)))
                    (i32.store8 (i32.add (local.get $t) (local.get $x)) (i32.const 1))
                    (local.set $x (i32.add (local.get $x) (i32.const 1)))
                    (br_if $top (i32.and (local.get $x) (i32.const 1)))
                    (br $top))))
        ;; A slice iterator: leave when `x == n`, else `t[x + 2] = x`,
        ;; `x += 2`.
        (func (export "iter") (param $t i32) (param $x i32) (param $n i32)
            (block $out
                (loop $top
                    (br_if $out (i32.eq (local.get $n) (local.get $x)))
                    (i32.store16 offset=2 (i32.add (local.get $t) (local.get $x)) (local.get $x))
                    (local.set $x (i32.add (local.get $x) (i32.const 2)))
                    (br $top))))
        (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0)))
        (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))"#;
    let oob = |r| trap_of(r).code == TrapCode::MemoryOutOfBounds;
    each_build(WAT, |call, ctx| {
        let byte = |call: &mut dyn FnMut(&str, &[i32]) -> _, at: i32| match call("peek", &[at]) {
            Ok(v) => v,
            Err(e) => panic!("peek {at}: {e:?}"),
        };

        // First, while memory is all zeros: the limit is far out of
        // memory but the loop leaves early.
        assert!(call("poke", &[100, 9]).is_ok(), "{ctx}");
        assert_eq!(
            call("find", &[70, -1]).unwrap(),
            vec![Val::I32(100)],
            "{ctx}"
        );
        // Without the nonzero byte it runs off the end of memory.
        assert!(call("poke", &[100, 0]).is_ok(), "{ctx}");
        assert!(oob(call("find", &[65500, -1])), "{ctx}");

        // In bounds up to the last byte; then one byte too far, trapping
        // after the stores before it.
        assert!(call("fill", &[65000, 0, 7, 535]).is_ok(), "{ctx}");
        assert_eq!(byte(call, 65000 + 532), vec![Val::I32(1)], "{ctx}");
        assert!(oob(call("fill", &[65000, 300, 1, 536])), "{ctx}");
        assert_eq!(byte(call, 65535), vec![Val::I32(1)], "{ctx}");
        // `t + m` wraps past 2^32 back to the start of memory: in bounds.
        assert!(call("fill", &[-16, 16, 1, 20]).is_ok(), "{ctx}");
        assert_eq!(byte(call, 4), vec![Val::I32(1)], "{ctx}");
        // `m` starts above `n`: one iteration, at `t + m`.
        assert!(call("fill", &[0, 65535, 1, 0]).is_ok(), "{ctx}");
        assert!(oob(call("fill", &[0, 65536, 1, 0])), "{ctx}");

        assert!(call("fill_below", &[65000, 0, 534]).is_ok(), "{ctx}");
        assert!(oob(call("fill_below", &[65000, 0, 535])), "{ctx}");
        // `n = 0`: the back-edge is never taken.
        assert!(call("fill_below", &[0, 65533, 0]).is_ok(), "{ctx}");
        assert!(oob(call("fill_below", &[0, 65534, 0])), "{ctx}");

        // 1024 bytes at `a`: the last 16 end exactly at the end.
        assert!(call("stride", &[65536 - 1024, 0]).is_ok(), "{ctx}");
        assert!(oob(call("stride", &[65536 - 1023, 0])), "{ctx}");
        // A start the stride never brings to 1024 (8 + 16k), or one past
        // it: `i` runs through all of memory and traps there, neither
        // sooner nor (clamped by a guard) never.
        assert!(oob(call("stride", &[0, 8])), "{ctx}");
        assert!(oob(call("stride", &[0, 2000])), "{ctx}");

        // 100 stores of 4 bytes, the last one ending at the end; one
        // byte later, the last store traps after the 99 before it.
        assert!(call("count", &[65536 - 400, 100]).is_ok(), "{ctx}");
        assert!(oob(call("count", &[65536 - 399, 100])), "{ctx}");
        assert_eq!(byte(call, 65536 - 399 + 4 * 98), vec![Val::I32(7)], "{ctx}");
        // A count of 0 wraps: it runs until the stores leave memory.
        assert!(oob(call("count", &[0, 0])), "{ctx}");

        assert!(call("top", &[65000, 0, 536]).is_ok(), "{ctx}");
        assert!(oob(call("top", &[65000, 30, 537])), "{ctx}");
        assert_eq!(byte(call, 65535), vec![Val::I32(1)], "{ctx}");
        // A start at or past the limit: no iteration, even far away.
        assert!(call("top", &[0, -5, 7]).is_ok(), "{ctx}");
        assert!(call("top", &[-1, 0, 0]).is_ok(), "{ctx}");

        // The last store ends at the last byte; one step more traps there,
        // after the stores before it.
        assert!(call("iter", &[65000, 0, 534]).is_ok(), "{ctx}");
        assert_eq!(
            byte(call, 65000 + 2 + 532),
            vec![Val::I32(532 & 0xff)],
            "{ctx}"
        );
        assert!(oob(call("iter", &[65000, 100, 536])), "{ctx}");
        assert_eq!(
            byte(call, 65000 + 2 + 532),
            vec![Val::I32(532 & 0xff)],
            "{ctx}"
        );
        // `x == n` at once: no store, however far away.
        assert!(call("iter", &[-1, 7, 7]).is_ok(), "{ctx}");
        // An odd distance: `x` steps over `n` and on through memory, and
        // the loop traps there instead of running forever.
        assert!(oob(call("iter", &[0, 0, 7])), "{ctx}");
        // A start past the limit wraps round 2^32 before it meets it.
        assert!(oob(call("iter", &[0, 100, 10])), "{ctx}");
        // `t + x` wraps past 2^32 back to the start of memory: in bounds.
        assert!(call("iter", &[-16, 16, 100]).is_ok(), "{ctx}");
        assert_eq!(byte(call, 2 + 98 - 16), vec![Val::I32(98)], "{ctx}");
    });
}

/// An address `p + (x & mask) + c` is checked and guarded through `p`
/// alone when `p` leaves room for the whole mask (`compiler/src/bounds.rs`,
/// `guard_the_base`), and exactly in a cold block otherwise. Both must
/// trap exactly where the spec does: near the end of memory, when the sum
/// wraps past 2^32 back into memory, and with a negative constant.
#[test]
fn base_guarded_accesses_trap_exactly() {
    const WAT: &str = r#"(module (memory 1 3)
        (func (export "chain") (param $p i32) (param $x i32) (result i32)
            (i32.load16_u (i32.add (local.get $p) (i32.and (local.get $x) (i32.const 0x7ffe)))))
        (func (export "before") (param $p i32) (param $x i32) (result i32)
            (i32.load8_u (i32.add (i32.add (local.get $p) (i32.and (local.get $x) (i32.const 0xff)))
                                  (i32.const -1))))
        (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))"#;
    let oob = |r| trap_of(r).code == TrapCode::MemoryOutOfBounds;
    each_build(WAT, |call, ctx| {
        assert!(call("poke", &[65534, 0x5a]).is_ok(), "{ctx}");
        assert!(call("poke", &[10, 0x77]).is_ok(), "{ctx}");
        // Room for the whole mask: the fast path.
        assert_eq!(
            call("chain", &[100, 0]).unwrap(),
            vec![Val::I32(0)],
            "{ctx}"
        );
        // `p` too close to the end for the mask, the access still in
        // bounds (exact check), then one past it.
        assert_eq!(
            call("chain", &[65534 - 0x100, 0x100]).unwrap(),
            vec![Val::I32(0x5a)],
            "{ctx}"
        );
        assert!(oob(call("chain", &[65535 - 0x100, 0x100])), "{ctx}");
        assert!(oob(call("chain", &[65534, 2])), "{ctx}");
        // The largest `p` the fast path takes (`65536 - 0x7ffe - 2`),
        // with the largest `t`, and one past it.
        assert_eq!(
            call("chain", &[32768, 0x7ffe]).unwrap(),
            vec![Val::I32(0x5a)],
            "{ctx}"
        );
        assert!(oob(call("chain", &[32769, 0x7ffe])), "{ctx}");
        // `p + t` wraps past 2^32 to 10: in bounds.
        assert_eq!(
            call("chain", &[10 - 0x10, 0x10]).unwrap(),
            vec![Val::I32(0x77)],
            "{ctx}"
        );
        // `p + t - 1`: at 0 for `p + t = 1`, at 2^32 - 1 for 0.
        assert_eq!(call("before", &[1, 0]).unwrap(), vec![Val::I32(0)], "{ctx}");
        assert_eq!(
            call("before", &[0, 11]).unwrap(),
            vec![Val::I32(0x77)],
            "{ctx}"
        );
        assert!(oob(call("before", &[0, 0])), "{ctx}");
        assert!(oob(call("before", &[65537 - 0x80, 0x80])), "{ctx}");
        assert_eq!(
            call("before", &[65536 - 0x80, 0x80]).unwrap(),
            vec![Val::I32(0)],
            "{ctx}"
        );
    });
}

/// `memory.copy` at every length up to 70 bytes, with every overlap in
/// both directions and at both ends of memory, behaves as `memmove` and
/// the spec say: the destination gets the bytes of the source as they
/// were before the copy, and a copy with either range leaving memory traps
/// with nothing written. (The test of an inline copy for short lengths,
/// which was measured and dropped: docs/performance.md.)
#[test]
fn small_copies_act_as_memmove_at_every_length_and_overlap() {
    const WINDOW: usize = 512;
    const END: usize = 65536;
    let wat = r#"(module
        (memory (export "mem") 1)
        (func (export "seed") (param $salt i32) (param $end i32)
            (local $i i32)
            (loop $l
                (i32.store8 (local.get $i)
                    (i32.add (i32.mul (local.get $i) (i32.const 7)) (local.get $salt)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (local.get $end)))))
        (func (export "copy") (param i32 i32 i32)
            (memory.copy (local.get 0) (local.get 1) (local.get 2))))"#;
    for (a, ctx) in builds(wat) {
        let mut s = Store::new(StoreConfig {
            fuel: 1 << 40,
            ..StoreConfig::default()
        });
        let i = s.instantiate(&a).unwrap();
        let seed = |s: &mut Store, salt: usize, end: usize| {
            s.invoke(i, "seed", &[Val::I32(salt as i32), Val::I32(end as i32)])
                .unwrap();
        };
        seed(&mut s, 1, END);
        let Some(Extern::Memory(m)) = s.export(i, "mem") else {
            panic!("no memory export");
        };
        let mut model = s.memory(m).unwrap().data().to_vec();
        let copy = |s: &mut Store, d: usize, src: usize, n: usize| {
            let args = [d, src, n].map(|v| Val::I32(v as i32));
            s.invoke(i, "copy", &args)
        };
        for n in 0..=70 {
            for delta in -72i64..=72 {
                // A fresh pattern in the window each time, so that a
                // byte read after it was overwritten shows.
                let salt = n * 145 + (delta + 72) as usize;
                seed(&mut s, salt, WINDOW);
                for (at, byte) in model[..WINDOW].iter_mut().enumerate() {
                    *byte = (at * 7 + salt) as u8;
                }
                let src = 200;
                let d = (200 + delta) as usize;
                copy(&mut s, d, src, n)
                    .unwrap_or_else(|e| panic!("{ctx}: copy({d}, {src}, {n}): {e}"));
                model.copy_within(src..src + n, d);
                let got = &s.memory(m).unwrap().data()[..WINDOW];
                assert!(
                    got == &model[..WINDOW],
                    "{ctx}: copy({d}, {src}, {n}) differs from memmove"
                );
            }
            // At the end of memory: in bounds up to the last byte, and
            // one byte further traps without writing anything.
            for (d, src) in [(END - n, 100), (100, END - n), (END - n, END - n)] {
                copy(&mut s, d, src, n).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                model.copy_within(src..src + n, d);
            }
            for (d, src) in [(END - n + 1, 100), (100, END - n + 1)] {
                let t = trap_of(copy(&mut s, d, src, n));
                assert_eq!(t.code, TrapCode::MemoryOutOfBounds, "{ctx}: {d} {src} {n}");
            }
            assert!(
                s.memory(m).unwrap().data() == &model[..],
                "{ctx}: n = {n} near the end of memory"
            );
        }
    }
}
