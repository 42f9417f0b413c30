#include "wasi/environment.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "wasi/file_stat.h"

namespace shoal::wasi {
namespace {

FdEntry output_entry(OutputSink* sink) {
  FdEntry e;
  e.filetype = abi::Filetype::character_device;
  e.sink = sink;
  e.rights_base = abi::right::fd_write | abi::right::fd_fdstat_set_flags |
                  abi::right::fd_filestat_get | abi::right::poll_fd_readwrite;
  return e;
}

}  // namespace

std::expected<std::unique_ptr<Environment>, std::string> Environment::create(const Config& config) {
  std::unique_ptr<Environment> env(new Environment(config.max_fds));
  env->args_ = config.args;
  env->env_ = config.env;

  FdEntry in;
  in.filetype = abi::Filetype::character_device;
  in.rights_base = abi::right::fd_read | abi::right::fd_fdstat_set_flags |
                   abi::right::fd_filestat_get | abi::right::poll_fd_readwrite;
  if (config.stdin_fd >= 0) {
    in.host = UniqueFd(::fcntl(config.stdin_fd, F_DUPFD_CLOEXEC, 0));
    if (!in.host.valid()) return std::unexpected(std::string("stdin: ") + std::strerror(errno));
    struct stat st;
    if (::fstat(in.host.get(), &st) == 0) in.filetype = filetype_of(st.st_mode);
  }
  (void)env->fds_.insert(std::move(in));
  (void)env->fds_.insert(output_entry(config.stdout_sink));
  (void)env->fds_.insert(output_entry(config.stderr_sink));

  for (const Mount& m : config.mounts) {
    auto fail = [&](const char* what) {
      return std::unexpected("mount " + m.host_path + " at " + m.guest_path + ": " + what);
    };
    if (m.guest_path.empty()) return fail("the guest path is empty");
    struct stat st;
    if (::stat(m.host_path.c_str(), &st) != 0) return fail(std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return fail("not a directory");
    int fd = ::open(m.host_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail(std::strerror(errno));
    FdEntry e;
    e.filetype = abi::Filetype::directory;
    e.host = UniqueFd(fd);
    e.read_only = m.read_only;
    e.rights_base = abi::right::directory;
    e.rights_inheriting = abi::right::directory | abi::right::file;
    if (m.read_only) {
      e.rights_base &= ~abi::right::directory_writes;
      e.rights_inheriting &= ~(abi::right::directory_writes | abi::right::file_writes);
    }
    e.preopen_name = m.guest_path;
    auto placed = env->fds_.insert(std::move(e));
    if (!placed) return fail("too many mounts for the fd limit");
  }
  return env;
}

}  // namespace shoal::wasi
