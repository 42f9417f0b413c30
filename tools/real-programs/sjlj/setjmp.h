/* setjmp.h for wasm32-wasi, which Debian's wasi-libc (2022) does not ship.
 *
 * Two implementations share this header; the build picks one:
 * - sjlj_eh.c: clang's -mllvm -wasm-enable-sjlj lowers setjmp/longjmp to
 *   wasm exception handling; jmp_buf is only an identity there.
 * - sjlj_asyncify.c (with -DSJLJ_ASYNCIFY): setjmp captures the call stack
 *   with binaryen's Asyncify (wasm-opt --asyncify) and longjmp rewinds into
 *   it; jmp_buf holds the captured stack, so it is large.
 * Single-threaded only, as wasm32-wasi is. */
#ifndef SHOAL_REAL_SETJMP_H
#define SHOAL_REAL_SETJMP_H

#ifdef SJLJ_ASYNCIFY
#define SJLJ_STACK_BYTES 8192
struct sjlj_asyncify_data {
  void *top; /* where Asyncify writes (unwind) or reads (rewind) next */
  void *end;
};
typedef struct sjlj_asyncify_buf {
  int state;
  int value;
  void *saved_top; /* the top after setjmp's capture, reused by each rewind */
  struct sjlj_asyncify_data setjmp_data;
  struct sjlj_asyncify_data longjmp_data;
  char setjmp_stack[SJLJ_STACK_BYTES];
  char longjmp_stack[SJLJ_STACK_BYTES];
} jmp_buf[1];
int sjlj_asyncify_setjmp(jmp_buf env);
/* Returns, with the unwind under way: each caller's Asyncify code returns. */
void sjlj_asyncify_longjmp(jmp_buf env, int value);
#define setjmp(env) ((env)->state = 0, sjlj_asyncify_setjmp(env))
#define longjmp(env, v) (sjlj_asyncify_longjmp(env, v), __builtin_unreachable())
#define _setjmp setjmp
#define _longjmp longjmp
#else
typedef unsigned long jmp_buf[8];
int setjmp(jmp_buf env) __attribute__((returns_twice));
_Noreturn void longjmp(jmp_buf env, int value);
#define _setjmp setjmp
#define _longjmp longjmp
#endif

#endif
