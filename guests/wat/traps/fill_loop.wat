;; Trap kind: OutOfFuel (code 10). Loops on memory.fill of 1 MiB. Fuel is
;; charged per 16 bytes touched (abi/src/fuel.rs), so the default fuel ends
;; the invocation after about 30 MiB of memset, not after 2 million
;; iterations (2 TiB) as when each fill cost one unit.
;; expect: trap out_of_fuel
(module
  (memory 16 16)
  (func (export "filter") (param $pkt_len i32) (result i32)
    (loop $forever
      (memory.fill (i32.const 0) (i32.const 0x55) (i32.const 0x100000))
      (br $forever))
    (i32.const 1)))
