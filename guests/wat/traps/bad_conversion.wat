;; Trap kind: BadConversionToInteger (code 8). `i32.trunc_f64_s` of NaN (the
;; non-saturating conversion; the `_sat` form would give 0). Uses floats, so
;; the kernel runs it inside kernel_fpu_begin/end.
;; expect: trap bad_conversion
(module
  (func (export "filter") (param $pkt_len i32) (result i32)
    (i32.trunc_f64_s
      (f64.div (f64.convert_i32_s (i32.and (local.get $pkt_len) (i32.const 0)))
               (f64.const 0)))))
