// Imports add and greet from the import module "mylib".
#include <stdio.h>

__attribute__((import_module("mylib"), import_name("add"))) int mylib_add(int, int);
__attribute__((import_module("mylib"), import_name("greet"))) void mylib_greet(void);

int main(void) {
  mylib_greet();
  printf("2 + 3 = %d\n", mylib_add(2, 3));
  return 0;
}
