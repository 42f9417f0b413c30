// The engine keeps one isolate across runs: whatever ends one run (a trap,
// proc_exit, the watchdog, a stop request, a memory limit) must leave the
// next run of the same process unaffected, and every run gets a fresh
// instance.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <iterator>

#include "tests/support/process.h"
#include "wasi/environment.h"
#include "wasi/output_sink.h"
#include "worker/engine.h"

using namespace shoal;
using shoal::test::test_wasm;

namespace {

std::vector<uint8_t> load(const std::string& name) {
  std::ifstream in(test_wasm(name), std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Outcome {
  std::expected<uint32_t, worker::RunError> result;
  std::string out;
  worker::RunStats stats;
};

Outcome run(const std::string& name, std::vector<std::string> args = {},
            worker::RunOptions options = {}) {
  wasi::BufferSink out, err;
  wasi::Config config;
  config.args = {name};
  config.args.insert(config.args.end(), args.begin(), args.end());
  config.stdout_sink = &out;
  config.stderr_sink = &err;
  auto env = wasi::Environment::create(config);
  BOOST_REQUIRE(env.has_value());
  Outcome o;
  options.stats = &o.stats;
  if (options.cache_key.empty()) options.cache_key = name;
  auto bytes = load(name);
  o.result = worker::run_wasi_command(bytes, **env, options);
  o.out = out.contents();
  return o;
}

// The check that follows every kind of ending: a fresh instance that runs
// to completion in the same process.
void next_run_is_clean() {
  auto o = run("counter");
  BOOST_TEST(o.result.has_value());
  BOOST_TEST(o.result.value_or(99) == 0u);
  BOOST_TEST(o.out == "1\n");
}

}  // namespace

BOOST_AUTO_TEST_CASE(runs_of_one_process_reuse_the_compiled_module_with_a_fresh_instance) {
  auto first = run("counter");
  BOOST_TEST(first.out == "1\n");
  for (int i = 0; i < 5; ++i) {
    auto o = run("counter");
    BOOST_TEST(o.out == "1\n");
    BOOST_TEST((o.stats.source == worker::RunStats::Source::worker_memory));
  }
}

BOOST_AUTO_TEST_CASE(a_timeout_does_not_stop_the_next_run) {
  worker::RunOptions options;
  options.timeout = std::chrono::milliseconds(400);  // time to print, even on a busy machine
  auto o = run("spin", {}, options);
  BOOST_REQUIRE(!o.result.has_value());
  BOOST_TEST((o.result.error().kind == worker::RunError::Kind::timeout));
  BOOST_TEST(o.out == "spinning\n");
  next_run_is_clean();
}

BOOST_AUTO_TEST_CASE(a_trap_does_not_break_the_next_run) {
  auto o = run("trap");
  BOOST_REQUIRE(!o.result.has_value());
  BOOST_TEST((o.result.error().kind == worker::RunError::Kind::trap));
  BOOST_TEST(o.out == "before the trap\n");
  next_run_is_clean();
}

BOOST_AUTO_TEST_CASE(proc_exit_does_not_end_the_next_run) {
  auto o = run("exit_code", {"7"});
  BOOST_TEST(o.result.value_or(99) == 7u);
  BOOST_TEST(o.out == "exiting with 7\n");
  next_run_is_clean();
}

BOOST_AUTO_TEST_CASE(a_stop_request_does_not_stop_the_next_run) {
  worker::RunControl control;
  control.cancel();
  worker::RunOptions options;
  options.control = &control;
  auto o = run("spin", {}, options);
  BOOST_REQUIRE(!o.result.has_value());
  BOOST_TEST((o.result.error().kind == worker::RunError::Kind::cancelled));
  next_run_is_clean();
}

BOOST_AUTO_TEST_CASE(a_memory_limit_holds_for_its_run_only) {
  worker::RunOptions limited;
  limited.memory_limit = 8u << 20;
  auto small = run("memory_hog", {"32"}, limited);
  BOOST_TEST(small.result.value_or(99) == 0u);
  BOOST_TEST(small.out.starts_with("allocated "));
  BOOST_TEST(small.out != "allocated 32 MiB (1)\n");
  auto big = run("memory_hog", {"32"});
  BOOST_TEST(big.result.value_or(99) == 0u);
  BOOST_TEST(big.out == "allocated 32 MiB (1)\n");
  auto again = run("memory_hog", {"32"}, limited);
  BOOST_TEST(again.out == small.out);
  next_run_is_clean();
}

BOOST_AUTO_TEST_CASE(a_thousand_runs_keep_working) {
  for (int i = 0; i < 1000; ++i) {
    auto o = run("counter");
    if (o.out != "1\n") BOOST_FAIL("run " << i << " printed " << o.out);
  }
  worker::engine_idle_work();
  next_run_is_clean();
}
