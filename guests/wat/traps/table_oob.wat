;; Trap kind: TableOutOfBounds (code 3). `filter` reads table element 2 of a
;; 2-element table with `table.get` (reference-types).
;; expect: trap table_oob
(module
  (table $t 2 funcref)
  (func (export "filter") (param $pkt_len i32) (result i32)
    (drop (table.get $t (i32.add (i32.const 2) (i32.and (local.get $pkt_len) (i32.const 0)))))
    (i32.const 1)))
