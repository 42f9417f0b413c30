;; Exception handling (the proposal V8 ships): a tag carrying an i32, thrown
;; two calls deep and caught by tag, caught by catch_all and rethrown, and a
;; try that does not throw. Prints one line through WASI fd_write. With
;; argument-free runs it exits 0; the last throw is caught too.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (tag $boom (param i32))
  (tag $other)

  (global $len (mut i32) (i32.const 0))
  (func $put_char (param $c i32)
    (i32.store8 (i32.add (i32.const 100) (global.get $len)) (local.get $c))
    (global.set $len (i32.add (global.get $len) (i32.const 1))))
  ;; Appends a space and a two-digit number.
  (func $put_num (param $n i32)
    (call $put_char (i32.const 32))
    (call $put_char (i32.add (i32.const 48) (i32.div_u (local.get $n) (i32.const 10))))
    (call $put_char (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10)))))

  (func $throw_boom (param $v i32) (throw $boom (local.get $v)))
  (func $deeper (param $v i32) (call $throw_boom (i32.add (local.get $v) (i32.const 1))))

  ;; Catches $boom by tag: returns its payload.
  (func $catch_by_tag (result i32)
    (try (result i32)
      (do (call $deeper (i32.const 41)) (i32.const 0))
      (catch $boom)))

  ;; catch_all and rethrow: the inner handler sees any exception, counts it
  ;; and rethrows; the outer catches it by tag.
  (func $rethrow (result i32)
    (try (result i32)
      (do
        (try
          (do (call $throw_boom (i32.const 77)))
          (catch_all (call $put_num (i32.const 11)) (rethrow 0)))
        (i32.const 0))
      (catch $boom)))

  ;; A different tag is not caught by a $boom handler, but by catch_all.
  (func $wrong_tag (result i32)
    (try (result i32)
      (do
        (try (result i32)
          (do (throw $other))
          (catch $boom)))
      (catch_all (i32.const 99))))

  (func $no_throw (result i32)
    (try (result i32)
      (do (i32.const 12))
      (catch_all (i32.const 0))))

  (func (export "_start")
    ;; "caught"
    (call $put_char (i32.const 99)) (call $put_char (i32.const 97))
    (call $put_char (i32.const 117)) (call $put_char (i32.const 103))
    (call $put_char (i32.const 104)) (call $put_char (i32.const 116))
    (call $put_num (call $catch_by_tag))
    (call $put_num (call $rethrow))
    (call $put_num (call $wrong_tag))
    (call $put_num (call $no_throw))
    (call $put_char (i32.const 10))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (global.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $proc_exit (i32.const 0))))
