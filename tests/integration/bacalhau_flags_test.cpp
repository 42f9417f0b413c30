// Bacalhau's flags as its users type them, against a real broker: `job logs
// --tail` and `-e/--execution-id`, `wasm run --download/--output-dir`,
// `-p local`, the resource flags shoal does not enforce, `node list`, and
// the words of a refused `--memory` or an unmounted path.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/process.h"
#include "tests/support/shoal_home.h"
#include "tests/support/wait.h"

namespace fs = std::filesystem;
using nlohmann::json;
using shoal::test::test_wasm;
using shoal::test::trim;

namespace {

using Home = shoal::test::PrivateHome;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// "tick A\n" ... "tick B\n".
std::string ticks(int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i) out += "tick " + std::to_string(i) + "\n";
  return out;
}

// The id of execution `attempt` of job `id` (e-<the job's uuid>-N).
std::string execution_id(const std::string& id, int attempt) {
  return "e-" + id.substr(2) + "-" + std::to_string(attempt);
}

}  // namespace

BOOST_AUTO_TEST_CASE(logs_tail_alone_is_the_last_ten_lines_and_tail_n_the_last_n) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--id-only", test_wasm("ticker"), "15", "0"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const std::string id = trim(r.out);
  for (auto args : {std::vector<std::string>{"job", "logs", id, "--tail"},
                    std::vector<std::string>{"job", "logs", "--tail", id},  // Bacalhau's order
                    std::vector<std::string>{"job", "logs", id, "-t"}}) {
    auto t = h.shoal(args);
    BOOST_TEST(t.status == 0, t.err);
    BOOST_TEST(t.out == ticks(6, 15));
  }
  BOOST_TEST(h.shoal({"job", "logs", id, "--tail", "3"}).out == ticks(13, 15));
  BOOST_TEST(h.shoal({"job", "logs", "--tail=2", id}).out == ticks(14, 15));
  auto bad = h.shoal({"job", "logs", id, "--tail", "x"});
  BOOST_TEST(bad.status == 125);
  BOOST_TEST(bad.err ==
             "shoal: --tail x: expected a number of lines (up to 999999999), or --tail alone "
             "for the last 10\n");
}

BOOST_AUTO_TEST_CASE(logs_tail_with_follow_prints_the_last_lines_then_what_follows) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--wait=false", test_wasm("ticker"), "30", "50"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const std::string id = trim(r.out);
  BOOST_TEST_REQUIRE(shoal::test::wait_until([&] {
    return has(h.shoal({"job", "logs", id}).out, "tick 5\n");
  }));
  auto t = h.shoal({"job", "logs", id, "--tail", "2", "-f"});
  BOOST_TEST(t.status == 0, t.err);
  // Two lines from before, then every line to the end, none twice.
  BOOST_TEST_REQUIRE(t.out.size() > 7);
  const int first = std::stoi(t.out.substr(5));
  BOOST_TEST(first >= 4);
  BOOST_TEST(t.out == ticks(first, 30));
}

BOOST_AUTO_TEST_CASE(logs_execution_id_picks_one_execution_of_a_retried_job) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--wait=false", test_wasm("ticker"), "40", "100"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const std::string id = trim(r.out);
  BOOST_TEST_REQUIRE(shoal::test::wait_until([&] {
    return has(h.shoal({"job", "logs", id}).out, "tick 3\n");
  }));
  // The worker dies mid-run: the job runs again as execution 2.
  for (int pid : shoal::test::children(h.broker_pid(), "shoal-worker")) ::kill(pid, SIGKILL);
  BOOST_TEST(h.shoal({"job", "wait", id}).status == 0);
  auto first = h.shoal({"job", "logs", id, "-e", execution_id(id, 1)});
  auto second = h.shoal({"job", "logs", id, "--execution-id", execution_id(id, 2)});
  BOOST_TEST(first.status == 0, first.err);
  BOOST_TEST(second.status == 0, second.err);
  BOOST_TEST(second.out == ticks(1, 40));
  BOOST_TEST(first.out.starts_with(ticks(1, 3)), first.out);
  BOOST_TEST(!has(first.out, "tick 40\n"), first.out);
  BOOST_TEST(h.shoal({"job", "logs", id}).out == second.out);  // the latest by default
  auto none = h.shoal({"job", "logs", id, "-e", "e-nope"});
  BOOST_TEST(none.status == 125);
  BOOST_TEST(none.err == "shoal: job " + id + " has no execution 'e-nope' (its executions: " +
                             execution_id(id, 1) + ", " + execution_id(id, 2) + ")\n");
}

BOOST_AUTO_TEST_CASE(memory_over_4_gib_is_refused_naming_the_flag_and_what_to_give) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--memory", "8GiB", test_wasm("exit_code")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err ==
             "shoal: --memory 8GiB: over 4 GiB, the most a wasm32 program's memory can hold; "
             "give --memory 4GiB or less (without --memory a job gets 1 GiB)\n");
  auto small = h.shoal({"wasm", "run", "--memory", "1KiB", test_wasm("exit_code")});
  BOOST_TEST(small.status == 125);
  BOOST_TEST(small.err ==
             "shoal: --memory 1KiB: less than one WebAssembly page; give at least --memory "
             "64KiB\n");
}
