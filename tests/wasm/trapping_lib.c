// An import module that traps while starting (in a constructor, which runs
// in _initialize). Exports what uses_mylib imports.
__attribute__((constructor)) static void setup(void) {
  __builtin_trap();
}

__attribute__((export_name("add"))) int add(int a, int b) {
  return a + b;
}
__attribute__((export_name("greet"))) void greet(void) {}
