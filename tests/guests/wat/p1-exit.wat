;; A wasip1 command calling `proc_exit(33)`; `wasmtime run` passes codes below 126 through.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $proc_exit (i32.const 33))))
