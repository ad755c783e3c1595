;; Hostile arguments to the filesystem: `path_open` on the first preopen with a path running
;; past the end of memory (wasmtime fails the run), then, if that returned, exits with its errno.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $proc_exit (call $path_open (i32.const 3) (i32.const 0) (i32.const 65500) (i32.const 100)
                                      (i32.const 0) (i64.const 2) (i64.const 2) (i32.const 0)
                                      (i32.const 32)))))
