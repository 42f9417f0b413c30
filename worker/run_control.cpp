#include "worker/run_control.h"

#include <v8.h>

namespace shoal::worker {

void RunControl::cancel() {
  std::lock_guard lock(mu_);
  cancelled_ = true;
  if (isolate_) isolate_->TerminateExecution();
}

bool RunControl::cancelled() const {
  std::lock_guard lock(mu_);
  return cancelled_;
}

void RunControl::attach(v8::Isolate* isolate) {
  std::lock_guard lock(mu_);
  isolate_ = isolate;
  if (cancelled_) isolate_->TerminateExecution();
}

void RunControl::detach() {
  std::lock_guard lock(mu_);
  isolate_ = nullptr;
}

}  // namespace shoal::worker
