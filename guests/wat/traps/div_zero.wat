;; Trap kind: IntegerDivisionByZero (code 7). `filter` divides by
;; `pkt_len & 0`, i.e. by zero whatever the packet length.
;; expect: trap div_by_zero
(module
  (func (export "filter") (param $pkt_len i32) (result i32)
    (i32.div_u
      (i32.const 100)
      (i32.and (local.get $pkt_len) (i32.const 0)))))
