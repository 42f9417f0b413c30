// The broker's activity over the last hour, for the dashboard's plots (the
// `metrics` command, docs/protocol.md): a ring of 360 buckets of 10 s each,
// keyed by wall time. Each bucket counts the jobs submitted and ended in it
// (by end state) and the run times of the ended jobs (a histogram), and
// averages what the broker sampled in it (about once a second): jobs
// waiting to run, jobs running, and each worker pool's slots and busy
// slots. A bucket the broker was not running in has no samples.
//
// Pure state: no sockets, store or clock of its own (every call is given
// the time). Used by the broker's loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/job.h"

namespace shoal::broker {

class Metrics {
 public:
  static constexpr int64_t kBucketNs = 10'000'000'000;  // 10 s
  static constexpr size_t kBuckets = 360;               // one hour
  // The run-time histogram's upper bounds in milliseconds; a last bin holds
  // what is longer than the last bound.
  static constexpr std::array<int64_t, 12> kRunTimeBoundsMs{
      10, 30, 100, 300, 1'000, 3'000, 10'000, 30'000, 60'000, 300'000, 900'000, 3'600'000};

  struct PoolSample {
    std::string name;  // "local", or a remote pool's host
    size_t slots = 0, busy = 0;
  };

  void submitted(int64_t now_ns, size_t jobs = 1);
  // A job ended in `state`; `run_ns` is its last execution's run time, or
  // negative when it never ran (not in the histogram).
  void ended(int64_t now_ns, jobs::JobState state, int64_t run_ns);
  void sample(int64_t now_ns, size_t waiting, size_t running, const std::vector<PoolSample>& pools);

  // The last hour up to `now_ns`, oldest bucket first (docs/protocol.md,
  // `metrics`): counts per bucket, averages per bucket (null where nothing
  // was sampled), the histogram summed over the hour, and each pool seen
  // in the hour.
  nlohmann::json to_json(int64_t now_ns) const;

 private:
  struct PoolSums {
    double slots = 0, busy = 0;
    uint32_t samples = 0;
  };
  struct Bucket {
    int64_t index = -1;  // now_ns / kBucketNs when last written; else stale
    uint32_t submitted = 0, completed = 0, failed = 0, stopped = 0;
    std::array<uint32_t, kRunTimeBoundsMs.size() + 1> run_times{};
    double waiting = 0, running = 0;  // sums of the samples
    uint32_t samples = 0;
    std::map<std::string, PoolSums> pools;
  };
  Bucket& at(int64_t now_ns);
  const Bucket* find(int64_t index) const;

  std::array<Bucket, kBuckets> ring_{};
};

}  // namespace shoal::broker
