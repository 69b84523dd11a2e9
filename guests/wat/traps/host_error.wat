;; Trap kind: HostError (code 11). The program declares one map of 4 entries
;; (custom section `kwasm.maps`) and asks `map_add` for entry 4.
;; expect: trap host_error
(module
  (import "kwasm" "map_add" (func $map_add (param i32 i32 i64) (result i64)))
  (@custom "kwasm.maps" "\04\00\00\00")
  (func (export "filter") (param $pkt_len i32) (result i32)
    (drop (call $map_add (i32.const 0) (i32.const 3) (i64.const 1))) ;; fine
    (drop (call $map_add (i32.const 0) (i32.const 4) (i64.const 1))) ;; traps
    (i32.const 1)))
