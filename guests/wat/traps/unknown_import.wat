;; Rejected at compile time: imports a function the host does not provide.
;; expect: compile error (unknown import kwasm.open)
(module
  (import "kwasm" "open" (func $open (param i32 i32) (result i32)))
  (func (export "filter") (param $pkt_len i32) (result i32)
    (drop (call $open (i32.const 0) (i32.const 0)))
    (i32.const 1)))
