;; An exception that no handler catches leaves _start: shoal must report it
;; as a trap (exit status 134), after what was written before it.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (tag $boom (param i32))
  (data (i32.const 100) "before the throw\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 17))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (throw $boom (i32.const 1))))
