#include "worker/log_queue.h"

namespace shoal::worker {

void LogQueue::append(const std::string& exec_id, uint8_t stream, std::span<const uint8_t> data) {
  const char* p = reinterpret_cast<const char*>(data.data());
  size_t left = data.size();
  while (left > 0) {
    std::unique_lock lock(mu_);
    if (held_ >= max_held_) {
      lock.unlock();
      nudge_();
      lock.lock();
      taken_.wait(lock, [this] { return held_ < max_held_; });
    }
    if (chunks_.empty() || chunks_.back().stream != stream || chunks_.back().exec_id != exec_id ||
        chunks_.back().data.size() >= kMaxChunk)
      chunks_.push_back(wire::Log{exec_id, stream, {}});
    std::string& chunk = chunks_.back().data;
    const size_t n = std::min(left, kMaxChunk - chunk.size());
    chunk.append(p, n);
    held_ += n;
    p += n;
    left -= n;
  }
}

std::vector<wire::Log> LogQueue::take() {
  std::vector<wire::Log> out;
  {
    std::lock_guard lock(mu_);
    out.assign(std::make_move_iterator(chunks_.begin()), std::make_move_iterator(chunks_.end()));
    chunks_.clear();
    held_ = 0;
  }
  taken_.notify_all();
  return out;
}

}  // namespace shoal::worker
