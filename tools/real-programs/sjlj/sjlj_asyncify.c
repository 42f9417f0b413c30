/* setjmp/longjmp through binaryen's Asyncify, inside the module (the scheme
 * of ruby.wasm): setjmp unwinds the whole call stack into its jmp_buf and
 * rewinds it at once (returning 0); longjmp unwinds to the top and rewinds
 * the stack setjmp captured (returning the value). The program's main is
 * renamed sjlj_program_main (-Dmain=sjlj_program_main on its file); main
 * here is the loop that stops each unwind and starts the rewind, and must be
 * left out of the instrumentation (wasm-opt --asyncify
 * --pass-arg=asyncify-removelist@__main_argc_argv). The asyncify.* imports
 * are replaced by wasm-opt with its own functions; a function that calls
 * start_unwind is not instrumented, so setjmp runs again from its top on each
 * rewind and ends it with stop_rewind. Single-threaded. */
#define SJLJ_ASYNCIFY 1
#include "setjmp.h"
#include <stdio.h>
#include <stdlib.h>

#define IMPORT(name) __attribute__((import_module("asyncify"), import_name(name)))
IMPORT("start_unwind") void asyncify_start_unwind(void *data);
IMPORT("stop_unwind") void asyncify_stop_unwind(void);
IMPORT("start_rewind") void asyncify_start_rewind(void *data);
IMPORT("stop_rewind") void asyncify_stop_rewind(void);

enum { FRESH = 0, CAPTURING = 1, CAPTURED = 2, RETURNING = 3 };

static struct sjlj_asyncify_buf *active; /* the jmp_buf whose unwind is under way, if any */

int sjlj_asyncify_setjmp(jmp_buf env) {
  switch (env->state) {
  case FRESH:
    env->state = CAPTURING;
    env->setjmp_data.top = env->setjmp_stack;
    env->setjmp_data.end = env->setjmp_stack + SJLJ_STACK_BYTES;
    active = env;
    asyncify_start_unwind(&env->setjmp_data);
    return -1; /* not seen: the unwind discards it */
  case CAPTURING:
  case RETURNING:
    asyncify_stop_rewind();
    int value = env->state == RETURNING ? env->value : 0;
    env->state = CAPTURED;
    active = 0;
    return value;
  default:
    fprintf(stderr, "setjmp: jmp_buf in state %d\n", env->state);
    abort();
  }
}

void sjlj_asyncify_longjmp(jmp_buf env, int value) {
  if (env->state != CAPTURED) {
    fprintf(stderr, "longjmp: jmp_buf in state %d\n", env->state);
    abort();
  }
  env->state = RETURNING;
  env->value = value ? value : 1;
  env->longjmp_data.top = env->longjmp_stack;
  env->longjmp_data.end = env->longjmp_stack + SJLJ_STACK_BYTES;
  active = env;
  asyncify_start_unwind(&env->longjmp_data);
  /* returns: Asyncify's code in each caller returns in turn, up to main */
}

int sjlj_program_main(int argc, char **argv);

int main(int argc, char **argv) {
  for (;;) {
    int status = sjlj_program_main(argc, argv);
    if (!active)
      return status;
    asyncify_stop_unwind();
    if (active->state == CAPTURING)
      active->saved_top = active->setjmp_data.top;
    active->setjmp_data.top = active->saved_top;
    asyncify_start_rewind(&active->setjmp_data);
  }
}
