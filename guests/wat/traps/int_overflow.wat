;; Trap kind: IntegerOverflow (code 6). `i32.div_s` of INT_MIN by -1.
;; (`i32.rem_s` of the same operands is 0 and does not trap.)
;; expect: trap int_overflow
(module
  (func (export "filter") (param $pkt_len i32) (result i32)
    (drop (i32.rem_s (i32.const 0x80000000) (i32.const -1)))
    (i32.div_s
      (i32.const 0x80000000)
      (i32.or (i32.const -1) (local.get $pkt_len)))))
