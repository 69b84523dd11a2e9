;; References at the /dev/kwasm boundary (DESIGN decision 11). `callref`
;; stores its funcref argument in a table and calls through it, so a forged
;; "reference" from INVOKE would be a jump to an address of the caller's
;; choosing; the kernel must accept only null there. `getref` returns a
;; funcref, which is a kernel address inside the instance; the kernel must
;; hand out only "non-null", never the address. A netfilter program all the
;; same: `filter` accepts everything.
(module
  (type $v (func))
  (table 1 funcref)
  (func $nop)
  (elem declare func $nop)
  (func (export "callref") (param funcref)
    (table.set 0 (i32.const 0) (local.get 0))
    (call_indirect (type $v) (i32.const 0)))
  (func (export "getref") (result funcref)
    (ref.func $nop))
  (func (export "nullref") (result funcref)
    (ref.null func))
  (func (export "filter") (param $pkt_len i32) (result i32)
    (i32.const 1)))
