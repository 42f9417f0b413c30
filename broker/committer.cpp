#include "broker/committer.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace shoal::broker {

Committer::Committer(Store& store) : store_(store) {
  event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { loop(); });
}

Committer::~Committer() {
  if (busy_) (void)wait();
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (event_fd_ >= 0) ::close(event_fd_);
}

void Committer::start(Batch batch) {
  batch_ = std::move(batch);
  busy_ = true;
  {
    std::lock_guard lock(mu_);
    pending_ = true;
    finished_ = false;
  }
  cv_.notify_all();
}

bool Committer::done() {
  if (!busy_) return false;
  std::lock_guard lock(mu_);
  return finished_;
}

Committer::Result Committer::wait() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return finished_; });
    finished_ = false;
  }
  uint64_t n;
  while (::read(event_fd_, &n, sizeof n) == sizeof n) {
  }
  busy_ = false;
  Result r{std::move(status_), std::move(batch_)};
  batch_ = Batch();
  return r;
}

void Committer::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return quit_ || pending_; });
    if (quit_ && !pending_) return;
    pending_ = false;
    lock.unlock();
    // The loop thread does not change batch_ while busy_.
    auto status = store_.commit(batch_);
    lock.lock();
    status_ = std::move(status);
    finished_ = true;
    cv_.notify_all();
    uint64_t one = 1;
    (void)!::write(event_fd_, &one, sizeof one);
  }
}

}  // namespace shoal::broker
