// The `nodes` command (docs/protocol.md): the worker pools the broker
// runs jobs on, as nodes. The local pool is "local"; each remote pool
// (`shoal worker` on another host) is named by its host ("<hostname>-<pool
// pid>"). A pool is listed while one of its workers is connected.
#include "broker/broker_impl.h"

namespace shoal::broker {

using nlohmann::json;

void Broker::cmd_nodes(Request& r) {
  struct Pool {
    bool remote = false;
    size_t slots = 0, ready = 0, busy = 0;
    std::map<std::string, std::string> labels;
    Clock::time_point last_seen{};
  };
  std::map<std::string, Pool> pools;
  for (const auto& [name, w] : workers_) {
    Pool& p = pools[w.host];
    p.remote = w.remote;
    ++p.slots;
    p.ready += w.ready;
    p.busy += !w.exec_id.empty();
    p.labels.insert(w.labels.begin(), w.labels.end());
    p.last_seen = std::max(p.last_seen, w.last_seen);
  }
  const auto steady_now = Clock::now();
  const int64_t wall_now = jobs::now_ns();
  json nodes = json::array();
  for (const auto& [host, p] : pools) {
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

}  // namespace shoal::broker
