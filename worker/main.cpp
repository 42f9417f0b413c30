// shoal-worker: runs WASI modules on V8. `shoal exec` hands its arguments
// here; the broker's worker pool will start it in worker mode.
#include <fmt/core.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "shoal_config.h"
#include "worker/engine.h"
#include "worker/exec_command.h"
#include "worker/serve.h"

namespace {

// V8's background threads may still be compiling when a command is done;
// static destructors must not run under them, so the process ends here.
[[noreturn]] void finish(int status) {
  std::fflush(nullptr);
  std::_Exit(status);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "exec") == 0)
    finish(shoal::worker::exec_command(argc - 1, argv + 1));
  if (argc >= 2 && std::strcmp(argv[1], "serve") == 0)
    finish(shoal::worker::serve_command(argc - 1, argv + 1));
  if (argc >= 2 && std::strcmp(argv[1], "--version") == 0) {
    fmt::print("shoal-worker {} (V8 {})\n", SHOAL_VERSION, shoal::worker::v8_version());
    return 0;
  }
  fmt::print(stderr, "usage: shoal-worker exec [OPTIONS] PROGRAM.wasm [ARGS...]\n");
  return shoal::worker::kExitUsage;
}
