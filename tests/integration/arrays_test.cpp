// Job arrays (docs/jobs.md, "Arrays") as a user drives them: one `shoal
// wasm run --array/--each-input` command, the `job` commands on the array,
// and the C++ client, against a real broker and workers.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include <httplib.h>

#include <atomic>
#include <thread>

#include "client/client.h"
#include "tests/support/process.h"
#include "tests/support/shoal_home.h"
#include "tests/support/wait.h"

namespace fs = std::filesystem;
using nlohmann::json;
using shoal::test::test_wasm;
using shoal::test::trim;
using Home = shoal::test::PrivateHome;

namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// `job list --array ID --output json` (Bacalhau's Job models, in the
// order listed), each task then read as shoal's job JSON.
json list_array(const Home& h, const std::string& id) {
  auto r = h.shoal({"job", "list", "--array", id, "--output", "json"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  json tasks = json::array();
  for (const auto& job : json::parse(r.out)) tasks.push_back(h.job(job.at("ID")));
  return tasks;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_array_is_one_job_per_index_and_exits_with_the_worst_status) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("exit_code"), "--array", "0-4", "--", "{}"});
  BOOST_TEST(r.status == 4, r.err);
  const std::string id = trim(r.out);
  BOOST_TEST(id.size() == 38u);
  BOOST_TEST(r.err.find("5 tasks: 5 completed (4 with a non-zero exit code); worst exit code 4") !=
                 std::string::npos,
             r.err);
  for (int i = 1; i <= 4; ++i)
    BOOST_TEST(r.err.find(id + "-" + std::to_string(i) + "  exit code " + std::to_string(i)) !=
                   std::string::npos,
               r.err);
  json tasks = list_array(h, id);
  BOOST_TEST_REQUIRE(tasks.size() == 5u);
  for (int i = 0; i < 5; ++i) {
    BOOST_TEST(tasks[i]["id"] == id + "-" + std::to_string(i));  // in index order
    BOOST_TEST(tasks[i]["exit_code"] == i);
  }
  // Each task is a job of its own for describe and logs.
  BOOST_TEST(h.job(id + "-3")["spec"]["args"] == json::array({"3"}));
  auto logs = h.shoal({"job", "logs", id + "-3"});
  BOOST_TEST(logs.out == "exiting with 3\n");
}

