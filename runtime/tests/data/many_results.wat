;; Ten results of mixed types through a wasm-to-wasm call: more than fit in
;; registers, and every 32-bit kind. Used by the unit test of the raw slot
;; contract (instance.rs) and by runtime_api.rs through `Store::invoke`.
(module
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
    (call $many (local.get 0) (local.get 1) (local.get 2) (local.get 3))))
