;; events.wat: streams the payload of every UDP/IPv4 datagram (its first 32
;; bytes) to a ring buffer, and accepts every packet.
;;
;; Map 0: ring_buf of 4096 bytes. A record takes a 16-byte header (length
;; and CPU, time) and its data padded to 8 bytes, so a reader that is slow
;; sees the writer drop (and count) whatever does not fit.
;;
;; `emit(n)` writes a record of the first n bytes of "event log line";
;; `say` logs that line (for `kwasm log`); `oob` passes a range outside
;; memory (a trap); `notring` writes to map 1, an array (status -22).
;;
;; The `kwasm.maps` section holds two v2 records (kwasm_abi::maps: the tag
;; 0x4b4d0000 or'ed with the kind; key size; value size; entries):
;; ring_buf (kind 3), 0, 0, 4096 bytes; then array (kind 0), 4, 8, 1.
;;
;; expect: filter 1
(module
  (import "kwasm" "pkt_load" (func $pkt_load (param i32 i32 i32) (result i32)))
  (import "kwasm" "event_output" (func $out (param i32 i32 i32) (result i32)))
  (import "kwasm" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "event log line")

  (func (export "filter") (param $pkt_len i32) (result i32)
    (local $ihl i32) (local $n i32)
    ;; The first 96 bytes of the packet at 0.
    (drop (call $pkt_load (i32.const 0) (i32.const 0) (i32.const 96)))
    (if (i32.ne (i32.shr_u (i32.load8_u (i32.const 0)) (i32.const 4)) (i32.const 4))
      (then (return (i32.const 1))))
    (if (i32.ne (i32.load8_u (i32.const 9)) (i32.const 17))
      (then (return (i32.const 1))))
    (local.set $ihl
      (i32.shl (i32.and (i32.load8_u (i32.const 0)) (i32.const 15)) (i32.const 2)))
    ;; The UDP payload: after the 8-byte UDP header, at most 32 bytes.
    (local.set $n (i32.sub (local.get $pkt_len) (i32.add (local.get $ihl) (i32.const 8))))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 1))))
    (if (i32.gt_s (local.get $n) (i32.const 32)) (then (local.set $n (i32.const 32))))
    (drop (call $out (i32.const 0) (i32.add (local.get $ihl) (i32.const 8)) (local.get $n)))
    (i32.const 1))

  (func (export "emit") (param $n i32) (result i32)
    (call $out (i32.const 0) (i32.const 1024) (local.get $n)))
  (func (export "say")
    (call $log (i32.const 1024) (i32.const 14)))
  (func (export "oob") (result i32)
    (call $out (i32.const 0) (i32.const 65530) (i32.const 16)))
  (func (export "notring") (result i32)
    (call $out (i32.const 1) (i32.const 1024) (i32.const 4)))

  (@custom "kwasm.maps"
    "\03\00\4d\4b\00\00\00\00\00\00\00\00\00\10\00\00"
    "\00\00\4d\4b\04\00\00\00\08\00\00\00\01\00\00\00"))
