// A private state directory for integration tests that drive the real
// `shoal` binary, hence a broker of its own (auto-started by the first
// command, shut down by the destructor), and what the tests read of its
// processes from /proc.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <dirent.h>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "client/client.h"
#include "tests/support/process.h"

namespace shoal::test {

inline std::string shoal_bin() {
  return required_env("SHOAL_BIN");
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// SHOAL_HOME is set to `path` for the life of the object (a TempDir's, or
// one the test prepared, such as a tmpfs mount).
struct Home {
  std::string path;
  explicit Home(std::string p) : path(std::move(p)) { ::setenv("SHOAL_HOME", path.c_str(), 1); }
  // Shuts the broker down and waits until it has let go of the state
  // directory (its lock), so that the next test may start another.
  ~Home() {
    run_process({shoal_bin(), "shutdown"});
    for (int i = 0; i < 1000 && locked(); ++i) ::usleep(10000);
    ::unsetenv("SHOAL_HOME");
  }
  Home(const Home&) = delete;
  Home& operator=(const Home&) = delete;

  ProcessResult shoal(std::vector<std::string> args, const std::string& input = "") const {
    args.insert(args.begin(), shoal_bin());
    return run_process(args, input);
  }
  // The job as the broker records it: the job JSON of docs/protocol.md
  // (snake_case, with what Bacalhau's model has no place for: byte counts,
  // workers, output files), read through the client library as any client
  // program reads it. `shoal job describe --output json` prints Bacalhau's
  // model instead (`describe`). Fails the test when the job cannot be read.
  nlohmann::json job(const std::string& id) const {
    client::Options o;
    o.state_dir = path;
    o.shoal_binary = shoal_bin();
    auto c = client::Client::connect(o);
    if (!c) throw std::runtime_error("connect: " + c.error());
    auto j = c->describe(id);
    if (!j) throw std::runtime_error("describe " + id + ": " + j.error());
    return *j;
  }
  // `job describe ID --output json`: Bacalhau's GetJobResponse ({Job,
  // History, Executions}); fails the test when the command fails.
  nlohmann::json describe(const std::string& id) const {
    auto r = shoal({"job", "describe", id, "--output", "json"});
    if (r.status != 0) throw std::runtime_error("job describe " + id + ": " + r.err);
    return nlohmann::json::parse(r.out);
  }
  // Whether a broker holds the state directory's lock.
  bool locked() const {
    int fd = ::open((path + "/run/broker.lock").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
    ::close(fd);
    return held;
  }
  // The broker's pid from run/broker.pid (0 when there is none).
  int broker_pid() const {
    std::ifstream in(path + "/run/broker.pid");
    int pid = 0;
    in >> pid;
    return pid;
  }
};

// A Home in a fresh temporary directory (`dir`), removed after the broker
// has been shut down.
struct TempDirHolder {
  TempDir dir;
};
struct PrivateHome : TempDirHolder, Home {
  PrivateHome() : Home(dir.path()) {}
};

// The pids of the live processes whose parent is `parent` and whose command
// name is `comm`.
inline std::vector<int> children(int parent, const std::string& comm) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid ...: comm may hold spaces, so split at the last ')'.
    size_t open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && line.substr(open + 1, close - open - 1) == comm && state != 'Z')
      out.push_back(pid);
  }
  ::closedir(d);
  return out;
}

// A /proc/PID/status field in KiB (VmRSS, VmHWM), or 0.
inline uint64_t status_kib(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(field + ":")) return std::stoull(line.substr(field.size() + 1));
  return 0;
}

}  // namespace shoal::test
