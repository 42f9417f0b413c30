// Where a user's broker keeps its state, and the endpoints it listens on.
#pragma once

#include <expected>
#include <string>

namespace shoal::host {

struct StateDir {
  std::string root;       // $SHOAL_HOME, else $XDG_STATE_HOME/shoal, else ~/.local/state/shoal
  std::string run_dir;    // root/run, mode 0700: the sockets
  std::string store_dir;  // root/store: LMDB
  std::string scratch;    // root/scratch: per-execution output directories
  std::string cache;      // root/cache: fetched URL inputs
  std::string log_file;   // root/broker.log
  std::string lock_file() const { return run_dir + "/broker.lock"; }
  std::string client_endpoint() const { return "ipc://" + run_dir + "/broker.sock"; }
  std::string worker_endpoint() const { return "ipc://" + run_dir + "/workers.sock"; }
  std::string client_socket_path() const { return run_dir + "/broker.sock"; }
};

// Whether a broker holds the state directory's lock now.
bool broker_running(const StateDir& dir);

// Takes the state directory's broker lock for the life of the process;
// fails with a message when another broker holds it.
std::expected<int, std::string> lock_broker(const StateDir& dir);

// The paths, without touching the file system.
StateDir state_dir();
// The paths for the state directory `root` (made absolute).
StateDir state_dir_at(const std::string& root);

// Creates the directories (run/ with mode 0700, and made 0700 if it was
// not). Fails with a message naming the directory.
std::expected<void, std::string> prepare(const StateDir& dir);

}  // namespace shoal::host
