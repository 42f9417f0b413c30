#include "host/worker_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

extern char** environ;

namespace shoal::host {

WorkerPool::~WorkerPool() {
  stop_all();
}

std::expected<void, std::string> WorkerPool::spawn(const std::string& name) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::string ep = endpoint_;
  std::string parent = std::to_string(::getpid());
  std::vector<char*> argv = {const_cast<char*>("shoal-worker"), const_cast<char*>("serve"),
                             const_cast<char*>("--endpoint"),   ep.data(),
                             const_cast<char*>("--name"),       const_cast<char*>(name.c_str()),
                             const_cast<char*>("--parent-pid"), parent.data()};
  if (!fence_.empty()) {
    argv.push_back(const_cast<char*>("--fence"));
    argv.push_back(fence_.data());
  }
  if (!code_cache_.empty()) {
    argv.push_back(const_cast<char*>("--code-cache"));
    argv.push_back(code_cache_.data());
  }
  for (auto& a : extra_args_) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = ::posix_spawn(&pid, binary_.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return std::unexpected("cannot start worker " + binary_ + ": " + std::strerror(rc));
  procs_.push_back({name, pid});
  return {};
}

namespace {

bool is_worker_process(pid_t pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name == "shoal-worker";
}

}  // namespace

std::expected<int, std::string> WorkerPool::fence_previous(std::chrono::milliseconds limit) {
  int fd = ::open(fence_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected("cannot open " + fence_ + ": " + std::strerror(errno));
  auto deadline = std::chrono::steady_clock::now() + limit;
  std::set<pid_t> killed;
  for (;;) {
    struct flock lk {};
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    if (::fcntl(fd, F_SETLK, &lk) == 0) {
      lk.l_type = F_UNLCK;
      ::fcntl(fd, F_SETLK, &lk);
      ::close(fd);
      return static_cast<int>(killed.size());
    }
    if (errno != EACCES && errno != EAGAIN) {
      std::string e = std::strerror(errno);
      ::close(fd);
      return std::unexpected("cannot lock " + fence_ + ": " + e);
    }
    lk.l_type = F_WRLCK;
    if (::fcntl(fd, F_GETLK, &lk) == 0 && lk.l_type != F_UNLCK && lk.l_pid > 0) {
      if (!is_worker_process(lk.l_pid)) {
        // Not (or no longer) a worker: it may just have exited; look again.
      } else if (::kill(lk.l_pid, SIGKILL) == 0) {
        killed.insert(lk.l_pid);
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::close(fd);
      return std::unexpected("a process (pid " + std::to_string(lk.l_pid) + ") still holds " +
                             fence_ + "; stop the workers of the previous broker and start again");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void WorkerPool::kill(const std::string& name) {
  for (const auto& p : procs_)
    if (p.name == name) ::kill(p.pid, SIGKILL);
}

pid_t WorkerPool::pid_of(const std::string& name) const {
  for (const auto& p : procs_)
    if (p.name == name) return p.pid;
  return -1;
}

std::vector<DeadWorker> WorkerPool::reap() {
  std::vector<DeadWorker> dead;
  // One look at all children first (the loop calls this on every turn):
  // when none has exited, that is one system call rather than one per worker.
  siginfo_t info{};
  if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0) return dead;
  for (auto it = procs_.begin(); it != procs_.end();) {
    int status;
    pid_t r = ::waitpid(it->pid, &status, WNOHANG);
    if (r == it->pid) {
      std::string cause = WIFSIGNALED(status)
                              ? "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                                    strsignal(WTERMSIG(status)) + ")"
                              : "exited with status " + std::to_string(WEXITSTATUS(status));
      dead.push_back({it->name, cause});
      it = procs_.erase(it);
    } else {
      ++it;
    }
  }
  return dead;
}

void WorkerPool::stop_all() {
  for (const auto& p : procs_) ::kill(p.pid, SIGKILL);
  for (const auto& p : procs_) {
    int status;
    while (::waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  procs_.clear();
}

}  // namespace shoal::host
