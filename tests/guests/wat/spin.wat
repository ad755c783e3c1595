;; A loop that never ends and calls nothing: only the wall clock or fuel stops it.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever (br $forever))))
