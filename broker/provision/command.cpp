#include "broker/provision/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace shoal::broker::provision {
namespace {

struct Pipes {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  ~Pipes() {
    for (int* p : {in, out, err})
      for (int i = 0; i < 2; ++i)
        if (p[i] >= 0) ::close(p[i]);
  }
  bool open() {
    return ::pipe2(in, O_CLOEXEC) == 0 && ::pipe2(out, O_CLOEXEC) == 0 &&
           ::pipe2(err, O_CLOEXEC) == 0;
  }
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::expected<pid_t, std::string> spawn(const std::vector<std::string>& argv, Pipes& p) {
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawn_file_actions_adddup2(&fa, p.in[0], 0);
  ::posix_spawn_file_actions_adddup2(&fa, p.out[1], 1);
  ::posix_spawn_file_actions_adddup2(&fa, p.err[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  ::posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return std::unexpected("cannot run " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

// Reads stdout and stderr until both close or the deadline passes.
bool collect(Pipes& p, CommandResult& r, std::chrono::steady_clock::time_point until) {
  while (p.out[0] >= 0 || p.err[0] >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    until - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd fds[2] = {{p.out[0], POLLIN, 0}, {p.err[0], POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left)) < 0 && errno != EINTR) return false;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0)
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR)
        Pipes::close_fd(i == 0 ? p.out[0] : p.err[0]);
    }
  }
  return true;
}

}  // namespace

std::string command_text(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

std::expected<CommandResult, std::string> run_command(const std::vector<std::string>& argv,
                                                      const std::string& input,
                                                      std::chrono::milliseconds deadline) {
  if (argv.empty()) return std::unexpected(std::string("no command to run"));
  Pipes p;
  if (!p.open())
    return std::unexpected("cannot run " + argv[0] + ": pipe: " + std::strerror(errno));
  auto pid = spawn(argv, p);
  if (!pid) return std::unexpected(pid.error());
  Pipes::close_fd(p.in[0]);
  Pipes::close_fd(p.out[1]);
  Pipes::close_fd(p.err[1]);
  // The input is a batch script: far below a pipe's buffer, written whole.
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  for (size_t off = 0; off < input.size();) {
    ssize_t n = ::write(p.in[1], input.data() + off, input.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  Pipes::close_fd(p.in[1]);
  CommandResult r;
  bool in_time = collect(p, r, std::chrono::steady_clock::now() + deadline);
  if (!in_time) ::kill(*pid, SIGKILL);
  int ws = 0;
  while (::waitpid(*pid, &ws, 0) < 0 && errno == EINTR) {
  }
  if (!in_time)
    return std::unexpected(command_text(argv) + ": no answer within " +
                           std::to_string(deadline.count() / 1000) + " s (killed)");
  r.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  return r;
}

}  // namespace shoal::broker::provision