BOOST_AUTO_TEST_CASE(each_task_sees_its_index_in_the_environment_and_placeholders) {
  Home h;
  auto r = h.shoal(
      {"wasm", "run", test_wasm("args_env"), "--array", "3-9:3", "-e", "N={#}", "--", "in-{}"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const std::string id = trim(r.out);
  auto logs = h.shoal({"job", "logs", id + "-6"});
  for (const char* line : {"arg[1]=in-6\n", "env N=6\n", "env SHOAL_ARRAY_INDEX=6\n",
                           "env SHOAL_ARRAY_COUNT=3\n", "env SLURM_ARRAY_TASK_ID=6\n",
                           "env SLURM_ARRAY_TASK_MIN=3\n", "env SLURM_ARRAY_TASK_MAX=9\n"})
    BOOST_TEST(logs.out.find(line) != std::string::npos, line << " in " << logs.out);
  BOOST_TEST(logs.out.find("env SHOAL_ARRAY_ID=" + id + "\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(each_input_runs_a_task_per_file_and_job_get_writes_a_folder_each) {
  Home h;
  shoal::test::TempDir data;
  for (const char* name : {"a.txt", "b.txt", "c.dat"})
    std::ofstream(data.path() + "/" + name) << "this is " << name << "\n";
  auto r = h.shoal({"wasm", "run", test_wasm("cat_files"), "--each-input",
                    data.path() + "/*.txt:/inputs/in.txt", "--", "/inputs/in.txt", "{/.}"});
  BOOST_TEST_REQUIRE(r.status == 1, r.err);  // "{/.}" is no file: cat_files says so
  const std::string id = trim(r.out);
  shoal::test::TempDir out;
  auto got = h.shoal({"job", "get", id, "--output-dir", out.path() + "/all"});
  BOOST_TEST_REQUIRE(got.status == 0, got.err);
  BOOST_TEST(shoal::test::read_file(out.path() + "/all/1/stdout") ==
             "== /inputs/in.txt ==\nthis is a.txt\n== a ==\ncannot open: Capabilities "
             "insufficient\n");
  BOOST_TEST(shoal::test::read_file(out.path() + "/all/2/stdout").find("this is b.txt") !=
             std::string::npos);
  BOOST_TEST(!fs::exists(out.path() + "/all/3"));
  BOOST_TEST(trim(shoal::test::read_file(out.path() + "/all/2/exitCode")) == "1");
}

BOOST_AUTO_TEST_CASE(each_input_takes_items_one_per_line_from_stdin) {
  Home h;
  shoal::test::TempDir data;
  std::ofstream(data.path() + "/x") << "x\n";
  std::ofstream(data.path() + "/y") << "y\n";
  auto r = h.shoal({"wasm", "run", test_wasm("cat_files"), "--each-input", "@-:/in", "--", "/in"},
                   data.path() + "/x\n\n" + data.path() + "/y\n");
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const std::string id = trim(r.out);
  BOOST_TEST(h.shoal({"job", "logs", id + "-2"}).out == "== /in ==\ny\n");
  BOOST_TEST(list_array(h, id).size() == 2u);
}

BOOST_AUTO_TEST_CASE(bad_arrays_are_refused_naming_the_flag) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("exit_code"), "--array", "5-1"});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err.find("--array 5-1: '5-1' ends before it starts") != std::string::npos, r.err);
  r = h.shoal({"wasm", "run", test_wasm("exit_code"), "--each-input", "/nonexistent/*.txt"});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err.find("--each-input /nonexistent/*.txt: no file matches") != std::string::npos,
             r.err);
  // An output name that only some items make invalid: the broker names the task.
  shoal::test::TempDir data;
  std::ofstream(data.path() + "/good.txt") << "\n";
  std::ofstream(data.path() + "/bad name.txt") << "\n";
  r = h.shoal({"wasm", "run", test_wasm("exit_code"), "--each-input", data.path() + "/*.txt", "-o",
               "{/.}:/outputs/x"});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err.find("array task 1 (item " + data.path() + "/bad name.txt): output bad name") !=
                 std::string::npos,
             r.err);
}

BOOST_AUTO_TEST_CASE(the_unsuccessful_tasks_are_listed_up_to_twenty_and_the_rest_counted) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("exit_code"), "--array", "1-30", "--", "{}"});
  BOOST_TEST(r.status == 30, r.err);
  BOOST_TEST(count_of(r.err, "  exit code ") == 20u, r.err);
  BOOST_TEST(r.err.find("... and 10 more (shoal job list --array") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(job_stop_and_job_wait_act_on_every_task) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("spin"), "--array", "1-12", "--no-wait"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const std::string id = trim(r.out);
  BOOST_TEST(shoal::test::wait_until([&] {
    json tasks = list_array(h, id);
    return std::any_of(tasks.begin(), tasks.end(),
                       [](const json& t) { return t["state"] == "Running"; });
  }));
  auto stop = h.shoal({"job", "stop", id.substr(0, 12)});
  BOOST_TEST(stop.status == 0, stop.err);
  BOOST_TEST(trim(stop.out) == id);
  BOOST_TEST(stop.err.find("stopping 12 unfinished tasks") != std::string::npos, stop.err);
  auto wait = h.shoal({"job", "wait", id});
  BOOST_TEST(wait.status == 130, wait.err);
  BOOST_TEST(wait.err.find("12 tasks: 0 completed, 12 stopped") != std::string::npos, wait.err);
  for (const auto& t : list_array(h, id)) BOOST_TEST(t["state"] == "Stopped");
}

