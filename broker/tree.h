// Directory trees the broker reads or removes that a guest made: walked and
// removed through directory descriptors (openat, fstatat, unlinkat), never by
// whole path, so that depth and path length are no limit and a symbolic link
// is never followed. No broker state: usable from any thread.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <expected>
#include <functional>
#include <string>

namespace shoal::tree {

// One entry met by walk(): its path relative to the walk's root ("a/b.txt"),
// the descriptor of the directory holding it (valid during the call only),
// its name there, and its lstat.
struct Entry {
  const std::string& rel;
  int dir_fd;
  const char* name;
  const struct stat& st;
};

enum class Visit { go_on, stop };

struct WalkReport {
  bool stopped = false;        // the visitor said stop
  uint64_t entries = 0;        // entries met (files, directories, others)
  uint64_t too_long = 0;       // directories not entered: their path passes max_path
  std::string first_too_long;  // the first of them, relative to the root
  std::string error;           // a directory that could not be read, and why; the walk goes on
};

// Walks every entry below the directory `root_fd` (which stays open and is
// not moved), depth first, directories before what they hold. Directories
// whose relative path would be longer than `max_path` bytes are reported and
// not entered. Symbolic links and other non-directories are only visited.
// Holds one descriptor per level while it descends.
WalkReport walk(int root_fd, size_t max_path, const std::function<Visit(const Entry&)>& visit);

// Removes `path` and everything below it; a missing `path` is no error. It
// keeps one descriptor open whatever the depth. Stops early, leaving the
// rest, when `cancel` becomes true. The error names what stayed.
std::expected<void, std::string> remove_all(const std::string& path,
                                            const std::atomic<bool>* cancel = nullptr);

// Reads the regular file `name` in the directory `dir_fd` without following
// a symbolic link and without blocking on a FIFO; at most `max` bytes (more
// is an error).
std::expected<std::string, std::string> read_file_at(int dir_fd, const char* name, uint64_t max);

}  // namespace shoal::tree
