// Process control.
#include "wasi/calls.h"

namespace shoal::wasi::calls {

SHOAL_WASI_CALL(proc_exit) {
  (void)mem;
  env.request_exit(u32(a[0]));
  return Errno::success;
}

// Signals do not exist inside a job; like wasmtime and Node, shoal does not
// deliver them. The call is refused rather than pretending to succeed.
SHOAL_WASI_CALL(proc_raise) {
  (void)env, (void)mem, (void)a;
  return Errno::nosys;
}

}  // namespace shoal::wasi::calls
