;; A wasip1 command calling `fd_write` on descriptor 99 (never opened) and, with any argument,
;; `sock_shutdown` on it instead; it exits with the errno it got (`EBADF` is 8 under
;; `wasmtime run`), or 0 if the call succeeded. It imports `fd_prestat_get`, as every wasi-libc
;; program does, so the cloud world runs it over its filesystem (through the preview1 adapter)
;; rather than with wasmtime's own p1.
(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown" (func $sock_shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; The iovec at 16 points at "lost\n" at 32; the count of bytes written goes to 24.
  (data (i32.const 16) "\20\00\00\00\05\00\00\00")
  (data (i32.const 32) "lost\n")
  (func (export "_start")
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (if (i32.gt_u (i32.load (i32.const 0)) (i32.const 1))
      (then
        ;; SDFLAGS_WR
        (call $proc_exit (call $sock_shutdown (i32.const 99) (i32.const 2)))))
    (call $proc_exit
      (call $fd_write (i32.const 99) (i32.const 16) (i32.const 1) (i32.const 24)))))
