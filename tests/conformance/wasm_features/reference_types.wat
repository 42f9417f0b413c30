;; Reference types: funcref tables written and read at run time (table.set,
;; table.get, ref.func, ref.is_null, table.grow, table.size, table.fill), an
;; externref table, and call_indirect through a second table. Prints one line
;; through WASI fd_write and exits with proc_exit(0).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)

  (table $funcs 2 funcref)
  (table $externs 3 externref)
  (type $to_i32 (func (result i32)))
  (func $seven (result i32) (i32.const 7))
  (func $eleven (result i32) (i32.const 11))
  (elem declare func $seven $eleven)

  ;; The output line is built at offset 100; $len is its length so far.
  (global $len (mut i32) (i32.const 0))
  (func $put_char (param $c i32)
    (i32.store8 (i32.add (i32.const 100) (global.get $len)) (local.get $c))
    (global.set $len (i32.add (global.get $len) (i32.const 1))))
  ;; Appends a space and the decimal digits of a non-negative number.
  (func $put_num (param $n i32)
    (local $div i32)
    (call $put_char (i32.const 32))
    (local.set $div (i32.const 1))
    (block $done
      (loop $find
        (br_if $done (i32.lt_u (i32.div_u (local.get $n) (local.get $div)) (i32.const 10)))
        (local.set $div (i32.mul (local.get $div) (i32.const 10)))
        (br $find)))
    (loop $digits
      (call $put_char (i32.add (i32.const 48)
        (i32.rem_u (i32.div_u (local.get $n) (local.get $div)) (i32.const 10))))
      (local.set $div (i32.div_u (local.get $div) (i32.const 10)))
      (br_if $digits (local.get $div))))

  (func (export "_start")
    (local $old_size i32)
    ;; "refs"
    (call $put_char (i32.const 114)) (call $put_char (i32.const 101))
    (call $put_char (i32.const 102)) (call $put_char (i32.const 115))
    ;; An empty slot is null; a set slot is not, and can be called.
    (call $put_num (ref.is_null (table.get $funcs (i32.const 1))))
    (table.set $funcs (i32.const 1) (ref.func $eleven))
    (call $put_num (ref.is_null (table.get $funcs (i32.const 1))))
    (call $put_num (call_indirect $funcs (type $to_i32) (i32.const 1)))
    ;; Growing by 3 with $seven returns the old size; the new slots hold it.
    (local.set $old_size (table.grow $funcs (ref.func $seven) (i32.const 3)))
    (call $put_num (local.get $old_size))
    (call $put_num (table.size $funcs))
    (call $put_num (call_indirect $funcs (type $to_i32) (i32.const 4)))
    ;; table.fill overwrites a range.
    (table.fill $funcs (i32.const 2) (ref.func $eleven) (i32.const 3))
    (call $put_num (call_indirect $funcs (type $to_i32) (i32.const 4)))
    ;; externref: null everywhere until set; copied within the table.
    (call $put_num (ref.is_null (table.get $externs (i32.const 2))))
    (table.set $externs (i32.const 0) (ref.null extern))
    (table.copy $externs $externs (i32.const 1) (i32.const 0) (i32.const 2))
    (call $put_num (table.size $externs))
    (call $put_char (i32.const 10))
    ;; iovec {100, len} at 0; bytes written at 8.
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (global.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 0))))
