// The provisioner (docs/slurm.md): asks a cluster engine (provider.h) for
// pilots, each a `shoal worker` pool of `slots` workers that connects back
// to this broker over TCP with CURVE, when jobs wait that no connected
// worker takes, and gives them back when they are idle (scaling.h's
// policy).
//
// Each pilot has its own CURVE key pair, made when it is submitted in
// STATE/pilots/NAME/keys (0700; the secret 0600; the pilot reads it from
// there, so the broker's state directory must be on a file system the
// nodes share), authorised as the worker key `pilot-NAME` and revoked (the
// key file and the pilot's directory removed) once the engine no longer
// lists the pilot. Neither the batch script nor the engine's job record
// holds a secret. A broker started again finds its pilots by the engine's
// listing (the job name and comment, slurm_provider.h) and the
// directories it left.
//
// Threading: the engine's commands run on the provisioner's own thread,
// never on the broker's loop. The loop hands it the demand (update), and
// takes the pilots as listed (pilots) and the placements the engine
// refused (take_refusals); each of those takes a mutex briefly.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker/provision/provider.h"
#include "broker/provision/scaling.h"
#include "host/state_dir.h"

namespace shoal::broker::provision {

struct ProvisionerOptions {
  ScalingLimits limits;
  int time_limit_minutes = 0;              // 0: the partition's default
  std::vector<std::string> extra_options;  // to the engine, as given
  std::string connect;                     // where pilots connect: tcp://HOST:PORT
  std::string server_key;                  // the broker's public key
  std::string shoal_binary;                // the `shoal` the pilots run
};

// What the loop knows of one pilot's workers.
struct PilotLink {
  size_t workers = 0, busy = 0;
  ScaleClock::time_point idle_since{};
};

struct Demand {
  std::map<Placement, size_t> queued;      // jobs only a new pilot would take
  std::map<std::string, PilotLink> links;  // connected pilots, by name
};

// A pilot as the broker shows it (shoal node list).
struct PilotInfo {
  std::string name, engine, job_id, state, node, reason;
  Placement placement;
  int slots = 0;
  int64_t submitted_ns = 0;  // wall clock; 0 when found again after a restart, unknown
};

// The engine refused pilots for `placement` (a partition or feature it
// does not have): the jobs that need it are to fail with `message`.
struct Refusal {
  Placement placement;
  std::string message;
};

// This broker's id among the pilots of an engine (8 hex digits, kept in
// STATE/pilots/broker-id, made the first time; STATE/pilots made 0700):
// a provider names the broker's pilots by it.
std::expected<std::string, std::string> pilot_broker_id(const host::StateDir& dir);

class Provisioner {
 public:
  using Log = std::function<void(bool error, const std::string& message)>;
  // Starts the thread; fails naming what it could not prepare
  // (STATE/pilots, the broker id).
  static std::expected<std::unique_ptr<Provisioner>, std::string> start(
      ProvisionerOptions options, host::StateDir dir, std::unique_ptr<Provider> provider, Log log);
  ~Provisioner();  // stops the thread; pilots are left running (found again later)

  void update(Demand demand);
  // The pilots as last listed; nullopt until the engine has answered once
  // (after a restart, pilots not yet found again are not known to be gone).
  std::optional<std::vector<PilotInfo>> pilots() const;
  std::vector<Refusal> take_refusals();
  // At a clean shutdown: cancels every pilot and revokes its key, then
  // stops the thread.
  void cancel_all();

 private:
  struct Pilot {
    PilotInfo info;
    ScaleClock::time_point submitted{};
    bool cancelling = false;
  };
  Provisioner(ProvisionerOptions options, host::StateDir dir, std::unique_ptr<Provider> provider,
              Log log, std::string broker_id);
  void run();
  void round();
  // The engine's listing into pilots_: updates, adoptions after a restart,
  // orphans cancelled, ended pilots revoked. False when it cannot list.
  bool reconcile();
  void submit(const Placement& placement);
  void cancel(Pilot& pilot);
  void revoke(const std::string& name);
  std::vector<PilotView> views(const Demand& demand) const;
  void publish();
  std::string pilot_dir(const std::string& name) const;
  std::string script(const std::string& name, const Placement& placement) const;

  ProvisionerOptions o_;
  host::StateDir dir_;
  std::unique_ptr<Provider> provider_;
  Log log_;
  std::string broker_id_;
  // The thread's own.
  std::map<std::string, Pilot> pilots_;
  std::map<Placement, ScaleClock::time_point> refused_until_;
  ScaleClock::time_point retry_after_{};
  std::string last_error_;
  bool listed_once_ = false;
  // Shared with the loop, under mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Demand demand_;
  std::optional<std::vector<PilotInfo>> published_;
  std::vector<Refusal> refusals_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace shoal::broker::provision