// No task sees what another left in memory (a static and a global), in
// /outputs or in its environment, though the workers run one task after
// another, many of them handed out in batches (docs/protocol.md).
BOOST_AUTO_TEST_CASE(tasks_are_isolated_from_each_other) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("isolation"), "--array", "1-200", "--", "{}"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.err.find("200 tasks: 200 completed") != std::string::npos, r.err);
  // The tasks did share workers: a worker ran many of them in turn.
  std::map<std::string, size_t> per_worker;
  for (const json& t : list_array(h, trim(r.out))) {
    BOOST_TEST(t["executions"].size() == 1u);
    ++per_worker[t["executions"].back()["worker"].get<std::string>()];
  }
  BOOST_TEST(std::any_of(per_worker.begin(), per_worker.end(),
                         [](const auto& w) { return w.second >= 20; }));
}

// `job describe ARRAY`: the array's summary (counts, worst exit code, the
// unsuccessful tasks) and how to see one task; in JSON, the protocol's
// summary. A prefix of the array's id works too.
BOOST_AUTO_TEST_CASE(job_describe_of_an_array_shows_its_summary) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("exit_code"), "--array", "0-2", "--", "{}"});
  BOOST_TEST(r.status == 2, r.err);
  const std::string id = trim(r.out);
  auto d = h.shoal({"job", "describe", id.substr(0, 12)});
  BOOST_TEST_REQUIRE(d.status == 0, d.err);
  for (const std::string& line :
       {"Job array:  " + id, std::string("Tasks:      3"), std::string("States:     3 completed"),
        std::string("Succeeded:  1 (completed with exit code 0)"), std::string("Worst exit: 2"),
        "Unsuccessful tasks (2; failed, stopped or a non-zero exit code):\n  " + id +
            "-1  exit code 1\n  " + id + "-2  exit code 2\n",
        "shoal job describe " + id + "-INDEX"})
    BOOST_TEST(d.out.find(line) != std::string::npos, line + " in:\n" + d.out);
  auto j = h.shoal({"job", "describe", id, "--output", "json"});
  BOOST_TEST_REQUIRE(j.status == 0, j.err);
  json summary = json::parse(j.out);
  BOOST_TEST(summary["array"] == true);
  BOOST_TEST(summary["tasks"] == 3);
  BOOST_TEST(summary["worst_exit_code"] == 2);
  BOOST_TEST(summary["unsuccessful_count"] == 2);
  // One task is a job as ever.
  auto task = h.shoal({"job", "describe", id + "-1"});
  BOOST_TEST(task.status == 0, task.err);
  BOOST_TEST(task.out.find("Job array:") == std::string::npos, task.out);
}

// `job logs ARRAY`: every task's output, in index order, each under a
// header with its state and exit code; --tail applies to each task.
BOOST_AUTO_TEST_CASE(job_logs_of_an_array_prints_each_task_under_a_header_in_order) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("exit_code"), "--array", "1-11", "--", "{}"});
  BOOST_TEST(r.status == 11, r.err);
  const std::string id = trim(r.out);
  auto logs = h.shoal({"job", "logs", id});
  BOOST_TEST_REQUIRE(logs.status == 0, logs.err);
  std::string expected;
  for (int i = 1; i <= 11; ++i)
    expected += (i == 1 ? "" : "\n") + std::string("==> ") + id + "-" + std::to_string(i) +
                " (Completed, exit code " + std::to_string(i) + ") <==\nexiting with " +
                std::to_string(i) + "\n";
  BOOST_TEST(logs.out == expected);
  auto tail = h.shoal({"job", "logs", id.substr(0, 12), "--tail", "1", "--stream", "stdout"});
  BOOST_TEST(tail.status == 0, tail.err);
  BOOST_TEST(tail.out == expected);
}

