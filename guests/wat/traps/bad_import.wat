;; Rejected at compile time: imports `kwasm.log` with the wrong signature
;; (`(i64)` instead of `(i32 i32)`). kwasmc must refuse it (and the kernel
;; must refuse such a .kw if one is forged), naming the import.
;; expect: compile error (import kwasm.log signature)
(module
  (import "kwasm" "log" (func $log (param i64)))
  (func (export "filter") (param $pkt_len i32) (result i32)
    (call $log (i64.const 42))
    (i32.const 1)))
