#include "broker/metrics.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace shoal::broker {

using nlohmann::json;

Metrics::Bucket& Metrics::at(int64_t now_ns) {
  const int64_t index = std::max<int64_t>(now_ns, 0) / kBucketNs;
  Bucket& b = ring_[static_cast<size_t>(index) % kBuckets];
  if (b.index != index) {
    b = Bucket{};
    b.index = index;
  }
  return b;
}

const Metrics::Bucket* Metrics::find(int64_t index) const {
  if (index < 0) return nullptr;
  const Bucket& b = ring_[static_cast<size_t>(index) % kBuckets];
  return b.index == index ? &b : nullptr;
}

void Metrics::submitted(int64_t now_ns, size_t jobs) {
  at(now_ns).submitted += static_cast<uint32_t>(jobs);
}

void Metrics::ended(int64_t now_ns, jobs::JobState state, int64_t run_ns) {
  Bucket& b = at(now_ns);
  if (state == jobs::JobState::completed) ++b.completed;
  if (state == jobs::JobState::failed) ++b.failed;
  if (state == jobs::JobState::stopped) ++b.stopped;
  if (run_ns < 0) return;
  const int64_t ms = run_ns / 1'000'000;
  auto bin = std::upper_bound(kRunTimeBoundsMs.begin(), kRunTimeBoundsMs.end(), ms - 1);
  ++b.run_times[static_cast<size_t>(bin - kRunTimeBoundsMs.begin())];
}

void Metrics::sample(int64_t now_ns, size_t waiting, size_t running,
                     const std::vector<PoolSample>& pools) {
  Bucket& b = at(now_ns);
  b.waiting += static_cast<double>(waiting);
  b.running += static_cast<double>(running);
  ++b.samples;
  for (const PoolSample& p : pools) {
    PoolSums& s = b.pools[p.name];
    s.slots += static_cast<double>(p.slots);
    s.busy += static_cast<double>(p.busy);
    ++s.samples;
  }
}

namespace {

// An average to two decimals, or null without samples.
json average(double sum, uint32_t samples) {
  if (!samples) return nullptr;
  return std::round(sum / samples * 100) / 100;
}

}  // namespace

json Metrics::to_json(int64_t now_ns) const {
  const int64_t last = std::max<int64_t>(now_ns, 0) / kBucketNs;
  json start = json::array(), submitted = json::array(), completed = json::array(),
       failed = json::array(), stopped = json::array(), waiting = json::array(),
       running = json::array();
  std::array<uint64_t, kRunTimeBoundsMs.size() + 1> run_times{};
  std::set<std::string> names;
  for (int64_t i = last - static_cast<int64_t>(kBuckets) + 1; i <= last; ++i) {
    const Bucket* b = find(i);
    const Bucket empty;
    const Bucket& x = b ? *b : empty;
    start.push_back(i * kBucketNs);
    submitted.push_back(x.submitted);
    completed.push_back(x.completed);
    failed.push_back(x.failed);
    stopped.push_back(x.stopped);
    waiting.push_back(average(x.waiting, x.samples));
    running.push_back(average(x.running, x.samples));
    for (size_t k = 0; k < run_times.size(); ++k) run_times[k] += x.run_times[k];
    for (const auto& [name, sums] : x.pools) names.insert(name);
  }
  json pools = json::array();
  for (const std::string& name : names) {
    json slots = json::array(), busy = json::array();
    for (int64_t i = last - static_cast<int64_t>(kBuckets) + 1; i <= last; ++i) {
      const PoolSums* p = nullptr;
      if (const Bucket* b = find(i))
        if (auto it = b->pools.find(name); it != b->pools.end()) p = &it->second;
      slots.push_back(p ? average(p->slots, p->samples) : json(nullptr));
      busy.push_back(p ? average(p->busy, p->samples) : json(nullptr));
    }
    pools.push_back({{"id", name}, {"slots", slots}, {"busy", busy}});
  }
  return {{"bucket_seconds", kBucketNs / 1'000'000'000},
          {"start_ns", start},
          {"submitted", submitted},
          {"completed", completed},
          {"failed", failed},
          {"stopped", stopped},
          {"waiting", waiting},
          {"running", running},
          {"run_time_bounds_ms", kRunTimeBoundsMs},
          {"run_times", run_times},
          {"pools", pools}};
}

}  // namespace shoal::broker
