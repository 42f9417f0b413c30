#include "host/state_dir.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace shoal::host {

StateDir state_dir() {
  std::string root;
  if (const char* h = std::getenv("SHOAL_HOME"); h && *h) {
    root = h;
  } else if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) {
    root = std::string(x) + "/shoal";
  } else {
    const char* home = std::getenv("HOME");
    if (!home || !*home) {
      struct passwd* pw = ::getpwuid(::getuid());
      home = pw ? pw->pw_dir : "/tmp";
    }
    root = std::string(home) + "/.local/state/shoal";
  }
  return state_dir_at(root);
}

StateDir state_dir_at(const std::string& given) {
  std::string root = given;
  std::error_code ec;
  auto abs = std::filesystem::absolute(root, ec);
  if (!ec) root = abs.lexically_normal().string();
  StateDir d;
  d.root = root;
  d.run_dir = root + "/run";
  d.store_dir = root + "/store";
  d.scratch = root + "/scratch";
  d.cache = root + "/cache";
  d.log_file = root + "/broker.log";
  return d;
}

bool broker_running(const StateDir& dir) {
  int fd = ::open(dir.lock_file().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return held;
}

std::expected<int, std::string> lock_broker(const StateDir& dir) {
  int fd = ::open(dir.lock_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return std::unexpected("cannot open " + dir.lock_file() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return std::unexpected("another broker is already running for " + dir.root);
  }
  return fd;
}

std::expected<void, std::string> prepare(const StateDir& dir) {
  for (const std::string& p : {dir.root, dir.run_dir, dir.store_dir, dir.scratch, dir.cache}) {
    std::error_code ec;
    std::filesystem::create_directories(p, ec);
    if (ec)
      return std::unexpected("cannot create the state directory " + p + ": " + ec.message() +
                             "; move away what is in its place, or set SHOAL_HOME to another "
                             "directory");
  }
  // The sockets' directory is private: nobody else may reach this user's jobs.
  for (const std::string& p : {dir.root, dir.run_dir}) {
    if (::chmod(p.c_str(), 0700) != 0)
      return std::unexpected("cannot make " + p + " private: " + std::strerror(errno) +
                             "; the state directory must belong to you (or set SHOAL_HOME)");
  }
  return {};
}

}  // namespace shoal::host
