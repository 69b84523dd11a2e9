;; Trap kind: OutOfFuel (code 10). Loops on an overlapping memory.copy of
;; almost 1 MiB; charged per 16 bytes like memory.fill.
;; expect: trap out_of_fuel
(module
  (memory 16 16)
  (func (export "filter") (param $pkt_len i32) (result i32)
    (loop $forever
      (memory.copy (i32.const 1) (i32.const 0) (i32.const 0xfffff))
      (br $forever))
    (i32.const 1)))
