;; hello.wat: the seeds' "hello, world", as a kwasm program.
;;
;; `run` (also exported as `main`) logs through `env._debug`, the seeds'
;; logging import (an alias of `kwasm.log`); `filter` logs through `kwasm.log`
;; and accepts the packet.
;;
;;   kwasmc compile hello.wat -o hello.kw
;;   kwasm run hello.kw --invoke run          ; stderr: hello, world  -> 0
;;   kwasm run hello.kw --invoke filter 0     ; stderr: hello, world  -> 1
;;
;; expect: run 0, filter 1, log "hello, world"
(module
  (import "env" "_debug" (func $debug (param i32 i32)))
  (import "kwasm" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, world")

  (func $run (export "run") (result i32)
    (call $debug (i32.const 16) (i32.const 12))
    (i32.const 0))
  (export "main" (func $run))

  ;; Netfilter entry point: 1 = NF_ACCEPT.
  (func (export "filter") (param $pkt_len i32) (result i32)
    (call $log (i32.const 16) (i32.const 12))
    (i32.const 1)))
