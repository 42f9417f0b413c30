#include "broker/module_holders.h"

namespace shoal::broker {

bool ModuleHolders::holds(const RunPlace& place, const std::string& hash) const {
  const auto& by = place.remote ? hosts_ : workers_;
  auto it = by.find(place.remote ? place.host : place.worker);
  return it != by.end() && it->second.contains(hash);
}

void ModuleHolders::sent(const RunPlace& place, const std::string& hash) {
  if (place.remote) {
    hosts_[place.host].insert(hash);
    return;
  }
  auto& held = workers_[place.worker];
  if (held.size() >= kWorkerModules) held.clear();
  held.insert(hash);
}

void ModuleHolders::forget_worker(const std::string& name) {
  workers_.erase(name);
}

}  // namespace shoal::broker
