// Process control.
#include "wasi/calls.h"

namespace shoal::wasi::calls {

void proc_exit(Env& env, Mem&, Exitcode code) {
  env.request_exit(code);
}

// Signals do not exist inside a job; like wasmtime and Node, shoal does not
// deliver them. The call is refused rather than pretending to succeed.
Errno proc_raise(Env&, Mem&, uint32_t /*signal*/) {
  return Errno::nosys;
}

}  // namespace shoal::wasi::calls
