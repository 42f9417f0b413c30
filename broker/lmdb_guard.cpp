#include "broker/lmdb_guard.h"

#include <signal.h>

#include <mutex>

namespace shoal::broker::lmdb_guard {
namespace {

struct sigaction previous_segv, previous_bus;

void on_fault(int sig, siginfo_t* info, void* context) {
  State& s = state();
  if (s.active) {
    s.active = false;
    siglongjmp(s.jump, 1);
  }
  // Not raised by a guarded call: as if this handler had never been there
  // (returning re-runs the faulting instruction under the old action).
  const struct sigaction& old = sig == SIGBUS ? previous_bus : previous_segv;
  if (old.sa_flags & SA_SIGINFO) {
    old.sa_sigaction(sig, info, context);
    return;
  }
  ::sigaction(sig, &old, nullptr);
}

}  // namespace

void on_assert(MDB_env*, const char*) {
  State& s = state();
  if (s.active) {
    s.active = false;
    siglongjmp(s.jump, 1);
  }
  // Otherwise LMDB aborts, as it would have.
}

State& state() {
  thread_local State s;
  return s;
}

void install() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, &previous_segv);
    ::sigaction(SIGBUS, &sa, &previous_bus);
  });
}

}  // namespace shoal::broker::lmdb_guard
