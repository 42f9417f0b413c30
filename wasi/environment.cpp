#include "wasi/environment.h"

#include <algorithm>

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "wasi/file_stat.h"
#include "wasi/mount_plan.h"

namespace shoal::wasi {
namespace {

FdEntry output_entry(OutputSink* sink, abi::Filetype type) {
  FdEntry e;
  e.filetype = type;
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
  (void)env->fds_.insert(output_entry(config.stdout_sink, config.stdout_filetype));
  (void)env->fds_.insert(output_entry(config.stderr_sink, config.stderr_filetype));

  auto plan = plan_mounts(config.mounts, config.guest_terms_only);
  if (!plan) return std::unexpected(plan.error());
  for (PlannedPreopen& p : *plan) {
    auto fail = [&](const std::string& what) { return std::unexpected(p.origin + ": " + what); };
    std::string host_dir = p.host_dir;
    if (host_dir.empty()) {
      auto staged = StagedDir::create(config.scratch_dir);
      if (!staged) return fail(staged.error());
      for (const PlannedPreopen::File& f : p.files)
        if (auto added = staged->add(f.host_path, f.name); !added)
          return std::unexpected(f.origin + ": " + added.error());
      host_dir = staged->path();
      env->staged_.push_back(std::move(*staged));
    }
    int fd = ::open(host_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail(std::strerror(errno));
    FdEntry e;
    e.filetype = abi::Filetype::directory;
    e.host = UniqueFd(fd);
    e.read_only = p.read_only;
    e.rights_base = abi::right::directory;
    e.rights_inheriting = abi::right::directory | abi::right::file;
    if (p.read_only) {
      e.rights_base &= ~abi::right::directory_writes;
      // File write rights stay inheritable, though never granted
      // (path_open): wasi-libc narrows what it asks for to what the
      // directory can pass on, so without them open(O_WRONLY) would quietly
      // get a read-only fd and fail only at the first write, where Linux
      // fails the open itself with EROFS.
      e.rights_inheriting &= ~abi::right::directory_writes;
    }
    e.preopen_name = p.guest_path;
    auto placed = env->fds_.insert(std::move(e));
    if (!placed) return fail("too many mounts for the fd limit");
    env->mounted_.push_back(p.guest_path + (p.read_only ? " (read-only)" : ""));
  }
  const bool root_mounted = std::any_of(plan->begin(), plan->end(), [](const PlannedPreopen& p) {
    return normalize_guest_path(p.guest_path) == "/";
  });
  // Only beside mounts: a program given none finds fd 3 closed, as the WASI
  // test suite expects (and has nothing to be told about mounts).
  if (!root_mounted && !plan->empty()) {
    // Last, so that the mounts keep their fds (3, 4, ...).
    FdEntry fence;
    fence.filetype = abi::Filetype::directory;
    fence.rights_base = abi::right::directory;
    fence.preopen_name = "/";
    fence.fence = true;
    (void)env->fds_.insert(std::move(fence));  // no room: libc refuses such paths itself
  }
  return env;
}

std::string Environment::refusal_text() const {
  if (!refused_) return "";
  std::string mounted;
  for (const auto& m : mounted_) mounted += (mounted.empty() ? "" : ", ") + m;
  return "the program was refused " + *refused_ +
         ": outside every mount; mounted: " + (mounted.empty() ? "nothing" : mounted);
}

}  // namespace shoal::wasi