// What follows one job's stream, or lists one job's executions or events,
// refuses an array by name and shows the task form.
BOOST_AUTO_TEST_CASE(job_logs_follow_executions_and_history_of_an_array_name_a_task) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("exit_code"), "--array", "1-2", "--", "0"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const std::string id = trim(r.out);
  auto follow = h.shoal({"job", "logs", "--follow", id});
  BOOST_TEST(follow.status != 0);
  BOOST_TEST(follow.err.find(id +
                             " is a job array: --follow names one job's stream; name a "
                             "task: shoal job logs --follow " +
                             id + "-INDEX") != std::string::npos,
             follow.err);
  for (const std::string what : {"executions", "history"}) {
    auto e = h.shoal({"job", what, id});
    BOOST_TEST(e.status != 0);
    BOOST_TEST(e.err.find(id + " is a job array: each task has its own " + what + ": shoal job " +
                          what + " " + id + "-INDEX") != std::string::npos,
               e.err);
  }
}

BOOST_AUTO_TEST_CASE(the_cpp_client_submits_and_waits_for_an_array) {
  Home h;
  shoal::client::Options o;
  o.shoal_binary = shoal::test::required_env("SHOAL_BIN");
  auto c = shoal::client::Client::connect(o);
  BOOST_TEST_REQUIRE(c.has_value());
  shoal::client::Submission s;
  s.spec = {{"module", "exit_code.wasm"}, {"args", {"{}"}}};
  s.module = shoal::test::read_file(test_wasm("exit_code"));
  s.array = {{"indices", "0,2"}};
  auto id = c->submit(s);
  BOOST_TEST_REQUIRE(id.has_value());
  std::vector<json> seen;
  auto end = c->wait_array(*id, [&](const json& p) { seen.push_back(p); });
  BOOST_TEST_REQUIRE(end.has_value());
  BOOST_TEST((*end)["tasks"] == 2);
  BOOST_TEST((*end)["completed"] == 2);
  BOOST_TEST((*end)["worst_exit_code"] == 2);
  BOOST_TEST(!seen.empty());
  shoal::client::ListQuery q;
  q.array = *id;
  q.limit = 0;
  q.oldest_first = true;
  auto tasks = c->list(q);
  BOOST_TEST_REQUIRE(tasks.has_value());
  BOOST_TEST(tasks->size() == 2u);
  BOOST_TEST((*tasks)[1]["id"] == *id + "-2");
}

// An array of URLs is fetched at most 16 at a time (the broker's
// kMaxFetches), not one thread per task at once: a server that holds every
// request sees 16 of them until it lets them go, then all tasks end.
BOOST_AUTO_TEST_CASE(an_array_of_urls_is_fetched_sixteen_at_a_time) {
  Home h;
  httplib::Server http;
  http.new_task_queue = [] { return new httplib::ThreadPool(64); };
  std::atomic<int> in_flight{0}, most{0};
  std::atomic<bool> release{false};
  http.Get(R"(/item/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
    const int now = ++in_flight;
    for (int m = most; now > m && !most.compare_exchange_weak(m, now);) {
    }
    while (!release && http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    --in_flight;
    res.set_content("item " + req.matches[1].str() + "\n", "text/plain");
  });
  const int port = http.bind_to_any_port("127.0.0.1");
  std::thread server([&] { http.listen_after_bind(); });
  std::string list;
  for (int i = 0; i < 40; ++i)
    list += "http://127.0.0.1:" + std::to_string(port) + "/item/" + std::to_string(i) + "\n";
  auto r = h.shoal({"wasm", "run", test_wasm("cat_files"), "--each-input", "@-:/in.txt",
                    "--no-wait", "--", "/in.txt"},
                   list);
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const std::string id = trim(r.out);
  BOOST_TEST(shoal::test::wait_until([&] { return in_flight == 16; }));
  BOOST_TEST(!shoal::test::wait_until([&] { return in_flight > 16; }, std::chrono::seconds(2)));
  release = true;
  auto wait = h.shoal({"job", "wait", id});
  BOOST_TEST(wait.status == 0, wait.err);
  BOOST_TEST(wait.err.find("40 tasks: 40 completed") != std::string::npos, wait.err);
  BOOST_TEST(most.load() == 16);
  BOOST_TEST(h.shoal({"job", "logs", id + "-40"}).out == "== /in.txt ==\nitem 39\n");
  http.stop();
  server.join();
}
