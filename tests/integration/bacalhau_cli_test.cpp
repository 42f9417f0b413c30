// A Bacalhau user's habits and scripts with `shoal` in place of `bacalhau`:
// `--output json|yaml` in Bacalhau's model (jq '.[0].ID', .Job.State), the
// re-run idiom `job describe ID --output yaml | job run -`, specs written
// with lowercase keys and Resources, and `job run -V KEY=VALUE`. Against a
// real broker (auto-started in a private state directory) and real workers.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"
#include "tests/support/shoal_home.h"

using nlohmann::json;
using shoal::test::TempDir;
using shoal::test::test_wasm;
using shoal::test::trim;

namespace {

using Home = shoal::test::PrivateHome;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

[[maybe_unused]] void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A job that completed with exit code 3, labelled and named.
std::string finished_job(const Home& h) {
  auto r = h.shoal({"wasm", "run", "--id-only", "--name", "three", "-l", "team=blue",
                    test_wasm("exit_code"), "3"});
  BOOST_TEST_REQUIRE(r.status == 3, r.err);
  return trim(r.out);
}

}  // namespace

BOOST_AUTO_TEST_CASE(json_and_yaml_output_is_bacalhaus_model) {
  Home h;
  const std::string id = finished_job(h);

  // `bacalhau job list --output json | jq '.[0].ID'`
  auto list = h.shoal({"job", "list", "--output", "json"});
  BOOST_TEST_REQUIRE(list.status == 0, list.err);
  BOOST_TEST(list.out.find('\n') == list.out.size() - 1, "one line without --pretty");
  json jobs = json::parse(list.out);
  BOOST_TEST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs[0]["ID"] == id);
  BOOST_TEST(jobs[0]["Name"] == "three");
  BOOST_TEST(jobs[0]["Type"] == "batch");
  BOOST_TEST(jobs[0]["State"]["StateType"] == "Completed");
  BOOST_TEST(jobs[0]["Labels"]["team"] == "blue");
  BOOST_TEST(jobs[0]["Tasks"][0]["Engine"]["Type"] == "wasm");
  BOOST_TEST(jobs[0]["CreateTime"].is_number_integer());  // Unix nanoseconds
  BOOST_TEST(jobs[0]["CreateTime"].get<int64_t>() > int64_t{1700000000} * 1000000000);
  BOOST_TEST(!jobs[0].contains("id"));

  // `bacalhau job describe --output json`: the GetJobResponse.
  json d = h.describe(id);
  BOOST_TEST(d["Job"]["ID"] == id);
  BOOST_TEST(d["Job"]["State"]["StateType"] == "Completed");
  BOOST_TEST_REQUIRE(d["Executions"]["Items"].size() == 1u);
  const json& e = d["Executions"]["Items"][0];
  BOOST_TEST(e["JobID"] == id);
  BOOST_TEST(e["ComputeState"]["StateType"] == 9);  // Completed
  BOOST_TEST(e["RunOutput"]["ExitCode"] == 3);
  BOOST_TEST(d["History"]["Items"][0]["SeqNum"] == 1);
  BOOST_TEST(d["History"]["Items"][0]["Time"].is_string());  // RFC 3339

  auto pretty = h.shoal({"job", "describe", id, "--output", "json", "--pretty"});
  BOOST_TEST_REQUIRE(pretty.status == 0, pretty.err);
  BOOST_TEST(has(pretty.out, "\n  \"Job\": {\n"), pretty.out);
  BOOST_TEST(json::parse(pretty.out) == d);

  auto yaml = h.shoal({"job", "describe", id, "--output", "yaml"});
  BOOST_TEST(has(yaml.out, "\nJob:\n"), yaml.out);
  BOOST_TEST(has(yaml.out, "\n  State:\n    StateType: \"Completed\"\n"), yaml.out);

  auto execs = h.shoal({"job", "executions", id, "--output", "json"});
  BOOST_TEST_REQUIRE(execs.status == 0, execs.err);
  BOOST_TEST(json::parse(execs.out) == d["Executions"]["Items"]);
  auto history = h.shoal({"job", "history", id, "--output", "json"});
  BOOST_TEST_REQUIRE(history.status == 0, history.err);
  BOOST_TEST(json::parse(history.out) == d["History"]["Items"]);
  auto history_yaml = h.shoal({"job", "history", id, "--output", "yaml"});
  BOOST_TEST(history_yaml.out.starts_with("- Event:\n"), history_yaml.out);
  BOOST_TEST(has(history_yaml.out, "  SeqNum: 1\n"), history_yaml.out);
}
