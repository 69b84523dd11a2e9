;; Trap kind: OutOfFuel (code 10). Loops on a host call that moves bytes:
;; `pkt_load` of up to 1 MiB. A host call costs a fixed part plus one unit
;; per 16 bytes of its length argument, whatever the packet's length.
;; expect: trap out_of_fuel
(module
  (import "kwasm" "pkt_load" (func $pkt_load (param i32 i32 i32) (result i32)))
  (memory 16 16)
  (func (export "filter") (param $pkt_len i32) (result i32)
    (loop $forever
      (drop (call $pkt_load (i32.const 0) (i32.const 16) (i32.const 0xffff0)))
      (br $forever))
    (i32.const 1)))
