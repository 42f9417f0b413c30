/* The runtime that clang 14's -mllvm -wasm-enable-sjlj expects (the same
 * contract as Emscripten's emscripten_setjmp.c of that LLVM): a function that
 * calls setjmp keeps a table of (setjmp id, label) in memory it grows with
 * saveSetjmp; longjmp throws a wasm exception with the C longjmp tag, which
 * each such function catches and matches with testSetjmp.
 * Compile with -mexception-handling. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>

typedef struct {
  uint32_t id, label;
} TableEntry;

static uint32_t temp_ret0;
static uint32_t setjmp_id;

uint32_t getTempRet0(void) { return temp_ret0; }
void setTempRet0(uint32_t v) { temp_ret0 = v; }

TableEntry *saveSetjmp(uint32_t *env, uint32_t label, TableEntry *table,
                       uint32_t size) {
  *env = ++setjmp_id;
  for (uint32_t i = 0; i < size; i++) {
    if (table[i].id == 0) {
      table[i].id = setjmp_id;
      table[i].label = label;
      table[i + 1].id = 0; /* the table has size + 1 entries */
      temp_ret0 = size;
      return table;
    }
  }
  size *= 2;
  table = realloc(table, sizeof(TableEntry) * (size + 1));
  if (!table)
    abort();
  table[size / 2].id = 0;
  --setjmp_id;
  table = saveSetjmp(env, label, table, size);
  temp_ret0 = size;
  return table;
}

uint32_t testSetjmp(uint32_t id, TableEntry *table, uint32_t size) {
  for (uint32_t i = 0; i < size && table[i].id != 0; i++)
    if (table[i].id == id)
      return table[i].label;
  return 0;
}

struct __WasmLongjmpArgs {
  void *env;
  int val;
};
struct __WasmLongjmpArgs __wasm_longjmp_args;

_Noreturn void __wasm_longjmp(void *env, int val) {
  __wasm_longjmp_args.env = env;
  __wasm_longjmp_args.val = val;
  __builtin_wasm_throw(1, &__wasm_longjmp_args); /* 1: the C longjmp tag */
  __builtin_unreachable();
}
