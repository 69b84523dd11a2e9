//! The runtime's Rust API on compiled modules: linking between instances,
//! traps across instance boundaries, limits and link errors.

use kwasm_cli::runtime::{
    Artifact, InstantiateError, InvokeError, LinkError, Store, StoreConfig, TrapCode, Val,
};
use std::rc::Rc;

fn load(wat: &str) -> Rc<Artifact> {
    let kw = kwasm_compiler::compile(wat.as_bytes(), &kwasm_compiler::CompileOptions::default())
        .unwrap_or_else(|e| panic!("compile failed: {e}"));
    Rc::new(Artifact::from_bytes("test.kw", &kw).unwrap())
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
    for _ in 0..5 {
        assert_eq!(
            s.invoke(i, "count", &[Val::I32(500)]).unwrap(),
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
        kwasm_cli::runtime::Extern::Memory(m) => {
            assert_eq!(a.memory(m).unwrap().pages(), 1);
            assert!(b.memory(m).is_none());
        }
        _ => unreachable!(),
    }
}
