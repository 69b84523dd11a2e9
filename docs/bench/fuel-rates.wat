(module
  (memory 256 256)
  (table 65536 65536 funcref)
  (func $id (param i32) (result i32) (local.get 0))
  (type $t (func (param i32) (result i32)))
  (elem (i32.const 0) func $id)
  ;; arithmetic only
  (func (export "alu") (result i32) (local $x i32)
    (loop $l
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245)) (i32.const 12345)))
      (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 7))))
      (br $l))
    (local.get $x))
  ;; dependent loads at pseudo-random addresses over 16 MiB: every load misses
  (func (export "chase") (result i32) (local $p i32)
    (memory.fill (i32.const 0) (i32.const 7) (i32.const 0x1000000))
    (loop $l
      (local.set $p (i32.and
        (i32.add (i32.mul (i32.add (i32.load (local.get $p)) (local.get $p)) (i32.const 0x9E3779B1)) (i32.const 0x1234567))
        (i32.const 0xfffffc)))
      (br $l))
    (local.get $p))
  ;; 64-bit division chain
  (func (export "div") (result i64) (local $x i64)
    (local.set $x (i64.const -1))
    (loop $l
      (local.set $x (i64.add (i64.div_u (i64.const -1) (i64.or (local.get $x) (i64.const 3))) (local.get $x)))
      (br $l))
    (local.get $x))
  ;; calls
  (func (export "calls") (result i32) (local $x i32)
    (loop $l
      (local.set $x (call_indirect (type $t) (local.get $x) (i32.const 0)))
      (local.set $x (call $id (local.get $x)))
      (br $l))
    (local.get $x))
  ;; bulk
  (func (export "fill") 
    (loop $l (memory.fill (i32.const 0) (i32.const 1) (i32.const 0x1000000)) (br $l)))
  (func (export "copy") 
    (loop $l (memory.copy (i32.const 1) (i32.const 0) (i32.const 0xffffff)) (br $l)))
  (func (export "tfill") 
    (loop $l (table.fill (i32.const 0) (ref.null func) (i32.const 65536)) (br $l)))
  (func (export "empty")))
