// A cluster engine that runs shoal's pilots: batch jobs, each of which runs
// one `shoal worker --connect ...` pool for the broker (docs/slurm.md). The
// broker's provisioner (provisioner.h) decides when to ask for one and when
// to give one back; a Provider only speaks to the engine. Slurm is
// slurm_provider.h; another engine (Kubernetes Jobs, Nomad) is one more
// implementation of this interface.
//
// Errors are values naming the command and what the engine said. A
// Provider is used by one thread at a time (the provisioner's).
#pragma once

#include <compare>
#include <cstdint>
#include <expected>
#include <string>
#include <vector>

namespace shoal::broker::provision {

// Where a pilot runs: an engine's partition (queue) and a node feature it
// must have; empty: the provisioner's default partition, any node.
struct Placement {
  std::string partition;
  std::string feature;
  auto operator<=>(const Placement&) const = default;
  // "partition gpu, feature avx512", for messages.
  std::string text() const;
};

// One pilot to submit.
struct PilotRequest {
  std::string name;                        // the pilot's own name, unique to this broker
  Placement placement;                     // partition resolved (never empty)
  int slots = 1;                           // worker processes, one CPU each
  int time_limit_minutes = 0;              // 0: the partition's default
  std::vector<std::string> extra_options;  // given to the engine as they are
  std::string script;                      // the batch script (sh); no secret in it
  std::string log_file;                    // where the engine writes the script's output
};

// A pilot as the engine lists it.
struct PilotStatus {
  std::string name;    // PilotRequest::name
  std::string job_id;  // the engine's id
  std::string state;   // the engine's word: PENDING, RUNNING, COMPLETING...
  std::string node;    // where it runs; empty while pending
  std::string reason;  // why it waits, when it does
  bool pending() const { return state == "PENDING" || state == "CONFIGURING"; }
};

// A refused submission: `permanent` when the engine itself refused this
// request (a partition or feature it does not have), so that asking again
// is useless; else (the engine unreachable, a timeout) worth a retry.
struct SubmitError {
  std::string message;
  bool permanent = false;
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual std::string engine() const = 0;  // "slurm"
  // Submits the pilot; its engine id.
  virtual std::expected<std::string, SubmitError> submit(const PilotRequest& pilot) = 0;
  // Ends the pilot (pending or running); ending one already gone is no error.
  virtual std::expected<void, std::string> cancel(const std::string& job_id) = 0;
  // This broker's pilots the engine knows now (pending, running, ending).
  virtual std::expected<std::vector<PilotStatus>, std::string> list() = 0;
};

}  // namespace shoal::broker::provision
