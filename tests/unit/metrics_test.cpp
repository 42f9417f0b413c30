// Metrics: the broker's last hour of activity in 10-second buckets, with
// the time given by hand.
#include "broker/metrics.h"

#include <boost/test/unit_test.hpp>

using namespace shoal;
using broker::Metrics;
using jobs::JobState;
using nlohmann::json;

namespace {

constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kT0 = 1'800'000'000 * kS;  // on a bucket's start

uint64_t sum(const json& column) {
  uint64_t n = 0;
  for (const auto& v : column)
    if (!v.is_null()) n += v.get<uint64_t>();
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(counts_land_in_the_bucket_of_their_time) {
  Metrics m;
  m.submitted(kT0 + 1 * kS, 3);
  m.ended(kT0 + 2 * kS, JobState::completed, 50'000'000);
  m.ended(kT0 + 12 * kS, JobState::failed, 2 * kS);
  m.ended(kT0 + 13 * kS, JobState::stopped, -1);
  const json j = m.to_json(kT0 + 15 * kS);
  BOOST_TEST(j["bucket_seconds"] == 10);
  BOOST_TEST(j["start_ns"].size() == Metrics::kBuckets);
  BOOST_TEST(j["start_ns"].back() == kT0 + 10 * kS);  // the bucket now
  BOOST_TEST(j["submitted"][Metrics::kBuckets - 2] == 3);
  BOOST_TEST(j["completed"][Metrics::kBuckets - 2] == 1);
  BOOST_TEST(j["failed"].back() == 1);
  BOOST_TEST(j["stopped"].back() == 1);
  // 50 ms falls in (30, 100]; 2 s in (1000, 3000]; a job that never ran is
  // not in the histogram.
  BOOST_TEST(j["run_time_bounds_ms"].size() + 1 == j["run_times"].size());
  BOOST_TEST(j["run_times"][2] == 1);
  BOOST_TEST(j["run_times"][5] == 1);
  BOOST_TEST(sum(j["run_times"]) == 2);
}

BOOST_AUTO_TEST_CASE(samples_are_averaged_and_absent_ones_are_null) {
  Metrics m;
  m.sample(kT0, 4, 1, {{"local", 2, 1}});
  m.sample(kT0 + 1 * kS, 2, 2, {{"local", 2, 2}, {"h-1", 4, 0}});
  const json j = m.to_json(kT0 + 20 * kS);
  const size_t b = Metrics::kBuckets - 3;  // kT0's bucket, two before now
  BOOST_TEST(j["waiting"][b] == 3.0);
  BOOST_TEST(j["running"][b] == 1.5);
  BOOST_TEST(j["waiting"].back().is_null());
  BOOST_TEST(j["pools"].size() == 2);
  const json& h = j["pools"][0];  // sorted by name: "h-1", "local"
  BOOST_TEST(h["id"] == "h-1");
  BOOST_TEST(h["slots"][b] == 4.0);
  const json& local = j["pools"][1];
  BOOST_TEST(local["busy"][b] == 1.5);
  BOOST_TEST(local["busy"][b + 1].is_null());
}

BOOST_AUTO_TEST_CASE(an_hour_later_the_ring_has_forgotten) {
  Metrics m;
  m.submitted(kT0, 5);
  m.sample(kT0, 1, 1, {{"local", 1, 1}});
  BOOST_TEST(sum(m.to_json(kT0 + 3599 * kS)["submitted"]) == 5);  // the oldest bucket
  // The same ring slot, written an hour later, starts empty.
  m.submitted(kT0 + 3600 * kS, 1);
  const json j = m.to_json(kT0 + 3600 * kS);
  BOOST_TEST(sum(j["submitted"]) == 1);
  BOOST_TEST(j["pools"].empty());
  // Read later still, without a write, the old buckets are not shown.
  BOOST_TEST(sum(m.to_json(kT0 + 7300 * kS)["submitted"]) == 0);
}
