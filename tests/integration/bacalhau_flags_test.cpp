// Bacalhau's flags as its users type them, against a real broker: `job logs
// --tail` and `-e/--execution-id`, `wasm run --download/--output-dir`,
// `-p local`, the resource flags shoal does not enforce, `node list`, and
// the words of a refused `--memory` or an unmounted path.
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
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
  // The worker running it dies mid-run: the job runs again as execution 2
  // (only that worker: another killed at the same moment may have taken
  // execution 2 already). Worker names are w-<broker pid>-<n>.
  const std::string worker = h.job(id)["executions"][0]["worker"];
  auto pgrep = shoal::test::run_process({"pgrep", "-f", "--", "--name " + worker});
  BOOST_TEST_REQUIRE(pgrep.status == 0, pgrep.err);
  ::kill(std::stoi(pgrep.out), SIGKILL);
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

BOOST_AUTO_TEST_CASE(a_count_that_is_negative_or_no_number_is_refused_naming_the_flag) {
  // CLI11 alone turns -1 into the largest unsigned number: `job list
  // --limit -1` listed every job, as if asked to, and a word got only
  // "Could not convert". Nothing starts: not a broker, not a listing.
  Home h;
  const std::vector<std::pair<std::vector<std::string>, std::string>> refused = {
      {{"job", "list", "--limit", "-1"},
       "shoal: --limit: '-1' is not a whole number (0 or more)\n"},
      {{"job", "list", "--limit", "ten"},
       "shoal: --limit: 'ten' is not a whole number (0 or more)\n"},
      {{"job", "list", "--limit", "99999999999999999999999"},
       "shoal: --limit: '99999999999999999999999' is too large\n"},
      {{"job", "history", "j-1", "--limit", "-3"},
       "shoal: --limit: '-3' is not a whole number (0 or more)\n"},
      {{"serve", "--idle-exit", "-5"},
       "shoal: --idle-exit: '-5' is not a whole number (0 or more)\n"},
      {{"serve", "--api-max-connections", "-1"},
       "shoal: --api-max-connections: '-1' is not a whole number (0 or more)\n"},
  };
  for (const auto& [args, said] : refused) {
    auto r = h.shoal(args);
    BOOST_TEST(r.status == 125, args[1] << " " << args[2]);
    BOOST_TEST(r.out == "");
    BOOST_TEST(r.err == said);
  }
  BOOST_TEST(!h.locked(), "a refused command started a broker");
}

namespace {

// Every file under `dir`, by its path there, with its bytes.
std::map<std::string, std::string> files_under(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) {
      std::ifstream in(e.path(), std::ios::binary);
      out[fs::relative(e.path(), dir).string()] =
          std::string(std::istreambuf_iterator<char>(in), {});
    }
  return out;
}

}  // namespace

namespace {

// `wasm run --output-dir DIR` of a job that writes "hello" to
// /outputs/b.txt.
shoal::test::ProcessResult write_b_into(Home& h, const std::string& dir) {
  return h.shoal({"wasm", "run", "--output-dir", dir, test_wasm("tree_maker"), "write",
                  "/outputs/b.txt", "hello"});
}

// The id of the job `job list` shows first (the one job of a fresh home).
std::string newest_job(Home& h) {
  auto id = trim(h.shoal({"job", "list", "--limit", "1", "--output", "csv", "--hide-header"}).out);
  id = id.substr(id.find(',') + 1);
  return id.substr(0, id.find(','));
}

}  // namespace

BOOST_AUTO_TEST_CASE(wasm_run_output_dir_writes_the_results_as_job_get_does) {
  Home h;
  shoal::test::TempDir where;
  const std::string dir = where.path() + "/results";
  auto r = write_b_into(h, dir);
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(r.out == "wrote /outputs/b.txt\n");
  const std::string id = newest_job(h);
  BOOST_TEST(r.err == "Results of job " + id + " written to " + dir + "\n");
  const auto written = files_under(dir);
  BOOST_TEST(written.at("outputs/b.txt") == "hello");
  BOOST_TEST(written.at("exitCode") == "0");
  BOOST_TEST(written.at("stdout") == "wrote /outputs/b.txt\n");
  auto get = h.shoal({"job", "get", id, "--output-dir", where.path() + "/got"});
  BOOST_TEST_REQUIRE(get.status == 0, get.err);
  BOOST_TEST(files_under(where.path() + "/got") == written);
}

