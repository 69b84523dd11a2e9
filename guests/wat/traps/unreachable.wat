;; Trap kind: Unreachable (code 1). `filter` executes `unreachable`.
;; expect: trap unreachable
(module
  (func (export "filter") (param $pkt_len i32) (result i32)
    (if (i32.ge_s (local.get $pkt_len) (i32.const -1))
      (then (unreachable)))
    (i32.const 1)))
