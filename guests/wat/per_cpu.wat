;; per_cpu.wat: counts packets per CPU in a per_cpu_array (map 0, entry 0)
;; and in all in a shared array (map 1, entry 0), and accepts every packet.
;; The sum of map 0's copies equals map 1. `get` and `set` reach either map
;; from wasm: on a per_cpu_array, the calling CPU's copy.
;;
;; The `kwasm.maps` section holds a v2 record (kwasm_abi::maps: the tag
;; 0x4b4d0000 or'ed with kind 1, per_cpu_array; 4-byte keys; 8-byte values;
;; 2 entries), then a v1 record (an array of 1 entry).
;;
;; expect: filter 1
(module
  (import "kwasm" "map_add" (func $map_add (param i32 i32 i64) (result i64)))
  (import "kwasm" "map_get" (func $map_get (param i32 i32) (result i64)))
  (import "kwasm" "map_set" (func $map_set (param i32 i32 i64)))
  (func (export "filter") (param $pkt_len i32) (result i32)
    (drop (call $map_add (i32.const 0) (i32.const 0) (i64.const 1)))
    (drop (call $map_add (i32.const 1) (i32.const 0) (i64.const 1)))
    (i32.const 1))
  (func (export "get") (param $map i32) (param $idx i32) (result i64)
    (call $map_get (local.get $map) (local.get $idx)))
  (func (export "set") (param $map i32) (param $idx i32) (param $v i64)
    (call $map_set (local.get $map) (local.get $idx) (local.get $v)))
  (@custom "kwasm.maps"
    "\01\00\4d\4b\04\00\00\00\08\00\00\00\02\00\00\00"
    "\01\00\00\00"))
