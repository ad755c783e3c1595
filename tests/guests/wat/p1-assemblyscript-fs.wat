;; The shape of an AssemblyScript program with its own WASI filesystem bindings: it prints
;; `process.argv` (one per line) as `p1-assemblyscript-args.wat` does (`args_sizes_get`, then
;; its TLSF-like allocator claims all memory up to `memory.size` and writes its bookkeeping at
;; the end of it, then `args_get`), then creates `made-by-assemblyscript.txt` in the first
;; preopen (descriptor 3) with `path_open` and writes one line to it.
;; An errno from any call becomes the exit code.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; Scratch: the two size words at 16 and 20, an iovec at 24, bytes written at 32, the
  ;; opened descriptor at 36.
  (data (i32.const 40) "\n")
  (data (i32.const 48) "made-by-assemblyscript.txt")
  (data (i32.const 80) "written by AssemblyScript\n")
  (global $heap (mut i32) (i32.const 112))
  (global $heap_end (mut i32) (i32.const 0))

  (func $alloc (param $size i32) (result i32)
    (local $ptr i32) (local $end i32)
    (if (i32.eqz (global.get $heap_end))
      (then (global.set $heap_end (i32.shl (memory.size) (i32.const 16)))))
    (local.set $ptr (global.get $heap))
    (local.set $end (i32.and (i32.add (i32.add (local.get $ptr) (local.get $size)) (i32.const 15))
                             (i32.const -16)))
    (if (i32.gt_u (i32.add (local.get $end) (i32.const 16)) (global.get $heap_end))
      (then
        (if (i32.lt_s
              (memory.grow (i32.add (i32.shr_u (i32.sub (local.get $end) (global.get $heap_end))
                                               (i32.const 16))
                                    (i32.const 1)))
              (i32.const 0))
          (then unreachable))
        (global.set $heap_end (i32.shl (memory.size) (i32.const 16)))))
    (global.set $heap (local.get $end))
    (i32.store (i32.sub (global.get $heap_end) (i32.const 4)) (local.get $end))
    (local.get $ptr))

  (func $check (param $errno i32)
    (if (local.get $errno) (then (call $proc_exit (local.get $errno)))))

  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 24) (local.get $ptr))
    (i32.store (i32.const 28) (local.get $len))
    (call $check (call $fd_write (local.get $fd) (i32.const 24) (i32.const 1) (i32.const 32))))

  (func $strlen (param $ptr i32) (result i32)
    (local $len i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $ptr) (local.get $len)))))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $next)))
    (local.get $len))

  (func (export "_start")
    (local $count i32) (local $buf i32) (local $i i32) (local $s i32)
    (call $check (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (local.set $count (i32.load (i32.const 16)))
    (local.set $buf (call $alloc (i32.add (i32.shl (local.get $count) (i32.const 2))
                                          (i32.load (i32.const 20)))))
    (call $check (call $args_get (local.get $buf)
                                 (i32.add (local.get $buf) (i32.shl (local.get $count) (i32.const 2)))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $s (i32.load (i32.add (local.get $buf) (i32.shl (local.get $i) (i32.const 2)))))
        (call $write (i32.const 1) (local.get $s) (call $strlen (local.get $s)))
        (call $write (i32.const 1) (i32.const 40) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    ;; O_CREAT | O_TRUNC (oflags 1 | 8), rights FD_WRITE (1 << 6).
    (call $check (call $path_open (i32.const 3) (i32.const 0) (i32.const 48) (i32.const 26)
                                  (i32.const 9) (i64.const 64) (i64.const 64) (i32.const 0)
                                  (i32.const 36)))
    (call $write (i32.load (i32.const 36)) (i32.const 80) (i32.const 26))
    (call $check (call $fd_close (i32.load (i32.const 36))))))
