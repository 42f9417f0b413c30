#include "broker/reaper.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "broker/tree.h"

namespace shoal::broker {

Reaper::Reaper(std::string dir, std::function<void(const std::string&)> warn)
    : dir_(std::move(dir)), warn_(std::move(warn)) {
  ::mkdir(dir_.c_str(), 0700);
  if (DIR* d = ::opendir(dir_.c_str())) {
    while (struct dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        queue_.push_back(dir_ + "/" + e->d_name);
    ::closedir(d);
  }
  thread_ = std::thread([this] { loop(); });
}

Reaper::~Reaper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::expected<void, std::string> Reaper::discard(const std::string& path) {
  std::string doomed;
  {
    std::lock_guard lock(mu_);
    doomed = dir_ + "/" + std::to_string(::getpid()) + "-" + std::to_string(next_++);
  }
  if (::rename(path.c_str(), doomed.c_str()) != 0) {
    if (errno == ENOENT) return {};
    return std::unexpected(path + ": cannot be moved to " + dir_ + ": " + std::strerror(errno));
  }
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(doomed));
  }
  cv_.notify_one();
  return {};
}

size_t Reaper::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size() + busy_;
}

void Reaper::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::string path = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    auto r = tree::remove_all(path, &stop_);
    if (!r && !stop_) warn_(r.error());
    lock.lock();
    --busy_;
  }
}

}  // namespace shoal::broker
