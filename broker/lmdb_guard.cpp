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
  // Again whenever another handler took the signal's place since (a test
  // framework's, say), which then becomes the one chained to.
  static std::mutex mu;
  std::lock_guard lock(mu);
  struct sigaction sa {
  }, current{};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS}) {
    ::sigaction(sig, nullptr, &current);
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_fault) continue;
    ::sigaction(sig, &sa, sig == SIGBUS ? &previous_bus : &previous_segv);
  }
}

}  // namespace shoal::broker::lmdb_guard
