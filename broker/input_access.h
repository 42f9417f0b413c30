// Who may name host paths as job inputs (docs/remote.md, "Trust model").
// Every local-path input of a submission goes through InputAccess::check,
// the one place that decides:
//
// - A local client (the broker's own user, over the ipc socket in the
//   private run/ directory) may name any file or directory it names today,
//   except the broker's state directory: nothing inside it (keys/, the
//   store, the sockets, the scratch area, the log) and no directory that
//   holds it, since a job could then read the broker's secret key.
// - A remote client (a CURVE peer over TCP, and any later front end that is
//   not the local user) may name only paths inside the data roots given to
//   `shoal serve --data-root DIR`; with none, no local path at all. Inside a
//   root the path is walked one component at a time with
//   openat(O_NOFOLLOW), so no symbolic link is followed (one inside the
//   root that points out of it cannot lead out), and ".." is refused.
//
// The check happens at submission; the path the job keeps is the one
// check() returns (for a remote client, the root's real path and the
// components walked), so what is mounted later is what was checked unless
// someone with write access to the root changes it meanwhile.
#pragma once

#include <expected>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "host/state_dir.h"

namespace shoal::broker {

// Where a request came from.
enum class Origin {
  local,   // the ipc socket: the broker's own user
  remote,  // a peer that passed the ZAP handler (CURVE over TCP)
};

// The origin of a message `frame` received on the client ROUTER: remote
// when ZAP gave its connection a User-Id (broker/zap.cpp sets one for every
// peer it accepts; ipc connections never go through ZAP).
Origin origin_of(const zmq::message_t& frame);

class InputAccess {
 public:
  // The rules for the broker of `dir` with these data roots (absolute
  // paths). Fails, naming the root and the cause, when a root is not an
  // existing directory, holds the state directory or lies inside it.
  static std::expected<InputAccess, std::string> make(const host::StateDir& dir,
                                                      const std::vector<std::string>& data_roots);

  // The host path to keep and mount for the input `source` that a client
  // of `origin` named, or why it may not be read (a message to follow
  // "input SOURCE: "). A local client's path is returned as given; a remote
  // client's as resolved inside its data root. Regular files and
  // directories only, for a remote client.
  std::expected<std::string, std::string> check(Origin origin, const std::string& source) const;

  // The data roots' real paths, in the order given.
  const std::vector<std::string>& data_roots() const { return roots_; }

 private:
  struct Root {
    std::string given;  // absolute and normalised, as configured
    std::string real;   // realpath() at start
  };
  std::expected<std::string, std::string> check_remote(const std::string& source) const;
  std::expected<void, std::string> outside_state(const std::string& real) const;

  std::string state_root_;  // the state directory's real path
  std::vector<Root> data_roots_;
  std::vector<std::string> roots_;
};

}  // namespace shoal::broker
