;; Logs 16 lines for every packet: with one rate limit for everything, it
;; would use up the kernel log's budget and hide other programs' trap
;; reports. Each program has its own limit, so it cannot.
(module
  (import "kwasm" "log" (func $log (param i32 i32)))
  (memory 1)
  (data (i32.const 0) "chatty: a packet")
  (func (export "filter") (param $pkt_len i32) (result i32)
    (local $i i32)
    (loop $more
      (call $log (i32.const 0) (i32.const 16))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 16))))
    (i32.const 1)))
