;; The shape of an AssemblyScript program printing `process.argv` and `process.env` (one per
;; line) with the wasi-shim: AssemblyScript exports only `memory` and `_start` (no
;; `cabi_realloc`, no `__heap_base` or `__stack_pointer`), keeps its scratch words in static
;; data, and reads the lists as its `lazyArgv`/`lazyEnv` do: `*_sizes_get` into the scratch
;; words, one block from its own heap allocator for pointers then strings, `*_get` into it.
;; Its allocator, like AssemblyScript's TLSF, takes all of memory as its heap on first use
;; and writes its bookkeeping at the end of it.
;; An errno from any call becomes the exit code.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; Scratch: the two size words at 16 and 20, an iovec at 24, bytes written at 32.
  (data (i32.const 40) "\n")
  ;; The heap starts after the static data, as AssemblyScript's `__heap_base` does.
  (global $heap (mut i32) (i32.const 64))
  ;; 0 until the first allocation, which claims all memory up to `memory.size` (as TLSF's
  ;; `initialize` does), then the end of the claimed memory.
  (global $heap_end (mut i32) (i32.const 0))

  ;; TLSF keeps the free remainder as one block whose last word points back at its start:
  ;; every allocation writes that word at the end of the claimed memory.
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

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 24) (local.get $ptr))
    (i32.store (i32.const 28) (local.get $len))
    (call $check (call $fd_write (i32.const 1) (i32.const 24) (i32.const 1) (i32.const 32))))

  (func $strlen (param $ptr i32) (result i32)
    (local $len i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $ptr) (local.get $len)))))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $next)))
    (local.get $len))

  ;; Prints the `count` strings the pointers at `ptrs` point at, a line each.
  (func $print_all (param $count i32) (param $ptrs i32)
    (local $i i32) (local $s i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $s (i32.load (i32.add (local.get $ptrs) (i32.shl (local.get $i) (i32.const 2)))))
        (call $write (local.get $s) (call $strlen (local.get $s)))
        (call $write (i32.const 40) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  (func (export "_start")
    (local $count i32) (local $buf i32)
    ;; process.argv
    (call $check (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (local.set $count (i32.load (i32.const 16)))
    (local.set $buf (call $alloc (i32.add (i32.shl (local.get $count) (i32.const 2))
                                          (i32.load (i32.const 20)))))
    (call $check (call $args_get (local.get $buf)
                                 (i32.add (local.get $buf) (i32.shl (local.get $count) (i32.const 2)))))
    (call $print_all (local.get $count) (local.get $buf))
    ;; process.env
    (call $check (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (local.set $count (i32.load (i32.const 16)))
    (local.set $buf (call $alloc (i32.add (i32.shl (local.get $count) (i32.const 2))
                                          (i32.load (i32.const 20)))))
    (call $check (call $environ_get (local.get $buf)
                                    (i32.add (local.get $buf) (i32.shl (local.get $count) (i32.const 2)))))
    (call $print_all (local.get $count) (local.get $buf))))
