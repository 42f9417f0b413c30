// The provisioner's glue (docs/slurm.md): the broker starts it when
// --provider asks for one, hands it the demand every half second, fails
// the jobs of placements the engine refused, and shows pilots as nodes.
#include <unistd.h>

#include "broker/broker_impl.h"
#include "broker/provision/slurm_provider.h"
#include "host/keys.h"

namespace shoal::broker {

using nlohmann::json;

namespace {

constexpr auto kProvisionEvery = std::chrono::milliseconds(500);

// `endpoint` with a wildcard address (0.0.0.0, *) replaced by this host's
// name, so that pilots on other nodes can reach it.
std::string reachable(const std::string& endpoint) {
  const std::string scheme = "tcp://";
  if (!endpoint.starts_with(scheme)) return endpoint;
  const size_t colon = endpoint.rfind(':');
  const std::string host = endpoint.substr(scheme.size(), colon - scheme.size());
  if (host != "0.0.0.0" && host != "*" && host != "[::]") return endpoint;
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return scheme + name + endpoint.substr(colon);
}

}  // namespace

std::string WorkerState::pilot_place() const {
  auto pilot = labels.find("shoal.pilot");
  if (pilot == labels.end()) return "";
  auto job = labels.find("slurm.job");
  auto node = labels.find("slurm.node");
  return "Slurm job " + (job == labels.end() ? std::string("?") : job->second) + " on node " +
         (node == labels.end() ? std::string("?") : node->second) + ", pilot " + pilot->second;
}

bool Broker::start_provisioner() {
  const auto& p = opt_.pilots;
  if (p.provider.empty()) return true;
  if (p.provider != "slurm") {
    log_->error("--provider {}: unknown (the one there is: slurm)", p.provider);
    return false;
  }
  if (p.partition.empty() || p.max_workers < 1) {
    log_->error(
        "--provider {} needs --slurm-partition and --max-workers (pilots.partition, "
        "pilots.max_workers)",
        p.provider);
    return false;
  }
  if (worker_tcp_.empty() && p.connect.empty()) {
    log_->error(
        "--provider {} needs a TCP worker endpoint for its pilots: --listen or "
        "--listen-workers",
        p.provider);
    return false;
  }
  auto keys = host::server_keys(opt_.dir);
  if (!keys) {
    log_->error("pilots: {}", keys.error());
    return false;
  }
  provision::ProvisionerOptions o;
  o.limits = {p.min_workers,
              p.max_workers,
              p.slots,
              std::chrono::seconds(p.idle_seconds),
              {p.partition, ""}};
  o.time_limit_minutes = p.time_limit_minutes;
  o.extra_options = p.slurm_options;
  o.connect = p.connect.empty() ? reachable(worker_tcp_) : p.connect;
  o.server_key = keys->public_key;
  o.shoal_binary = opt_.shoal_binary;
  auto id = provision::pilot_broker_id(opt_.dir);
  if (!id) {
    log_->error("pilots: {}", id.error());
    return false;
  }
  auto started = provision::Provisioner::start(o, opt_.dir, provision::slurm_provider({*id, ""}),
                                               [log = log_](bool error, const std::string& m) {
                                                 error ? log->error("pilots: {}", m)
                                                       : log->info("pilots: {}", m);
                                               });
  if (!started) {
    log_->error("pilots: {}", started.error());
    return false;
  }
  provisioner_ = std::move(*started);
  log_->info("pilots on Slurm partition {}: {} to {} of {} slots each, connecting to {}",
             p.partition, p.min_workers, p.max_workers, p.slots, o.connect);
  return true;
}

void Broker::provision_round() {
  if (!provisioner_) return;
  const auto now = Clock::now();
  if (now < next_provision_) return;
  next_provision_ = now + kProvisionEvery;
  for (const auto& refusal : provisioner_->take_refusals()) {
    std::vector<std::string> failing;
    jobs_.each_queued([&](const jobs::Job& job) {
      if (provision::placement_for(job.spec.constraints, opt_.pilots.partition) ==
          refusal.placement)
        failing.push_back(job.id);
    });
    for (const auto& id : failing)
      jobs_.fail_unstarted(id, "Slurm refused a pilot for " + refusal.placement.text() +
                                   ", which this job's constraints need: " + refusal.message);
  }
  drop_ended_pilots();
  provision::Demand demand;
  jobs_.each_queued([&](const jobs::Job& job) {
    if (auto p = provision::placement_for(job.spec.constraints, opt_.pilots.partition))
      ++demand.queued[*p];
  });
  for (const auto& [name, w] : workers_) {
    auto pilot = w.labels.find("shoal.pilot");
    if (pilot == w.labels.end() || !w.ready) continue;
    auto& link = demand.links[pilot->second];
    ++link.workers;
    link.busy += !w.idle();
  }
  for (auto& [name, link] : demand.links) {
    auto since = pilot_idle_since_.find(name);
    if (link.busy > 0 || since == pilot_idle_since_.end()) pilot_idle_since_[name] = now;
    link.idle_since = pilot_idle_since_[name];
  }
  std::erase_if(pilot_idle_since_, [&](const auto& e) { return !demand.links.contains(e.first); });
  provisioner_->update(std::move(demand));
}

std::optional<std::string> Broker::pilot_key_refuses(const zmq::message_t& frame,
                                                     const wire::Ready& ready) {
  const char* user = ::zmq_msg_gets(frame.handle(), "User-Id");
  const std::string key = user ? user : "";
  auto label = ready.labels.find("shoal.pilot");
  const std::string claimed = label == ready.labels.end() ? "" : "pilot-" + label->second;
  const bool pilot_key = key.starts_with("pilot-");
  if (claimed.empty() && !pilot_key) return std::nullopt;
  if (claimed == key) return std::nullopt;
  if (claimed.empty()) return "the key " + key + " is a pilot's, and this pool is no pilot";
  return "it says it is " + claimed + " but its key is " + (key.empty() ? "none" : key);
}

void Broker::drop_ended_pilots() {
  auto pilots = provisioner_->pilots();
  if (!pilots) return;
  std::set<std::string> live;
  for (const auto& p : *pilots) live.insert(p.name);
  std::vector<std::string> gone;
  for (const auto& [name, w] : workers_)
    if (auto pilot = w.labels.find("shoal.pilot");
        pilot != w.labels.end() && !live.contains(pilot->second))
      gone.push_back(name);
  for (const auto& name : gone) {
    send_to_worker(name, wire::kBye, "");
    on_worker_lost(name, "its pilot ended in Slurm");
  }
}

void Broker::add_pilot_nodes(json& nodes) const {
  if (!provisioner_) return;
  const int64_t now = jobs::now_ns();
  auto pilots = provisioner_->pilots();
  if (!pilots) return;
  for (const auto& p : *pilots) {
    json pilot = {{"name", p.name},
                  {"provider", p.engine},
                  {"job_id", p.job_id},
                  {"state", p.state},
                  {"node", p.node},
                  {"reason", p.reason},
                  {"partition", p.placement.partition},
                  {"feature", p.placement.feature},
                  {"slots", p.slots},
                  {"submitted_ns", p.submitted_ns},
                  {"age_s", p.submitted_ns ? (now - p.submitted_ns) / 1000000000 : 0}};
    bool connected = false;
    for (auto& n : nodes)
      if (n["labels"].value("shoal.pilot", "") == p.name) {
        n["pilot"] = pilot;
        connected = true;
      }
    if (connected) continue;
    nodes.push_back({{"id", p.name},
                     {"remote", true},
                     {"slots", p.slots},
                     {"ready", 0},
                     {"busy", 0},
                     {"labels", provision::pilot_labels(p.name, p.placement)},
                     {"last_heartbeat_ns", 0},
                     {"state", p.state == "PENDING" ? "pending" : "starting"},
                     {"pilot", pilot}});
  }
}

}  // namespace shoal::broker
