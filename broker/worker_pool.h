// The broker's local worker processes: starting them, noticing when they
// die, and killing the ones that stop answering.
#pragma once

#include <sys/types.h>

#include <expected>
#include <string>
#include <vector>

namespace shoal::broker {

struct DeadWorker {
  std::string name;
  std::string cause;  // "exited with status 1", "killed by signal 9"
};

class WorkerPool {
 public:
  // `code_cache`: the directory workers keep compiled code in (empty: none).
  WorkerPool(std::string binary, std::string endpoint, std::string log_file,
             std::string code_cache = {})
      : binary_(std::move(binary)),
        endpoint_(std::move(endpoint)),
        log_(std::move(log_file)),
        code_cache_(std::move(code_cache)) {}
  ~WorkerPool();

  // Arguments every worker gets after `--endpoint E --name N` (a remote
  // pool's keys and labels).
  void set_extra_args(std::vector<std::string> args) { extra_args_ = std::move(args); }
  // Starts a worker called `name`. Fails with a message naming the binary.
  std::expected<void, std::string> spawn(const std::string& name);
  // Sends SIGKILL to the worker (it will show up in reap()).
  void kill(const std::string& name);
  // Workers that have exited since the last call.
  std::vector<DeadWorker> reap();
  // Kills every worker and waits for them.
  void stop_all();
  size_t size() const { return procs_.size(); }
  pid_t pid_of(const std::string& name) const;

 private:
  struct Proc {
    std::string name;
    pid_t pid;
  };
  std::string binary_, endpoint_, log_, code_cache_;
  std::vector<std::string> extra_args_;
  std::vector<Proc> procs_;
};

}  // namespace shoal::broker
