;; map_bench.wat: the per-operation cost of map host functions, for
;; `kwasm bench` (in the kernel, and --user in the runner). `filter` runs 64
;; operations of the kind its packet length selects, on keys 0..63, and
;; accepts:
;;   100: pkt_len (the baseline: a host call that does no map work)
;;   101: map_lookup of a present key (hash map 0, 4-byte keys, 8-byte values)
;;   102: map_update, UPDATE_ANY (inserts the first time, replaces after)
;;   103: map_update with UPDATE_NOEXIST then map_delete (insert + delete)
;;   104: event_output of a 16-byte record to ring_buf map 1 (1 MiB); each
;;        call also adds its 64 attempts to array map 2, so a reader can
;;        check that every record was read or counted as dropped
;; The cost of one operation is (mean(mode) - mean(100)) / 64. Keys 0..63
;; are inserted by the first call of mode 101 or 102.
;;
;; The `kwasm.maps` section: hash (kind 2), 4, 8, 1024; ring_buf (kind 3),
;; 0, 0, 1 MiB; array (kind 0), 4, 8, 1.
;;
;; expect: filter 1
(module
  (import "kwasm" "pkt_len" (func $pkt_len (result i32)))
  (import "kwasm" "map_lookup" (func $lookup (param i32 i32 i32) (result i32)))
  (import "kwasm" "map_update" (func $update (param i32 i32 i32 i32) (result i32)))
  (import "kwasm" "map_delete" (func $delete (param i32 i32) (result i32)))
  (import "kwasm" "event_output" (func $out (param i32 i32 i32) (result i32)))
  (import "kwasm" "map_add" (func $map_add (param i32 i32 i64) (result i64)))
  (memory (export "memory") 1)
  (global $filled (mut i32) (i32.const 0))

  (func $fill
    (local $i i32)
    (if (global.get $filled) (then (return)))
    (loop $l
      (i32.store (i32.const 0) (local.get $i))
      (drop (call $update (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 64))))
    (global.set $filled (i32.const 1)))

  (func (export "filter") (param $len i32) (result i32)
    (local $mode i32) (local $i i32)
    (local.set $mode (i32.sub (local.get $len) (i32.const 100)))
    (if (i32.eq (local.get $mode) (i32.const 1)) (then (call $fill)))
    (if (i32.eq (local.get $mode) (i32.const 4))
      (then (drop (call $map_add (i32.const 2) (i32.const 0) (i64.const 64)))))
    (loop $l
      (i32.store (i32.const 0) (local.get $i))
      (block $done
        (if (i32.eq (local.get $mode) (i32.const 0))
          (then (drop (call $pkt_len)) (br $done)))
        (if (i32.eq (local.get $mode) (i32.const 1))
          (then (drop (call $lookup (i32.const 0) (i32.const 0) (i32.const 16))) (br $done)))
        (if (i32.eq (local.get $mode) (i32.const 2))
          (then (drop (call $update (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 0))) (br $done)))
        (if (i32.eq (local.get $mode) (i32.const 3))
          (then
            (i32.store (i32.const 0) (i32.add (local.get $i) (i32.const 1000)))
            (drop (call $update (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 1)))
            (drop (call $delete (i32.const 0) (i32.const 0)))
            (br $done)))
        (if (i32.eq (local.get $mode) (i32.const 4))
          (then (drop (call $out (i32.const 1) (i32.const 16) (i32.const 16))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 64))))
    (i32.const 1))

  (@custom "kwasm.maps"
    "\02\00\4d\4b\04\00\00\00\08\00\00\00\00\04\00\00"
    "\03\00\4d\4b\00\00\00\00\00\00\00\00\00\00\10\00"
    "\00\00\4d\4b\04\00\00\00\08\00\00\00\01\00\00\00"))
