;; hash.wat: counts UDP/IPv4 packets and bytes per destination port in a
;; hash map, and accepts every packet.
;;
;; Map 0: hash, 4-byte key (the destination port as a little-endian u32),
;; 16-byte value (packets, bytes: two u64), at most 4 keys. Each packet is
;; one `map_update(.., UPDATE_ADD)`, which inserts or adds under the map's
;; lock, so CPUs never lose an increment.
;; Map 1: array of 2: [0] packets whose insert was refused because map 0
;; was full (status -7), [1] any other nonzero status.
;;
;; `put`, `get`, `bytes` and `del` reach map 0 from wasm (for INVOKE and
;; the runner's tests); `oob` passes a value range outside memory (a trap);
;; `nomap` names a map that does not exist (status -22).
;;
;; The `kwasm.maps` section holds two v2 records (kwasm_abi::maps: the tag
;; 0x4b4d0000 or'ed with the kind; key size; value size; entries):
;; hash (kind 2), 4, 16, 4; then array (kind 0), 4, 8, 2.
;;
;; expect: filter 1
(module
  (import "kwasm" "pkt_load" (func $pkt_load (param i32 i32 i32) (result i32)))
  (import "kwasm" "map_lookup" (func $lookup (param i32 i32 i32) (result i32)))
  (import "kwasm" "map_update" (func $update (param i32 i32 i32 i32) (result i32)))
  (import "kwasm" "map_delete" (func $delete (param i32 i32) (result i32)))
  (import "kwasm" "map_add" (func $map_add (param i32 i32 i64) (result i64)))
  (memory (export "memory") 1)

  (func (export "filter") (param $pkt_len i32) (result i32)
    (local $ihl i32) (local $st i32)
    ;; The first 64 bytes of the packet at 64.
    (drop (call $pkt_load (i32.const 0) (i32.const 64) (i32.const 64)))
    ;; IPv4 (version 4) carrying UDP (protocol 17), else not counted.
    (if (i32.ne (i32.shr_u (i32.load8_u (i32.const 64)) (i32.const 4)) (i32.const 4))
      (then (return (i32.const 1))))
    (if (i32.ne (i32.load8_u (i32.const 73)) (i32.const 17))
      (then (return (i32.const 1))))
    (local.set $ihl
      (i32.shl (i32.and (i32.load8_u (i32.const 64)) (i32.const 15)) (i32.const 2)))
    ;; Key: the destination port, big-endian at IHL + 2 in the packet.
    (i32.store (i32.const 0)
      (i32.or
        (i32.shl (i32.load8_u offset=66 (local.get $ihl)) (i32.const 8))
        (i32.load8_u offset=67 (local.get $ihl))))
    ;; Value: one packet of pkt_len bytes, added.
    (i64.store (i32.const 16) (i64.const 1))
    (i64.store (i32.const 24) (i64.extend_i32_u (local.get $pkt_len)))
    (local.set $st (call $update (i32.const 0) (i32.const 0) (i32.const 16) (i32.const 4)))
    (if (i32.eq (local.get $st) (i32.const -7))
      (then (drop (call $map_add (i32.const 1) (i32.const 0) (i64.const 1))))
      (else (if (local.get $st)
        (then (drop (call $map_add (i32.const 1) (i32.const 1) (i64.const 1)))))))
    (i32.const 1))

  ;; Sets key $k to ($packets, 0) with update flags $flags: the status.
  (func (export "put") (param $k i32) (param $packets i32) (param $flags i32) (result i32)
    (i32.store (i32.const 0) (local.get $k))
    (i64.store (i32.const 16) (i64.extend_i32_s (local.get $packets)))
    (i64.store (i32.const 24) (i64.const 0))
    (call $update (i32.const 0) (i32.const 0) (i32.const 16) (local.get $flags)))

  ;; Word $w of key $k's value, or the status (negative) when the lookup
  ;; fails.
  (func $word (param $k i32) (param $w i32) (result i64)
    (local $st i32)
    (i32.store (i32.const 0) (local.get $k))
    (local.set $st (call $lookup (i32.const 0) (i32.const 0) (i32.const 16)))
    (if (result i64) (local.get $st)
      (then (i64.extend_i32_s (local.get $st)))
      (else (i64.load offset=16 (i32.shl (local.get $w) (i32.const 3))))))
  (func (export "get") (param $k i32) (result i64)
    (call $word (local.get $k) (i32.const 0)))
  (func (export "bytes") (param $k i32) (result i64)
    (call $word (local.get $k) (i32.const 1)))

  (func (export "del") (param $k i32) (result i32)
    (i32.store (i32.const 0) (local.get $k))
    (call $delete (i32.const 0) (i32.const 0)))

  (func (export "oob") (result i32)
    (call $lookup (i32.const 0) (i32.const 0) (i32.const 65528)))

  (func (export "nomap") (result i32)
    (call $lookup (i32.const 5) (i32.const 0) (i32.const 16)))

  (@custom "kwasm.maps"
    "\02\00\4d\4b\04\00\00\00\10\00\00\00\04\00\00\00"
    "\00\00\4d\4b\04\00\00\00\08\00\00\00\02\00\00\00"))
