;; Trap kind: OutOfFuel (code 10). Loops on table.fill and table.copy over
;; 65536 elements; table operations are charged per 2 elements.
;; expect: trap out_of_fuel
(module
  (table 65536 65536 funcref)
  (func (export "filter") (param $pkt_len i32) (result i32)
    (loop $forever
      (table.fill (i32.const 0) (ref.null func) (i32.const 65536))
      (table.copy (i32.const 1) (i32.const 0) (i32.const 65535))
      (br $forever))
    (i32.const 1)))
