// The broker's local worker processes: starting them, noticing when they
// die, and killing the ones that stop answering.
//
// Local workers never outlive their broker. Each is started with the
// broker's pid and asks the kernel to SIGKILL it when that parent dies
// (`shoal-worker serve --parent-pid`), and each holds a shared POSIX lock on
// the state directory's `run/workers.lock` while it lives. A broker that
// starts on the same state directory calls `fence_previous()` before it
// re-queues anything: it takes that lock exclusively, killing whatever
// worker still holds it, so that a job re-queued after a crash can never run
// beside the execution the dead broker had started.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <expected>
#include <string>
#include <vector>

namespace shoal::host {

struct DeadWorker {
  std::string name;
  std::string cause;  // "exited with status 1", "was killed by signal 9 (Killed)"
};

class WorkerPool {
 public:
  // `fence_file` is the lock file each worker holds shared while it lives
  // (empty: none); `code_cache` the directory workers keep compiled code in
  // (empty: none). Workers die with the process that spawned them.
  WorkerPool(std::string binary, std::string endpoint, std::string log_file,
             std::string fence_file = {}, std::string code_cache = {})
      : binary_(std::move(binary)),
        endpoint_(std::move(endpoint)),
        log_(std::move(log_file)),
        fence_(std::move(fence_file)),
        code_cache_(std::move(code_cache)) {}
  ~WorkerPool();

  // Arguments every worker gets after `--endpoint E --name N` (a remote
  // pool's keys and labels).
  void set_extra_args(std::vector<std::string> args) { extra_args_ = std::move(args); }

  // Returns once no process holds the fence file's lock (every worker of an
  // earlier broker is dead), sending SIGKILL to the holders it finds; pids
  // are checked to be `shoal-worker` processes first. Gives up with a
  // message after `limit` (a holder that is not a worker, or that does not
  // die): the caller must not run jobs then.
  std::expected<int, std::string> fence_previous(std::chrono::milliseconds limit);

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
  std::string binary_, endpoint_, log_, fence_, code_cache_;
  std::vector<std::string> extra_args_;
  std::vector<Proc> procs_;
};

}  // namespace shoal::host
