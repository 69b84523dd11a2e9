;; compute.wat: pure compute functions for comparing results across runtimes
;; (kernel vs `kwasm run` vs Wasmtime). No host imports. Uses integers, floats,
;; memory (loads/stores, a data segment, bulk memory), globals, direct and
;; indirect calls, sign-extension, saturating conversions and multi-value.
;;
;;   kwasm run compute.kw --invoke fib 50            -> 12586269025
;;   kwasm run compute.kw --invoke fib_rec 20        -> 6765
;;   kwasm run compute.kw --invoke fsum 1.5 2.25     -> 3.75
;;   kwasm run compute.kw --invoke fpoly 2.0         -> 40.41421356237309
;;   kwasm run compute.kw --invoke fmix32 3.0        -> 1.25
;;   kwasm run compute.kw --invoke mem_sum 16        -> 1360
;;   kwasm run compute.kw --invoke dispatch 2 12     -> 144
;;   kwasm run compute.kw --invoke sext 0x80         -> -128
;;   kwasm run compute.kw --invoke sat 1e300         -> 2147483647
;;   kwasm run compute.kw --invoke divmod 17 5       -> 3 2
;;   kwasm run compute.kw --invoke bulk 7            -> 2042
;;   kwasm run compute.kw --invoke checksum 256 64   -> 45050
;;   kwasm run compute.kw --invoke collatz 27        -> 111
;;   kwasm run compute.kw --invoke counter           -> 1 (then 2, 3, ...)
;;   kwasm run compute.kw --invoke i64ops 12345 678  -> 59373729030405
;;   kwasm run compute.kw --invoke filter 0          -> 1
;;
;; Float results avoid NaN (NaN bit patterns may legitimately differ between
;; runtimes). The values above were checked against V8 (tools/kwasm-node.mjs)
;; and a Python model. `dispatch` with an op outside 0..=3 traps (undefined element);
;; `mem_sum`/`checksum` past the end of memory trap (out of bounds).
(module
  (type $unop (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $counter (mut i32) (i32.const 0))
  (table 4 funcref)
  (elem (i32.const 0) $add1 $double $square $negate)

  ;; 16 little-endian i32 words at 256: 10, 20, ..., 160 (sum 1360).
  (data (i32.const 256)
    "\0a\00\00\00\14\00\00\00\1e\00\00\00\28\00\00\00"
    "\32\00\00\00\3c\00\00\00\46\00\00\00\50\00\00\00"
    "\5a\00\00\00\64\00\00\00\6e\00\00\00\78\00\00\00"
    "\82\00\00\00\8c\00\00\00\96\00\00\00\a0\00\00\00")

  ;; Iterative Fibonacci, wrapping on overflow: fib(0)=0, fib(1)=1.
  (func (export "fib") (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $t i64)
    (local.set $b (i64.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
        (local.set $t (i64.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $a))

  ;; Recursive Fibonacci (many direct calls).
  (func $fib_rec (export "fib_rec") (param $n i32) (result i32)
    (if (result i32) (i32.lt_s (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fib_rec (i32.sub (local.get $n) (i32.const 1)))
          (call $fib_rec (i32.sub (local.get $n) (i32.const 2)))))))

  (func (export "fsum") (param $a f64) (param $b f64) (result f64)
    (f64.add (local.get $a) (local.get $b)))

  ;; (x^3 + 4x^2 - 2x + sqrt(x) + floor(x/3) + min(x, 1) + |copysign(x, -1)|) * 1 + 16
  ;; fpoly(2) = 8 + 16 - 4 + 1.4142135623730951 + 0 + 1 + 2 + 16 = 40.41421356237309
  (func (export "fpoly") (param $x f64) (result f64)
    (f64.add
      (f64.mul
        (f64.add
          (f64.add
            (f64.add
              (f64.add
                (f64.mul (f64.mul (local.get $x) (local.get $x)) (local.get $x))
                (f64.sub
                  (f64.mul (f64.const 4) (f64.mul (local.get $x) (local.get $x)))
                  (f64.mul (f64.const 2) (local.get $x))))
              (f64.sqrt (local.get $x)))
            (f64.add
              (f64.floor (f64.div (local.get $x) (f64.const 3)))
              (f64.min (local.get $x) (f64.const 1))))
          (f64.abs (f64.copysign (local.get $x) (f64.const -1))))
        (f64.const 1))
      (f64.const 16)))

  ;; f32 arithmetic and f32<->f64 conversion: demote(promote(x / 4) + nearest(x * 0.1)) + 0.5.
  ;; fmix32(3) = 0.75 + nearest(0.3) + 0.5 = 0.75 + 0 + 0.5 = 1.25
  (func (export "fmix32") (param $x f32) (result f32)
    (f32.add
      (f32.demote_f64
        (f64.add
          (f64.promote_f32 (f32.div (local.get $x) (f32.const 4)))
          (f64.nearest (f64.mul (f64.promote_f32 (local.get $x)) (f64.const 0.1)))))
      (f32.const 0.5)))

  ;; Sum of the first n i32 words from address 256.
  (func (export "mem_sum") (param $n i32) (result i32)
    (local $p i32) (local $s i32)
    (local.set $p (i32.const 256))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $s (i32.add (local.get $s) (i32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $s))

  (func $add1 (type $unop) (i32.add (local.get 0) (i32.const 1)))
  (func $double (type $unop) (i32.shl (local.get 0) (i32.const 1)))
  (func $square (type $unop) (i32.mul (local.get 0) (local.get 0)))
  (func $negate (type $unop) (i32.sub (i32.const 0) (local.get 0)))

  ;; op 0: x+1, 1: 2x, 2: x*x, 3: -x, via call_indirect.
  (func (export "dispatch") (param $op i32) (param $x i32) (result i32)
    (call_indirect (type $unop) (local.get $x) (local.get $op)))

  ;; Sign-extension operators: extend8_s(x) as i64, plus
  ;; (extend16_s(x) - extend16_s(x)) + (i64.extend32_s(x) - i64.extend_i32_s(x)) = 0.
  (func (export "sext") (param $x i32) (result i64)
    (i64.add
      (i64.extend8_s (i64.extend_i32_u (local.get $x)))
      (i64.add
        (i64.extend_i32_s
          (i32.sub (i32.extend16_s (local.get $x)) (i32.extend16_s (local.get $x))))
        (i64.sub
          (i64.extend32_s (i64.extend_i32_u (local.get $x)))
          (i64.extend_i32_s (local.get $x))))))

  ;; Saturating float->int conversion (never traps).
  (func (export "sat") (param $x f64) (result i32)
    (i32.trunc_sat_f64_s (local.get $x)))

  ;; Multi-value: quotient and remainder (unsigned). b = 0 traps.
  (func (export "divmod") (param $a i32) (param $b i32) (result i32 i32)
    (i32.div_u (local.get $a) (local.get $b))
    (i32.rem_u (local.get $a) (local.get $b)))

  ;; Bulk memory: fill 1024..+64 with n, copy 32 of those bytes to 2048, fill
  ;; 2080..+32 with 2n, copy the data segment's 64 bytes to 2112, then copy
  ;; 2112..+64 two bytes forward (overlapping: memmove semantics), and sum the
  ;; 130 bytes at 2048..2178. bulk(7) = 32*7 + 32*14 + 1360 + 10 (the first word's
  ;; low byte survives twice in the overlap) = 2042.
  (func (export "bulk") (param $n i32) (result i32)
    (local $i i32) (local $s i32)
    (memory.fill (i32.const 1024) (local.get $n) (i32.const 64))
    (memory.copy (i32.const 2048) (i32.const 1024) (i32.const 32))
    (memory.fill (i32.const 2080) (i32.shl (local.get $n) (i32.const 1)) (i32.const 32))
    (memory.copy (i32.const 2112) (i32.const 256) (i32.const 64))
    (memory.copy (i32.const 2114) (i32.const 2112) (i32.const 64))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 130)))
        (local.set $s
          (i32.add (local.get $s) (i32.load8_u offset=2048 (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $s))

  ;; Internet checksum (RFC 1071) of len bytes at off, big-endian words.
  (func (export "checksum") (param $off i32) (param $len i32) (result i32)
    (local $sum i32)
    (block $done
      (loop $next
        (br_if $done (i32.lt_u (local.get $len) (i32.const 2)))
        (local.set $sum
          (i32.add (local.get $sum)
            (i32.or
              (i32.shl (i32.load8_u (local.get $off)) (i32.const 8))
              (i32.load8_u offset=1 (local.get $off)))))
        (local.set $off (i32.add (local.get $off) (i32.const 2)))
        (local.set $len (i32.sub (local.get $len) (i32.const 2)))
        (br $next)))
    (if (local.get $len)
      (then
        (local.set $sum
          (i32.add (local.get $sum)
            (i32.shl (i32.load8_u (local.get $off)) (i32.const 8))))))
    (local.set $sum
      (i32.add (i32.and (local.get $sum) (i32.const 0xffff))
               (i32.shr_u (local.get $sum) (i32.const 16))))
    (local.set $sum
      (i32.add (i32.and (local.get $sum) (i32.const 0xffff))
               (i32.shr_u (local.get $sum) (i32.const 16))))
    (i32.xor (local.get $sum) (i32.const 0xffff)))

  ;; Collatz steps to reach 1 (i64 arithmetic, br_if/select).
  (func (export "collatz") (param $n i64) (result i32)
    (local $steps i32)
    (block $done
      (loop $next
        (br_if $done (i64.le_u (local.get $n) (i64.const 1)))
        (local.set $n
          (select
            (i64.add (i64.mul (local.get $n) (i64.const 3)) (i64.const 1))
            (i64.shr_u (local.get $n) (i64.const 1))
            (i32.wrap_i64 (i64.and (local.get $n) (i64.const 1)))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br $next)))
    (local.get $steps))

  ;; A mutable global: 1, 2, 3, ... per instance.
  (func (export "counter") (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (global.get $counter))

  ;; Assorted i64 operators:
  ;; rotl(a, 13) ^ (clz(b) << 40) + popcnt(a*b) + a/b (unsigned) + a%b (signed) + (b >> 3)
  (func (export "i64ops") (param $a i64) (param $b i64) (result i64)
    (i64.add
      (i64.add
        (i64.xor
          (i64.rotl (local.get $a) (i64.const 13))
          (i64.shl (i64.clz (local.get $b)) (i64.const 40)))
        (i64.popcnt (i64.mul (local.get $a) (local.get $b))))
      (i64.add
        (i64.add (i64.div_u (local.get $a) (local.get $b))
                 (i64.rem_s (local.get $a) (local.get $b)))
        (i64.shr_s (local.get $b) (i64.const 3)))))

  ;; So that the module also loads as a netfilter program: accept.
  (func (export "filter") (param $pkt_len i32) (result i32)
    (i32.const 1)))
