;; Opens (creating it) the file `f` in the first preopen 500 times without closing it: 500
;; descriptors held at once. An errno from any call becomes the exit code.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "f")
  (func (export "_start")
    (local $i i32) (local $errno i32)
    (loop $next
      ;; O_CREAT, rights FD_READ | FD_WRITE; the descriptor goes to 32.
      (local.set $errno (call $path_open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 1)
                                         (i32.const 1) (i64.const 66) (i64.const 66) (i32.const 0)
                                         (i32.const 32)))
      (if (local.get $errno) (then (call $proc_exit (local.get $errno))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 500))))))