BOOST_AUTO_TEST_CASE(results_never_replace_a_file_and_merge_into_a_directory) {
  // job get into a place that holds one of the job's files already writes
  // nothing and names the file (the first get's results stay as they were);
  // a symlink there is not followed; other files beside are fine (as
  // Bacalhau's job get merges); wasm run --output-dir checks before it
  // submits anything.
  Home h;
  shoal::test::TempDir where;
  const std::string dir = where.path() + "/results";
  auto r = write_b_into(h, dir);
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const std::string id = newest_job(h);
  const auto first = files_under(dir);
  const std::string refused = "shoal: --output-dir " + dir + ": " + dir +
                              "/stdout already exists: results never replace a file; write them "
                              "to a new or empty directory\n";
  auto again = h.shoal({"job", "get", id, "--output-dir", dir});
  BOOST_TEST(again.status == 125);
  BOOST_TEST(again.err == refused);
  BOOST_TEST(files_under(dir) == first);

  // Only the output file is in the way: nothing is written, not even stdout.
  const std::string partial = where.path() + "/partial";
  fs::create_directories(partial + "/outputs");
  { std::ofstream(partial + "/outputs/b.txt") << "mine"; }
  auto blocked = h.shoal({"job", "get", id, "--output-dir", partial});
  BOOST_TEST(blocked.status == 125);
  BOOST_TEST(blocked.err == "shoal: --output-dir " + partial + ": " + partial +
                                "/outputs/b.txt already exists: results never replace a file; "
                                "write them to a new or empty directory\n");
  BOOST_TEST(files_under(partial) ==
             (std::map<std::string, std::string>{{"outputs/b.txt", "mine"}}));

  // A symlink named stdout: refused, and its target stays untouched.
  const std::string linked = where.path() + "/linked";
  fs::create_directories(linked);
  fs::create_symlink(where.path() + "/elsewhere", linked + "/stdout");
  auto through = h.shoal({"job", "get", id, "--output-dir", linked});
  BOOST_TEST(through.status == 125);
  BOOST_TEST(!fs::exists(where.path() + "/elsewhere"));

  // Beside other files: merged.
  const std::string beside = where.path() + "/beside";
  fs::create_directories(beside);
  { std::ofstream(beside + "/notes.txt") << "keep"; }
  auto merged = h.shoal({"job", "get", id, "--output-dir", beside});
  BOOST_TEST_REQUIRE(merged.status == 0, merged.err);
  auto both = files_under(beside);
  BOOST_TEST(both.at("notes.txt") == "keep");
  BOOST_TEST(both.at("outputs/b.txt") == "hello");

  const auto jobs_before = h.shoal({"job", "list", "--limit", "0", "--output", "csv"}).out;
  auto early = h.shoal({"wasm", "run", "--output-dir", dir, test_wasm("exit_code"), "0"});
  BOOST_TEST(early.status == 125);
  BOOST_TEST(early.err == refused.substr(0, refused.size() - 1) + " (nothing was submitted)\n");
  BOOST_TEST(h.shoal({"job", "list", "--limit", "0", "--output", "csv"}).out == jobs_before);
}

BOOST_AUTO_TEST_CASE(wasm_run_download_writes_job_dir_and_keeps_the_program_status) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--download", "--id-only", test_wasm("exit_code"), "3"});
  BOOST_TEST(r.status == 3, r.err);
  const std::string id = trim(r.out);
  const std::string dir = "job-" + id.substr(2, 8);
  BOOST_TEST(r.err == "Results of job " + id + " written to " + dir + "\n");
  BOOST_TEST(files_under(dir).at("exitCode") == "3");
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(download_without_wait_is_refused_before_anything_is_submitted) {
  Home h;
  for (auto flag : {std::vector<std::string>{"--download"},
                    std::vector<std::string>{"--output-dir", "somewhere"}}) {
    std::vector<std::string> args = {"wasm", "run", "--wait=false"};
    args.insert(args.end(), flag.begin(), flag.end());
    args.push_back(test_wasm("exit_code"));
    auto r = h.shoal(args);
    BOOST_TEST(r.status == 125);
    BOOST_TEST(r.err == "shoal: " + flag[0] +
                            " needs --wait: the results are written when the job ends (drop "
                            "--wait=false, or write them later with shoal job get ID)\n");
  }
  BOOST_TEST(h.shoal({"job", "list", "--output", "csv", "--hide-header"}).out == "");
}

BOOST_AUTO_TEST_CASE(publisher_local_is_accepted_and_others_are_refused_by_name) {
  Home h;
  auto local = h.shoal({"wasm", "run", "-p", "local", test_wasm("exit_code"), "0"});
  BOOST_TEST(local.status == 0, local.err);
  BOOST_TEST(local.out == "exiting with 0\n");
  auto ipfs = h.shoal({"wasm", "run", "--publisher", "ipfs", test_wasm("exit_code"), "0"});
  BOOST_TEST(ipfs.status == 125);
  BOOST_TEST(ipfs.err ==
             "shoal: --publisher ipfs: shoal keeps every job's results itself (shoal job get "
             "ID), so the only publisher it takes is local\n");
}

BOOST_AUTO_TEST_CASE(resource_flags_are_accepted_with_one_line_saying_they_are_not_enforced) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--cpu", "2", "--disk", "10GB", "--gpu", "1", "--network",
                    "None", test_wasm("exit_code"), "0"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "exiting with 0\n");
  BOOST_TEST(r.err ==
             "shoal: --cpu 2, --disk 10GB, --gpu 1, --network None: accepted but not enforced "
             "here (shoal limits a job's --memory and --timeout only)\n");
  auto bad = h.shoal({"wasm", "run", "--network", "wifi", test_wasm("exit_code"), "0"});
  BOOST_TEST(bad.status == 125);
  BOOST_TEST(bad.err ==
             "shoal: --network wifi: expected None, HTTP, Host, Bridge or Default (Bacalhau's "
             "types)\n");
}

