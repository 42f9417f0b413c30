#include "worker/module_memo.h"

namespace shoal::worker {

void ModuleMemo::drop(std::map<std::string, Entry>::iterator it) {
  bytes_ -= it->second.bytes->size();
  uses_.erase(it->second.use);
  entries_.erase(it);
}

std::shared_ptr<const std::string> ModuleMemo::put(const std::string& hash, std::string bytes) {
  if (auto it = entries_.find(hash); it != entries_.end()) drop(it);
  auto kept = std::make_shared<const std::string>(std::move(bytes));
  while (!entries_.empty() &&
         (entries_.size() >= max_modules_ || bytes_ + kept->size() > max_bytes_))
    drop(entries_.find(uses_.back()));
  uses_.push_front(hash);
  entries_[hash] = Entry{kept, uses_.begin()};
  bytes_ += kept->size();
  return kept;
}

std::shared_ptr<const std::string> ModuleMemo::get(const std::string& hash) {
  auto it = entries_.find(hash);
  if (it == entries_.end()) return nullptr;
  uses_.splice(uses_.begin(), uses_, it->second.use);
  return it->second.bytes;
}

}  // namespace shoal::worker
