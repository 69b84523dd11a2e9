;; Trap kind: IndirectCallToNull (code 4). `call_indirect` through table slot 1,
;; which no element segment initialises.
;; expect: trap null_call
(module
  (type $ret_i32 (func (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $one)
  (func $one (result i32) (i32.const 1))
  (func (export "filter") (param $pkt_len i32) (result i32)
    (call_indirect (type $ret_i32)
      (i32.add (i32.const 1) (i32.and (local.get $pkt_len) (i32.const 0))))))