BOOST_AUTO_TEST_CASE(a_job_refused_a_path_outside_its_mounts_says_which_paths_were_mounted) {
  Home h;
  shoal::test::TempDir in;
  auto r = h.shoal({"wasm", "run", "-i", in.path() + ":/inputs", test_wasm("files")});
  BOOST_TEST(r.status == 2);
  BOOST_TEST(has(r.err, "fopen /data/out.txt: Capabilities insufficient\n"), r.err);
  const std::string said =
      "the program was refused /data/out.txt: outside every mount; mounted: /inputs "
      "(read-only), /outputs";
  BOOST_TEST(has(r.err, " exited with 2: " + said + "\n"), r.err);
  BOOST_TEST(!has(r.err, in.path()), r.err);  // guest paths only
  const std::string id = newest_job(h);
  BOOST_TEST(has(h.shoal({"job", "describe", id}).out, said));
  // A program that goes on after the refusal and exits 0 gets no message.
  auto fine = h.shoal({"wasm", "run", test_wasm("files"), "open", "/data/x.txt"});
  BOOST_TEST(fine.status == 0, fine.err);
  BOOST_TEST(fine.out == "refused /data/x.txt: Capabilities insufficient\n");
  BOOST_TEST(fine.err == "");
}

BOOST_AUTO_TEST_CASE(exec_verbose_names_the_refused_path_and_the_mounts) {
  shoal::test::TempDir in;
  std::ofstream(in.path() + "/a.txt") << "hi\n";
  for (const std::string path : {"/data/x.txt", "/inputs/../etc/passwd"}) {
    auto r = shoal::test::run_process({shoal::test::shoal_bin(), "exec", "-v", "--no-code-cache",
                                       "--dir", in.path() + "::/inputs:ro", test_wasm("cat_files"),
                                       "/inputs/a.txt", path});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(r.out == "== /inputs/a.txt ==\nhi\n== " + path +
                            " ==\ncannot open: Capabilities insufficient\n");
    BOOST_TEST(has(r.err, "shoal: the program was refused " + path +
                              ": outside every mount; mounted: /inputs (read-only)\n"),
               r.err);
  }
}

BOOST_AUTO_TEST_CASE(node_list_shows_the_local_pool_with_its_slots_and_busy_workers) {
  Home h;
  // The broker starts with the first command; its workers join soon after.
  std::string table;
  BOOST_TEST_REQUIRE(shoal::test::wait_until([&] {
    table = h.shoal({"node", "list", "--output", "csv", "--hide-header"}).out;
    return table.starts_with("local,local,connected,");
  }));
  auto run = h.shoal({"wasm", "run", "--wait=false", test_wasm("spin"), "--timeout", "30"});
  const std::string id = trim(run.out);
  BOOST_TEST_REQUIRE(shoal::test::wait_until([&] {
    auto nodes = json::parse(h.shoal({"node", "list", "--output", "json"}).out);
    return nodes.size() == 1 && nodes[0]["Info"]["ComputeNodeInfo"]["RunningExecutions"] == 1;
  }));
  auto list = h.shoal({"node", "list"});
  BOOST_TEST(list.status == 0, list.err);
  BOOST_TEST(list.out.starts_with("ID     TYPE   STATUS     LABELS  SLOTS  BUSY  LAST HEARTBEAT\n"
                                  "local  local  connected"),
             list.out);
  auto j = json::parse(h.shoal({"node", "list", "--output", "json"}).out);
  BOOST_TEST_REQUIRE(j.size() == 1u);
  BOOST_TEST(j[0]["Info"]["NodeID"] == "local");
  BOOST_TEST(j[0]["Info"]["NodeType"] == "Compute");
  BOOST_TEST(j[0]["ConnectionState"]["Status"] == "CONNECTED");
  BOOST_TEST(j[0]["Info"]["ComputeNodeInfo"]["RunningExecutions"] == 1);
  const int slots = j[0]["Info"]["ComputeNodeInfo"]["MaxCapacity"]["CPU"];
  BOOST_TEST(slots >= 1);
  BOOST_TEST(j[0]["Info"]["ComputeNodeInfo"]["AvailableCapacity"]["CPU"] == slots - 1);
  auto one = h.shoal({"node", "describe", "lo", "--output", "json"});
  BOOST_TEST(one.status == 0, one.err);
  BOOST_TEST(json::parse(one.out)["Info"]["NodeID"] == "local");
  auto none = h.shoal({"node", "describe", "n-none"});
  BOOST_TEST(none.status == 125);
  BOOST_TEST(none.err == "shoal: node 'n-none' not found (nodes: local)\n");
  h.shoal({"job", "stop", id});
}
