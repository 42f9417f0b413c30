#include "broker/input_access.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace shoal::broker {
namespace {

// An owned file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The real path of `path` (symlinks resolved), or errno.
std::expected<std::string, int> real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return std::unexpected(errno);
  return std::string(buf);
}

// Whether `path` is `dir` or lies below it (both real, absolute paths).
bool within(const std::string& path, const std::string& dir) {
  if (dir == "/") return true;
  return path == dir || (path.starts_with(dir) && path[dir.size()] == '/');
}

// The components of an absolute path, without empty ones and ".".
std::vector<std::string> components(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string c = path.substr(start, end - start);
    if (!c.empty() && c != ".") out.push_back(std::move(c));
    start = end + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += "/" + parts[i];
  return out;
}

}  // namespace

Origin origin_of(const zmq::message_t& frame) {
  return ::zmq_msg_gets(frame.handle(), "User-Id") ? Origin::remote : Origin::local;
}

std::expected<InputAccess, std::string> InputAccess::make(
    const host::StateDir& dir, const std::vector<std::string>& data_roots) {
  InputAccess access;
  auto state = real_path(dir.root);
  access.state_root_ = state ? *state : dir.root;
  for (const std::string& given : data_roots) {
    const std::string shown = "--data-root " + given;
    if (given.empty() || given.front() != '/')
      return std::unexpected(shown + ": not an absolute path");
    auto real = real_path(given);
    if (!real)
      return std::unexpected(
          shown + ": " +
          (real.error() == ENOENT ? "no such directory" : std::strerror(real.error())));
    struct stat st;
    if (::stat(real->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return std::unexpected(shown + ": not a directory");
    if (within(access.state_root_, *real))
      return std::unexpected(shown + " holds the broker's state directory " + access.state_root_ +
                             ": clients over TCP could read its keys; give a directory beside it");
    if (within(*real, access.state_root_))
      return std::unexpected(shown + " lies inside the broker's state directory " +
                             access.state_root_ + ", which is never an input");
    access.data_roots_.push_back({std::filesystem::path(given).lexically_normal().string(), *real});
    access.roots_.push_back(*real);
  }
  return access;
}

std::expected<void, std::string> InputAccess::outside_state(const std::string& real) const {
  if (within(real, state_root_))
    return std::unexpected("inside the broker's state directory " + state_root_ +
                           ", which holds its keys and store and is never an input");
  if (within(state_root_, real))
    return std::unexpected("holds the broker's state directory " + state_root_ +
                           " (its keys and store), which is never an input; name a directory "
                           "beside it");
  return {};
}

std::expected<std::string, std::string> InputAccess::check(Origin origin,
                                                           const std::string& source) const {
  if (source.find('\0') != std::string::npos) return std::unexpected("contains a NUL byte");
  if (source.empty() || source.front() != '/') return std::unexpected("not an absolute path");
  if (origin == Origin::remote) return check_remote(source);
  auto real = real_path(source);
  if (!real)
    return std::unexpected(real.error() == ENOENT ? std::string("no such file or directory")
                                                  : std::strerror(real.error()));
  if (auto ok = outside_state(*real); !ok) return std::unexpected(ok.error());
  return source;
}

std::expected<std::string, std::string> InputAccess::check_remote(const std::string& source) const {
  if (data_roots_.empty())
    return std::unexpected(
        "clients over TCP may not name paths on the broker's host: this broker has no data roots "
        "(shoal serve --data-root DIR)");
  const auto parts = components(source);
  for (const auto& p : parts)
    if (p == "..") return std::unexpected("'..' is not allowed in a path inside a data root");
  // The root the path lies in, by whole components, as configured or real.
  const Root* root = nullptr;
  size_t depth = 0;
  for (const Root& r : data_roots_) {
    for (const std::string* form : {&r.given, &r.real}) {
      const auto rc = components(*form);
      if (rc.size() <= parts.size() && std::equal(rc.begin(), rc.end(), parts.begin())) {
        root = &r;
        depth = rc.size();
        break;
      }
    }
    if (root) break;
  }
  if (!root) {
    std::string roots;
    for (const auto& r : roots_) roots += (roots.empty() ? "" : ", ") + r;
    return std::unexpected("outside the broker's data roots (" + roots +
                           "), the only places clients over TCP may read");
  }
  Fd dir(::open(root->real.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0)
    return std::unexpected("the data root " + root->real + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(dir.get(), &st) != 0) return std::unexpected(std::strerror(errno));
  for (size_t i = depth; i < parts.size(); ++i) {
    const std::string walked = root->real + join(parts, depth, i + 1);
    Fd next(::openat(dir.get(), parts[i].c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (next.get() < 0)
      return std::unexpected(errno == ENOENT ? std::string("no such file or directory")
                             : errno == ENOTDIR
                                 ? root->real + join(parts, depth, i) + " is not a directory"
                                 : walked + ": " + std::strerror(errno));
    if (::fstat(next.get(), &st) != 0) return std::unexpected(walked + ": " + std::strerror(errno));
    if (S_ISLNK(st.st_mode))
      return std::unexpected(walked +
                             " is a symbolic link: inside a data root no link is followed, since "
                             "it could lead out of the root");
    dir = std::move(next);
  }
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
    return std::unexpected("neither a regular file nor a directory");
  std::string resolved = root->real + join(parts, depth, parts.size());
  if (auto ok = outside_state(resolved); !ok) return std::unexpected(ok.error());
  return resolved;
}

}  // namespace shoal::broker
