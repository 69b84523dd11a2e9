;; Trap kind: StackOverflow (code 9). Unbounded, non-tail recursion; every
;; frame keeps a few values alive across the call so it spills and the wasm
;; stack runs out well before fuel does.
;; expect: trap stack_overflow
(module
  (func $deep (param $n i64) (result i64)
    (local $a i64) (local $b i64) (local $c i64) (local $d i64)
    (local.set $a (i64.mul (local.get $n) (i64.const 3)))
    (local.set $b (i64.xor (local.get $n) (i64.const 0x55)))
    (local.set $c (i64.add (local.get $a) (local.get $b)))
    (local.set $d (i64.sub (local.get $c) (local.get $n)))
    (i64.add
      (call $deep (i64.add (local.get $n) (i64.const 1)))
      (i64.add (i64.add (local.get $a) (local.get $b))
               (i64.add (local.get $c) (local.get $d)))))
  (func (export "filter") (param $pkt_len i32) (result i32)
    (i32.wrap_i64 (call $deep (i64.extend_i32_u (local.get $pkt_len))))))
