;; Four memories: `memory` (one page) and three that each grow by 48 MiB, so each stays under
;; 64 MiB and together they pass it.
(module
  (memory (export "memory") 1)
  (memory $a 0)
  (memory $b 0)
  (memory $c 0)
  (func (export "_start")
    (if (i32.lt_s (memory.grow $a (i32.const 768)) (i32.const 0)) (then unreachable))
    (if (i32.lt_s (memory.grow $b (i32.const 768)) (i32.const 0)) (then unreachable))
    (if (i32.lt_s (memory.grow $c (i32.const 768)) (i32.const 0)) (then unreachable))))
