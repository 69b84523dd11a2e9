;; Trap kind: OutOfFuel (code 10). An endless loop; fuel is charged at every
;; loop header, so the runtime stops it.
;; expect: trap out_of_fuel
(module
  (global $spins (mut i64) (i64.const 0))
  (func (export "filter") (param $pkt_len i32) (result i32)
    (loop $forever
      (global.set $spins (i64.add (global.get $spins) (i64.const 1)))
      (br $forever))
    (i32.const 1)))
