;; One `table.grow` of 2^30 `funcref`s: 8 GiB of host memory if it were allowed, none of it
;; linear memory. A wasip1 command that imports nothing (the host adapts it like any module).
(module
  (memory (export "memory") 1)
  (table 0 funcref)
  (func (export "_start")
    (drop (table.grow 0 (ref.null func) (i32.const 0x40000000)))))
