//! Executes generated code with the test runtime to check what the spec
//! tests do not: fuel, the stack check, the function index reported to the
//! trap handler, many return values through trampolines, and memory growth.

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod runtime;

use std::rc::Rc;

use kwasm_abi::trap::TrapCode;
use kwasm_compiler::{CompileOptions, OptLevel, compile};
use runtime::{Extern, FuncObj, Instance, Loaded};

fn instantiate(wat: &str, opt: OptLevel) -> Rc<Instance> {
    let kw = compile(
        wat.as_bytes(),
        &CompileOptions {
            opt,
            ..CompileOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let loaded = Rc::new(Loaded::new(&kw));
    Instance::instantiate(loaded, &mut |_, _| None, vec![]).unwrap_or_else(|e| panic!("{e:?}"))
}

fn func(inst: &Instance, name: &str) -> FuncObj {
    match inst.export(name) {
        Some(Extern::Func(f)) => f,
        _ => panic!("no export {name}"),
    }
}

/// Run on a thread with a known, large stack.
fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn fuel_bounds_loops_and_calls() {
    on_big_stack(|| {
        for opt in [OptLevel::None, OptLevel::Speed] {
            let inst = instantiate(
                r#"(module
                    (func (export "spin") (loop (br 0)))
                    (func $leaf)
                    (func (export "calls") (param i32)
                        (loop (call $leaf)
                            (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                            (br_if 0 (local.get 0)))))"#,
                opt,
            );
            inst.set_fuel(1000);
            let spin = func(&inst, "spin");
            assert_eq!(inst.call_with_fuel(&spin, &[]), Err(TrapCode::OutOfFuel));
            assert!(inst.fuel() < 0);
            // 1 entry + 10 * (loop header + leaf entry) = 21 units.
            inst.set_fuel(21);
            let calls = func(&inst, "calls");
            assert_eq!(inst.call_with_fuel(&calls, &[10]), Ok(vec![]));
            assert_eq!(inst.fuel(), 0);
            inst.set_fuel(20);
            assert_eq!(inst.call_with_fuel(&calls, &[10]), Err(TrapCode::OutOfFuel));
        }
    });
}

#[test]
fn stack_overflow_traps_in_the_recursing_function() {
    on_big_stack(|| {
        let inst = instantiate(
            r#"(module
                (func $entry (export "go") (param i64) (result i64) (call $rec (local.get 0)))
                (func $rec (param i64) (result i64)
                    (i64.add (i64.const 1) (call $rec (i64.add (local.get 0) (i64.const 1))))))"#,
            OptLevel::Speed,
        );
        let go = func(&inst, "go");
        assert_eq!(inst.call(&go, &[0]), Err(TrapCode::StackOverflow));
        assert_eq!(runtime::last_trap_func(), 1);
        // And the instance still works afterwards.
        let inst2 = instantiate(
            "(module (func (export \"f\") (result i32) (i32.div_u (i32.const 7) (i32.const 0))))",
            OptLevel::Speed,
        );
        let f = func(&inst2, "f");
        assert_eq!(inst2.call(&f, &[]), Err(TrapCode::IntegerDivisionByZero));
        assert_eq!(runtime::last_trap_func(), 0);
    });
}

#[test]
fn many_results_and_narrow_slots() {
    on_big_stack(|| {
        for opt in [OptLevel::None, OptLevel::Speed] {
            let inst = instantiate(
                r#"(module
                    (func $many (param i32 f32 i64 f64)
                        (result i32 f32 i64 f64 i32 f32 i64 f64 i32 i64)
                        (local.get 0) (local.get 1) (local.get 2) (local.get 3)
                        (i32.add (local.get 0) (i32.const 1))
                        (f32.add (local.get 1) (f32.const 1))
                        (i64.add (local.get 2) (i64.const 1))
                        (f64.add (local.get 3) (f64.const 1))
                        (i32.const -1) (i64.const -1))
                    (func (export "many") (param i32 f32 i64 f64)
                        (result i32 f32 i64 f64 i32 f32 i64 f64 i32 i64)
                        (call $many (local.get 0) (local.get 1) (local.get 2) (local.get 3))))"#,
                opt,
            );
            let f = func(&inst, "many");
            // Garbage in the upper bits of i32/f32 argument slots is ignored.
            let args = [
                0xdead_beef_0000_0005,
                0xffff_ffff_0000_0000 | u64::from(2.5f32.to_bits()),
                7,
                4.25f64.to_bits(),
            ];
            let r = inst.call(&f, &args).unwrap();
            assert_eq!(
                r,
                vec![
                    5,
                    u64::from(2.5f32.to_bits()),
                    7,
                    4.25f64.to_bits(),
                    6,
                    u64::from(3.5f32.to_bits()),
                    8,
                    5.25f64.to_bits(),
                    0xffff_ffff,
                    u64::MAX
                ]
            );
        }
    });
}

#[test]
fn memory_grow_moves_the_base() {
    on_big_stack(|| {
        let inst = instantiate(
            r#"(module (memory 1 100)
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
            OptLevel::Speed,
        );
        let f = func(&inst, "f");
        // 99 successful grows each add 42, then the last page holds 100.
        assert_eq!(inst.call(&f, &[]).unwrap(), vec![99 * 42 + 100]);
        assert_eq!(inst.memory_bytes().len(), 100 * 65536);
    });
}
