// The `nodes` command (docs/protocol.md): the worker pools the broker
// runs jobs on, as nodes. The local pool is "local"; each remote pool
// (`shoal worker` on another host) is named by its host ("<hostname>-<pool
// pid>"). A pool is listed while one of its workers is connected.
//
// And the `metrics` command: the last hour of activity (broker/metrics.h),
// whose pool samples are these pools' slots and busy slots.
#include "broker/broker_impl.h"

namespace shoal::broker {

using nlohmann::json;

namespace {

struct Pool {
  bool remote = false;
  size_t slots = 0, ready = 0, busy = 0;
  std::map<std::string, std::string> labels;
  Clock::time_point last_seen{};
};

// The connected workers grouped by pool (host).
std::map<std::string, Pool> pools_of(const std::map<std::string, WorkerState>& workers) {
  std::map<std::string, Pool> pools;
  for (const auto& [name, w] : workers) {
    Pool& p = pools[w.host];
    p.remote = w.remote;
    ++p.slots;
    p.ready += w.ready;
    p.busy += !w.idle();
    p.labels.insert(w.labels.begin(), w.labels.end());
    p.last_seen = std::max(p.last_seen, w.last_seen);
  }
  return pools;
}

}  // namespace

void Broker::cmd_nodes(Request& r) {
  const auto steady_now = Clock::now();
  const int64_t wall_now = jobs::now_ns();
  json nodes = json::array();
  for (const auto& [host, p] : pools_of(workers_)) {
    const auto ago =
        std::chrono::duration_cast<std::chrono::nanoseconds>(steady_now - p.last_seen).count();
    nodes.push_back({{"id", host},
                     {"remote", p.remote},
                     {"slots", p.slots},
                     {"ready", p.ready},
                     {"busy", p.busy},
                     {"labels", p.labels},
                     {"last_heartbeat_ns", wall_now - std::max<int64_t>(ago, 0)},
                     {"state", p.ready ? "connected" : "starting"}});
  }
  add_pilot_nodes(nodes);
  reply(r.identity, protocol::kOk, {{"nodes", nodes}});
}

void Broker::sample_metrics() {
  std::vector<Metrics::PoolSample> samples;
  size_t running = 0;
  for (const auto& [host, p] : pools_of(workers_)) {
    samples.push_back({host, p.slots, p.busy});
    running += p.busy;
  }
  // The unfinished jobs not on a worker: Pending (fetching inputs) and Queued.
  const size_t waiting = jobs_.size() > running ? jobs_.size() - running : 0;
  metrics_.sample(jobs::now_ns(), waiting, running, samples);
}

void Broker::cmd_metrics(Request& r) {
  reply(r.identity, protocol::kOk, metrics_.to_json(jobs::now_ns()));
}

}  // namespace shoal::broker
