;; accept.wat: accepts every packet and does nothing else: the `accept`
;; filter of `kwasm bench` (the cost of calling a program at all), beside
;; guests/bench/bpf/accept.bpf.c and kwasm_native.ko's filter `accept`.
;;
;; expect: filter 1
(module
  ;; Netfilter entry point: 1 = NF_ACCEPT.
  (func (export "filter") (param $pkt_len i32) (result i32)
    (i32.const 1)))
