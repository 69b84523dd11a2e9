;; Trap kind: BadSignature (code 5). `call_indirect` expects `() -> i32` but
;; table slot 0 holds a `(i32) -> i32` function.
;; expect: trap bad_signature
(module
  (type $ret_i32 (func (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $inc)
  (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "filter") (param $pkt_len i32) (result i32)
    (call_indirect (type $ret_i32)
      (i32.and (local.get $pkt_len) (i32.const 0)))))
