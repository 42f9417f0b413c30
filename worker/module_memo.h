// The modules a worker was sent, kept in memory by hash, so that the broker
// can name a module it sent this worker before instead of sending its bytes
// with every run (`Run.module` empty). What does not fit is forgotten, least
// recently used first; the worker then asks for it again (`need`).
//
// Not thread-safe: the worker's main thread owns it. The bytes are shared
// and immutable, so a run may go on using a module the memo has dropped.
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <string>

namespace shoal::worker {

class ModuleMemo {
 public:
  // Keeps at most `max_modules` modules and `max_bytes` bytes of them; a
  // single module larger than `max_bytes` is kept alone.
  ModuleMemo(size_t max_modules, size_t max_bytes)
      : max_modules_(max_modules), max_bytes_(max_bytes) {}

  // Keeps `bytes` as the module `hash` (replacing what was kept under it)
  // and returns them.
  std::shared_ptr<const std::string> put(const std::string& hash, std::string bytes);

  // The module `hash`, or null when it is not kept.
  std::shared_ptr<const std::string> get(const std::string& hash);

  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    std::shared_ptr<const std::string> bytes;
    std::list<std::string>::iterator use;  // its place in uses_
  };
  void drop(std::map<std::string, Entry>::iterator it);

  size_t max_modules_, max_bytes_;
  size_t bytes_ = 0;
  std::map<std::string, Entry> entries_;
  std::list<std::string> uses_;  // hashes, most recently used first
};

}  // namespace shoal::worker
