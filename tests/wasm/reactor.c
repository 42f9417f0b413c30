// Built as a WASI reactor: it exports no _start.
int add(int a, int b) { return a + b; }
