// The bundled example: greets whoever is named on the command line, in the
// language set by the GREETING environment variable.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  const char* greeting = getenv("GREETING");
  if (!greeting) greeting = "Hello";
  if (argc < 2) {
    printf("%s from WebAssembly! (pass names as arguments)\n", greeting);
    return 0;
  }
  for (int i = 1; i < argc; ++i) printf("%s, %s!\n", greeting, argv[i]);
  return 0;
}
