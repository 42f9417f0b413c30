// LMDB trusts the pages of its file: a damaged page (a flipped bit in a
// node's offset or size, a zeroed branch) can make a read or a write follow
// a pointer out of the map, and the process dies of SIGSEGV or SIGBUS, or
// fail one of LMDB's assertions, and the process aborts. The
// store runs each LMDB call through guarded(), which turns such a fault,
// raised inside that call on that thread, into MDB_CORRUPTED: the caller
// then reports "a damaged page" and aborts the transaction as after any
// error. A fault anywhere else keeps its default action (and any handler
// installed before install()).
//
// Sound for LMDB because a call is left only through its own C frames (no
// destructor is skipped) and a read holds no lock; a write transaction that
// faulted is aborted, which frees its pages and releases the writer lock.
// Thread safety: any thread; the state is per thread.
#pragma once

#include <lmdb.h>
#include <setjmp.h>

namespace shoal::broker::lmdb_guard {

struct State {
  sigjmp_buf jump;
  volatile bool active = false;
  unsigned faults = 0;  // guarded calls that faulted, ever
};
State& state();  // this thread's

// Installs the SIGSEGV and SIGBUS handlers (the store does, whenever it
// opens an environment); a no-op while they are in place.
void install();

// For mdb_env_set_assert: an assertion of LMDB's that fails inside a
// guarded call (a damaged page that is not what LMDB expected) ends the
// call with MDB_CORRUPTED instead of abort().
void on_assert(MDB_env* env, const char* message);

// f(), an LMDB call returning its status, or MDB_CORRUPTED when it faulted.
template <class F>
int guarded(F&& f) {
  State& s = state();
  if (s.active) return f();  // already inside a guarded call
  if (sigsetjmp(s.jump, 1) != 0) {
    s.active = false;
    ++s.faults;
    return MDB_CORRUPTED;
  }
  s.active = true;
  int rc = f();
  s.active = false;
  return rc;
}

}  // namespace shoal::broker::lmdb_guard
