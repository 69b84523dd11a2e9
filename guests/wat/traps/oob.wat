;; Trap kind: MemoryOutOfBounds (code 2). `filter` reads an i32 that straddles
;; the end of its one-page (64 KiB) memory: bytes 65534..65538. No guard pages
;; exist in kwasm, so this is caught by the explicit bounds check.
;; expect: trap memory_oob
(module
  (memory 1)
  (func (export "filter") (param $pkt_len i32) (result i32)
    ;; address = 65534 + (pkt_len & 0): not a constant to a naive compiler.
    (i32.load
      (i32.add (i32.const 65534) (i32.and (local.get $pkt_len) (i32.const 0))))
    (drop)
    (i32.const 1)))
