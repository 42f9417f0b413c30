#include "wasi/path_walk.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <optional>
#include <vector>

namespace shoal::wasi {
namespace {

constexpr int kMaxSymlinks = 40;

void push_components(std::string_view path, std::deque<std::string>& out) {
  std::deque<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  out.insert(out.begin(), parts.begin(), parts.end());
}

// The target of the symlink at dir/name, or nullopt when it is not a symlink.
Result<std::optional<std::string>> read_link(int dir, const std::string& name) {
  char buf[PATH_MAX];
  ssize_t n = ::readlinkat(dir, name.c_str(), buf, sizeof buf);
  if (n < 0) {
    if (errno == EINVAL || errno == ENOENT) return std::nullopt;
    return std::unexpected(from_host_errno(errno));
  }
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

Result<ResolvedPath> resolve_path(int base, std::string_view path, FinalSymlink final_symlink) {
  if (path.find('\0') != std::string_view::npos) return std::unexpected(Errno::inval);
  if (path.empty()) return std::unexpected(Errno::noent);
  if (path.front() == '/') return std::unexpected(Errno::notcapable);

  std::vector<UniqueFd> stack;
  auto cur = [&] { return stack.empty() ? base : stack.back().get(); };
  std::deque<std::string> comps;
  push_components(path, comps);
  bool must_be_dir = path.back() == '/';
  int links = 0;
  std::string final_name = ".";

  // Replaces the symlink just taken off `comps` with its target's components.
  auto expand = [&](const std::string& target, bool was_last) -> Errno {
    if (++links > kMaxSymlinks) return Errno::loop;
    if (target.empty()) return Errno::noent;
    if (target.front() == '/') return Errno::notcapable;
    if (was_last && target.back() == '/') must_be_dir = true;
    push_components(target, comps);
    return Errno::success;
  };

  while (!comps.empty()) {
    std::string c = std::move(comps.front());
    comps.pop_front();
    bool last = comps.empty();
    if (c == ".") {
      if (last) final_name = ".";
      continue;
    }
    if (c == "..") {
      if (stack.empty()) return std::unexpected(Errno::notcapable);
      if (last && final_symlink == FinalSymlink::never) {
        // Kept for the kernel, which refuses it lexically (see the header).
        final_name = "..";
        continue;
      }
      stack.pop_back();
      if (last) final_name = ".";
      continue;
    }
    if (last) {
      // POSIX lookups follow a final symlink named with a trailing slash.
      if (final_symlink == FinalSymlink::follow ||
          (final_symlink == FinalSymlink::follow_if_slash && must_be_dir)) {
        auto link = read_link(cur(), c);
        if (!link) return std::unexpected(link.error());
        if (*link) {
          if (Errno e = expand(**link, true); e != Errno::success) return std::unexpected(e);
          if (comps.empty()) final_name = ".";
          continue;
        }
      }
      final_name = std::move(c);
      continue;
    }
    int fd = ::openat(cur(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      stack.emplace_back(fd);
      continue;
    }
    int err = errno;
    if (err == ENOTDIR || err == ELOOP) {
      auto link = read_link(cur(), c);
      if (!link) return std::unexpected(link.error());
      if (*link) {
        if (Errno e = expand(**link, false); e != Errno::success) return std::unexpected(e);
        continue;
      }
    }
    return std::unexpected(from_host_errno(err));
  }

  ResolvedPath out;
  if (!stack.empty()) {
    out.owned = std::move(stack.back());
    out.dir = out.owned.get();
  } else {
    out.dir = base;
  }
  out.name = std::move(final_name);
  if (must_be_dir && out.name != "." && out.name != "..") out.name += '/';
  return out;
}

}  // namespace shoal::wasi
