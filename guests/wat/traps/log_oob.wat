;; A host import given a buffer outside linear memory: `kwasm.log` with a range
;; that runs past the end of the single page traps with MemoryOutOfBounds
;; (code 2), raised by the host function rather than by generated code.
;; expect: trap memory_oob
(module
  (import "kwasm" "log" (func $log (param i32 i32)))
  (memory 1)
  (func (export "filter") (param $pkt_len i32) (result i32)
    (call $log (i32.const 65530) (i32.const 16))
    (i32.const 1)))
