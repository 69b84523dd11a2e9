;; Trap kind: UndefinedElement (code 12). `call_indirect` with index 7 into a
;; 2-element table.
;; expect: trap undefined_element
(module
  (type $ret_i32 (func (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $one $one)
  (func $one (result i32) (i32.const 1))
  (func (export "filter") (param $pkt_len i32) (result i32)
    (call_indirect (type $ret_i32)
      (i32.or (i32.const 7) (i32.and (local.get $pkt_len) (i32.const 0))))))
