// shoal: the command-line client. Never links V8.
#include "cli/cli.h"

int main(int argc, char** argv) {
  return shoal::cli::run_cli(argc, argv);
}
