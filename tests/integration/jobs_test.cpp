// The job system as a user drives it: `shoal wasm run` and `shoal job ...`
// against a real broker (auto-started in a private state directory) with
// real worker processes.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/support/http_server.h"
#include "tests/support/process.h"
#include "tests/support/shoal_home.h"
#include "tests/support/wait.h"
#include "tests/support/wasm_bytes.h"

namespace fs = std::filesystem;
using nlohmann::json;
using shoal::test::ProcessResult;
using shoal::test::run_process;
using shoal::test::shoal_bin;
using shoal::test::TempDir;
using shoal::test::test_wasm;
using shoal::test::trim;

namespace {

// Every test case gets its own state directory, hence its own broker, which
// is shut down at the end.
using Home = shoal::test::PrivateHome;

// A real HTTP server on 127.0.0.1 serving the test modules and a text file.
struct Server : shoal::test::HttpServer {
  Server() {
    http.set_mount_point("/wasm", shoal::test::required_env("SHOAL_TEST_WASM_DIR"));
    http.Get("/data.txt", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("served over http\n", "text/plain");
    });
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(wasm_run_prints_the_output_and_exits_with_the_program_code) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("args_env"), "one", "-e", "VAR1=value1", "two"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "argc=3\narg[0]=args_env.wasm\narg[1]=one\narg[2]=two\nenv VAR1=value1\n");
  BOOST_TEST(r.err == "to stderr\n");
  auto e = h.shoal({"wasm", "run", test_wasm("exit_code"), "7"});
  BOOST_TEST(e.status == 7);
  BOOST_TEST(e.out == "exiting with 7\n");
}

// Waits until the last change of `path` (its ctime, which cannot be set
// back) is older than ModuleHashCache::kSettle, so that its hash may be
// remembered.
bool settled(const std::string& path) {
  return shoal::test::wait_until([&] {
    struct stat st {};
    struct timespec now {};
    if (::stat(path.c_str(), &st) != 0 || ::clock_gettime(CLOCK_REALTIME, &now) != 0) return false;
    const auto ns = [](const struct timespec& t) { return t.tv_sec * 1'000'000'000LL + t.tv_nsec; };
    return ns(now) - std::max(ns(st.st_mtim), ns(st.st_ctim)) > 150'000'000LL;  // kSettle 100 ms
  });
}

// A large module's hash is remembered (cli/module_hash_cache.h), and a
// file rewritten in place, to the same size and with its old mtime put
// back, runs as what it now is, never as what was remembered.
BOOST_AUTO_TEST_CASE(a_large_module_rewritten_in_place_runs_as_its_new_self) {
  Home h;
  const std::string path = h.path + "/big.wasm";
  const std::string a = shoal::test::read_file(test_wasm("exit_code"));
  const std::string b = shoal::test::read_file(test_wasm("args_env"));
  const size_t size = (1u << 20) + std::max(a.size(), b.size());
  // Each padded to `size` (a custom section of zeros; its size is LEB128,
  // three bytes at this size).
  auto sized = [&](const std::string& m) { return shoal::test::padded(m, size - m.size() - 8); };
  BOOST_TEST_REQUIRE(sized(a).size() == sized(b).size());
  std::ofstream(path, std::ios::binary) << sized(a);
  struct stat before {};
  BOOST_TEST_REQUIRE(::stat(path.c_str(), &before) == 0);
  BOOST_TEST_REQUIRE(settled(path));
  for (int i = 0; i < 2; ++i) {  // hashed and remembered, then remembered
    auto r = h.shoal({"wasm", "run", path, "7"});
    BOOST_TEST(r.status == 7, r.err);
    BOOST_TEST(r.out == "exiting with 7\n");
  }
  BOOST_TEST(std::distance(std::filesystem::directory_iterator(h.path + "/cache/module-hashes"),
                           std::filesystem::directory_iterator()) == 1);

  std::ofstream(path, std::ios::binary | std::ios::trunc) << sized(b);
  struct timespec times[2] = {{0, UTIME_OMIT}, before.st_mtim};
  BOOST_TEST_REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  BOOST_TEST_REQUIRE(settled(path));
  auto r = h.shoal({"wasm", "run", path, "7"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "argc=2\narg[0]=big.wasm\narg[1]=7\n");
}

BOOST_AUTO_TEST_CASE(the_broker_is_started_on_demand_with_a_private_socket_directory) {
  Home h;
  BOOST_TEST(!fs::exists(h.dir.path() + "/run/broker.sock"));
  auto r = h.shoal({"job", "list"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "CREATED  ID  NAME  JOB  TYPE  STATE\n");
  struct stat st;
  BOOST_TEST_REQUIRE(::stat((h.dir.path() + "/run").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0700u);
  BOOST_TEST(fs::exists(h.dir.path() + "/broker.log"));
}

BOOST_AUTO_TEST_CASE(submit_without_waiting_then_list_logs_and_describe) {
  Home h;
  auto s = h.shoal({"wasm", "run", "--wait=false", "--id-only", "--name", "greeter", "-l",
                    "team=blue", test_wasm("args_env"), "hello"});
  BOOST_TEST_REQUIRE(s.status == 0, s.err);
  std::string id = trim(s.out);
  BOOST_TEST(id.starts_with("j-"));
  BOOST_TEST(id.size() == 38u);
  auto w = h.shoal({"job", "wait", id});
  BOOST_TEST(w.status == 0, w.err);

  auto list = h.shoal({"job", "list", "--id-filter", id.substr(0, 8), "--output", "json"});
  BOOST_TEST_REQUIRE(list.status == 0, list.err);
  json jobs = json::parse(list.out);
  BOOST_TEST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs[0]["ID"] == id);
  BOOST_TEST(jobs[0]["State"]["StateType"] == "Completed");
  BOOST_TEST(jobs[0]["Name"] == "greeter");
  BOOST_TEST(jobs[0]["Labels"]["team"] == "blue");

  auto logs = h.shoal({"job", "logs", id.substr(0, 12)});
  BOOST_TEST(logs.status == 0, logs.err);
  BOOST_TEST(logs.out == "argc=2\narg[0]=args_env.wasm\narg[1]=hello\n");
  BOOST_TEST(logs.err == "to stderr\n");
  auto tail = h.shoal({"job", "logs", id, "--tail", "1", "--stream", "stdout"});
  BOOST_TEST(tail.out == "arg[1]=hello\n");
  // Bacalhau's documentation writes short ids without "j-".
  auto bare = h.shoal({"job", "logs", id.substr(2, 8), "--stream", "stdout"});
  BOOST_TEST(bare.status == 0, bare.err);
  BOOST_TEST(bare.out == "argc=2\narg[0]=args_env.wasm\narg[1]=hello\n");
  auto bare_list = h.shoal({"job", "list", "--id-filter", id.substr(2, 8), "--output", "json"});
  BOOST_TEST(json::parse(bare_list.out).size() == 1u, bare_list.out);

  auto d = h.shoal({"job", "describe", id});
  BOOST_TEST(d.status == 0, d.err);
  BOOST_TEST(d.out.find("State           Completed") != std::string::npos, d.out);
  BOOST_TEST(d.out.find("Standard Output\nargc=2") != std::string::npos, d.out);
  json j = h.job(id);
  BOOST_TEST(j["exit_code"] == 0);
  BOOST_TEST(j["executions"].size() == 1u);
  BOOST_TEST(j["executions"][0]["stdout_bytes"] == 41);
}

BOOST_AUTO_TEST_CASE(a_trap_fails_the_job_with_its_cause) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("trap")});
  BOOST_TEST(r.status == 126);
  BOOST_TEST(r.out == "before the trap\n");
  BOOST_TEST(
      r.err.find("failed: the program trapped: RuntimeError: unreachable") != std::string::npos,
      r.err);
  // The job's message keeps the backtrace, named frames innermost first.
  auto deep = h.shoal({"wasm", "run", "--id-only", "--wait", test_wasm("trap_deep")});
  const std::string message = h.job(trim(deep.out))["message"];
  BOOST_TEST(message.find("\n    at innermost_frame (") < message.find("\n    at middle_frame ("),
             message);
  BOOST_TEST(message.find("\n    at middle_frame (") != std::string::npos, message);
}

BOOST_AUTO_TEST_CASE(a_timeout_fails_the_job_and_the_worker_keeps_serving) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--timeout", "0.3", test_wasm("spin")});
  BOOST_TEST(r.status == 126);
  BOOST_TEST(r.err.find("timed out after 0.3 s") != std::string::npos, r.err);
  auto again = h.shoal({"wasm", "run", test_wasm("exit_code"), "3"});
  BOOST_TEST(again.status == 3, again.err);
}

BOOST_AUTO_TEST_CASE(a_module_without_start_fails_naming_the_cause) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("reactor")});
  BOOST_TEST(r.status == 126);
  BOOST_TEST(r.err.find("exports no function '_start'") != std::string::npos, r.err);
}

// The module file is mapped (cli/file_bytes.h): a missing file or a
// directory is named, and a module that arrives on a pipe is read instead.
BOOST_AUTO_TEST_CASE(a_module_file_that_cannot_be_mapped_is_named_or_read) {
  Home h;
  TempDir d;
  auto missing = h.shoal({"wasm", "run", d.path() + "/nope.wasm"});
  BOOST_TEST(missing.status == 125);
  BOOST_TEST(missing.err ==
             "shoal: cannot read " + d.path() + "/nope.wasm: No such file or directory\n");
  auto dir = h.shoal({"wasm", "run", d.path()});
  BOOST_TEST(dir.status == 125);
  BOOST_TEST(dir.err == "shoal: cannot read " + d.path() + ": is a directory\n");
  std::ifstream in(test_wasm("exit_code"), std::ios::binary);
  const std::string module((std::istreambuf_iterator<char>(in)), {});
  auto piped = h.shoal({"wasm", "run", "/dev/stdin", "5"}, module);
  BOOST_TEST(piped.status == 5, piped.err);
  BOOST_TEST(piped.out == "exiting with 5\n");
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_wasm_is_refused_at_submission) {
  Home h;
  TempDir d;
  std::ofstream(d.path() + "/x.wasm") << "not wasm at all";
  auto r = h.shoal({"wasm", "run", d.path() + "/x.wasm"});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err.find("is not a WebAssembly module") != std::string::npos, r.err);
  auto list = h.shoal({"job", "list", "--output", "json"});
  BOOST_TEST(json::parse(list.out).empty());
}

BOOST_AUTO_TEST_CASE(inputs_are_mounted_read_only_and_outputs_are_collected) {
  Home h;
  TempDir data;
  fs::create_directory(data.path() + "/in");
  std::ofstream(data.path() + "/in/a.txt") << "alpha";
  // files.wasm writes to /data; an output named "data" is mounted there.
  auto r = h.shoal({"wasm", "run", "--id-only", "-o", "data:/data", test_wasm("files")});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  std::string id = trim(r.out);
  json j = h.job(id);
  BOOST_TEST(j["state"] == "Completed");
  // The program removes what it made; run one that leaves a file instead.
  auto spew = h.shoal({"wasm", "run", "--id-only", "-i", data.path() + "/in:/inputs",
                       test_wasm("files"), "open", "/inputs/a.txt"});
  BOOST_TEST(spew.status == 1);  // files.wasm exits 1 when it could open the path
  auto logs = h.shoal({"job", "logs", trim(spew.out)});
  BOOST_TEST(logs.out == "opened /inputs/a.txt\n");
}

BOOST_AUTO_TEST_CASE(a_missing_input_is_named_before_anything_is_submitted) {
  Home h;
  auto r = h.shoal({"wasm", "run", "-i", "/no/such/dir:/inputs", test_wasm("args_env")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err ==
             "shoal: --input /no/such/dir:/inputs: /no/such/dir: no such file or directory\n");
}

BOOST_AUTO_TEST_CASE(stop_ends_a_running_job_as_stopped) {
  Home h;
  auto s = h.shoal({"wasm", "run", "--wait=false", test_wasm("spin")});
  std::string id = trim(s.out);
  BOOST_TEST_REQUIRE(shoal::test::wait_until([&] { return h.job(id)["state"] == "Running"; }));
  auto stop = h.shoal({"job", "stop", id});
  BOOST_TEST(stop.status == 0, stop.err);
  auto w = h.shoal({"job", "wait", id});
  BOOST_TEST(w.status == 130);
  BOOST_TEST(h.job(id)["state"] == "Stopped");
  BOOST_TEST(w.err == "shoal: job " + id + " was stopped: stopped on request\n");
}

BOOST_AUTO_TEST_CASE(job_wait_names_each_job_that_failed_and_its_cause) {
  Home h;
  auto ok = h.shoal({"wasm", "run", "--wait=false", "--id-only", test_wasm("exit_code"), "0"});
  auto bad = h.shoal({"wasm", "run", "--wait=false", "--id-only", test_wasm("trap")});
  std::string ok_id = trim(ok.out), bad_id = trim(bad.out);
  auto w = h.shoal({"job", "wait", ok_id, bad_id});
  BOOST_TEST(w.status == 126);
  const std::string cause = h.job(bad_id)["message"];
  BOOST_TEST(!cause.empty());
  BOOST_TEST(w.err == "shoal: job " + bad_id + " failed: " + cause + "\n");
}

BOOST_AUTO_TEST_CASE(a_killed_worker_costs_one_execution_and_the_job_runs_again) {
  Home h;
  auto s = h.shoal({"wasm", "run", "--wait=false", "--timeout", "1.5", test_wasm("spin")});
  std::string id = trim(s.out);
  json j;
  BOOST_TEST_REQUIRE(shoal::test::wait_until([&] {
    j = h.job(id);
    return j["state"] == "Running";
  }));
  std::string worker = j["executions"][0]["worker"];
  // Worker names are w-<broker pid>-<n>; find its process and kill it.
  auto pgrep = run_process({"pgrep", "-f", "--", "--name " + worker});
  BOOST_TEST_REQUIRE(pgrep.status == 0, pgrep.err);
  ::kill(std::stoi(pgrep.out), SIGKILL);
  auto w = h.shoal({"job", "wait", id});
  j = h.job(id);
  BOOST_TEST(j["executions"].size() == 2u);
  BOOST_TEST(j["executions"][0]["message"].get<std::string>().find("killed by signal 9") !=
             std::string::npos);
  BOOST_TEST(j["state"] == "Failed");  // the second run times out, as asked
  BOOST_TEST(j["message"].get<std::string>().find("timed out") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(job_get_writes_stdout_stderr_exit_code_and_output_files) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--id-only", test_wasm("exit_code"), "5"});
  BOOST_TEST(r.status == 5);
  TempDir out;
  auto g = h.shoal({"job", "get", trim(r.out), "--output-dir", out.path() + "/res"});
  BOOST_TEST(g.status == 0, g.err);
  std::ifstream so(out.path() + "/res/stdout"), ec(out.path() + "/res/exitCode");
  std::string s((std::istreambuf_iterator<char>(so)), std::istreambuf_iterator<char>());
  std::string c((std::istreambuf_iterator<char>(ec)), std::istreambuf_iterator<char>());
  BOOST_TEST(s == "exiting with 5\n");
  BOOST_TEST(c == "5");
}

BOOST_AUTO_TEST_CASE(an_unknown_or_ambiguous_id_is_named) {
  Home h;
  auto r = h.shoal({"job", "describe", "j-nonexistent"});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err == "shoal: no job matches 'j-nonexistent'\n");
  h.shoal({"wasm", "run", test_wasm("exit_code"), "0"});
  h.shoal({"wasm", "run", test_wasm("exit_code"), "0"});
  auto amb = h.shoal({"job", "describe", "j-"});
  BOOST_TEST(amb.status == 125);
  BOOST_TEST(amb.err.find("matches several jobs") != std::string::npos, amb.err);
}

BOOST_AUTO_TEST_CASE(delete_refuses_a_running_job_and_removes_a_finished_one) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--id-only", test_wasm("exit_code"), "0"});
  std::string id = trim(r.out);
  auto d = h.shoal({"job", "delete", id});
  BOOST_TEST(d.status == 0, d.err);
  auto gone = h.shoal({"job", "describe", id});
  BOOST_TEST(gone.status == 125);
}

BOOST_AUTO_TEST_CASE(shutdown_returns_once_the_broker_has_exited) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("exit_code"), "0"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST_REQUIRE(h.locked());
  auto s = h.shoal({"shutdown"});
  BOOST_TEST(s.status == 0, s.err);
  // The lock goes last, after the workers are stopped: the next command
  // must find no broker, not one on its way out.
  BOOST_TEST(!h.locked());
}

BOOST_AUTO_TEST_CASE(jobs_survive_a_broker_restart) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--id-only", test_wasm("exit_code"), "4"});
  std::string id = trim(r.out);
  BOOST_TEST(h.shoal({"shutdown"}).status == 0);
  shoal::test::wait_until([&] { return !fs::exists(h.dir.path() + "/run/broker.sock"); });
  auto logs = h.shoal({"job", "logs", id});
  BOOST_TEST(logs.status == 0, logs.err);
  BOOST_TEST(logs.out == "exiting with 4\n");
  BOOST_TEST(h.job(id)["exit_code"] == 4);
}

BOOST_AUTO_TEST_CASE(the_protocol_answers_garbage_with_an_error) {
  Home h;
  BOOST_TEST(h.shoal({"job", "list"}).status == 0);
  // Debian's python3-zmq is installed for the system Python.
  auto py = run_process({"/usr/bin/python3", "-c", R"(
import zmq, sys, os
s = zmq.Context().socket(zmq.DEALER)
s.connect("ipc://" + os.environ["SHOAL_HOME"] + "/run/broker.sock")
s.send_multipart([b"shoal/9", b"list", b"{}"])
print(s.recv_multipart()[2].decode())
s.send_multipart([b"shoal/1", b"list", b"{not json"])
print(s.recv_multipart()[2].decode())
s.send_multipart([b"shoal/1", b"frobnicate", b"{}"])
print(s.recv_multipart()[2].decode())
s.send_multipart([b"shoal/1", b"submit", b'{"module": "m.wasm"}'])
print(s.recv_multipart()[2].decode())
s.send_multipart([b"shoal/1", b"submit", b'{"modul": "m.wasm"}', b"\0asm\1\0\0\0"])
print(s.recv_multipart()[2].decode())
)"});
  BOOST_TEST(py.status == 0, py.err);
  BOOST_TEST(py.out.find("unsupported protocol 'shoal/9'") != std::string::npos, py.out);
  BOOST_TEST(py.out.find("is not a JSON object") != std::string::npos, py.out);
  BOOST_TEST(py.out.find("unknown command 'frobnicate'") != std::string::npos, py.out);
  BOOST_TEST(py.out.find("the module's bytes are missing (the frame after the JSON body)") !=
                 std::string::npos,
             py.out);
  BOOST_TEST(py.out.find("unknown field 'modul' in the spec") != std::string::npos, py.out);
  BOOST_TEST(h.shoal({"job", "list"}).status == 0);
}

BOOST_AUTO_TEST_CASE(a_module_url_with_a_port_is_fetched_and_run) {
  Home h;
  Server server;
  auto r = h.shoal({"wasm", "run", server.url("/wasm/exit_code.wasm"), "9"});
  BOOST_TEST(r.status == 9, r.err);
  BOOST_TEST(r.out == "exiting with 9\n");
  auto missing = h.shoal({"wasm", "run", server.url("/wasm/nothing.wasm")});
  BOOST_TEST(missing.status == 125);
  BOOST_TEST(missing.err.find("HTTP 404") != std::string::npos, missing.err);
}

// libcurl (and the TLS stack under it) is loaded on the first fetch, not by
// every command: the loader's own log of `shoal --version` names no libcurl,
// and the test above fetched through it.
// What every command loads costs every command (docs/benchmarks.md):
// libcurl waits for the first fetch, and hashing needs no OpenSSL.
BOOST_AUTO_TEST_CASE(neither_libcurl_nor_libcrypto_is_loaded_by_a_command_that_fetches_nothing) {
  auto r = shoal::test::run_process({"env", "LD_DEBUG=libs", shoal_bin(), "--version"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.err.find("libzmq") != std::string::npos, r.err);  // the log is there
  BOOST_TEST(r.err.find("libcurl") == std::string::npos, r.err);
  BOOST_TEST(r.err.find("libcrypto.so") == std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(a_module_memory_that_is_not_a_size_is_refused_naming_it) {
  Home h;
  auto r = h.shoal({"serve", "--module-memory", "lots"});
  BOOST_TEST(r.status == 125, r.err);
  BOOST_TEST(r.err == "shoal: --module-memory: 'lots' is not a size (try 512MiB or 2GiB)\n");
}

BOOST_AUTO_TEST_CASE(a_url_input_that_fails_fails_the_job_naming_the_url_and_status) {
  Home h;
  Server server;
  std::string url = server.url("/missing.txt");
  auto r = h.shoal({"wasm", "run", "--input", url + ":/inputs/m.txt", test_wasm("args_env")});
  BOOST_TEST(r.status == 126);
  BOOST_TEST(r.err.find(url) != std::string::npos, r.err);
  BOOST_TEST(r.err.find("HTTP 404 Not Found") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(follow_streams_the_output_and_exits_with_the_code) {
  Home h;
  auto r = h.shoal({"wasm", "run", "-f", test_wasm("spew"), "70000"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == std::string(70000, 'x'));
  BOOST_TEST(r.err == "done\n");
}

BOOST_AUTO_TEST_CASE(a_jobs_stdout_is_flushed_by_line_for_live_logs) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("buffering")});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "stdout is a terminal\nstderr is a terminal\n");
}

BOOST_AUTO_TEST_CASE(running_jobs_are_requeued_after_the_broker_is_killed) {
  Home h;
  auto s = h.shoal({"wasm", "run", "--wait=false", "--timeout", "1", test_wasm("spin")});
  std::string id = trim(s.out);
  BOOST_TEST_REQUIRE(shoal::test::wait_until([&] { return h.job(id)["state"] == "Running"; }));
  std::ifstream pidfile(h.dir.path() + "/run/broker.pid");
  int pid = 0;
  pidfile >> pid;
  BOOST_TEST_REQUIRE(pid > 0);
  ::kill(pid, SIGKILL);
  BOOST_TEST_REQUIRE(shoal::test::wait_until([&] { return ::kill(pid, 0) != 0; }));
  // The next command starts a new broker, which re-queues the job.
  auto w = h.shoal({"job", "wait", id});
  json j = h.job(id);
  BOOST_TEST(j["executions"].size() == 2u);
  BOOST_TEST(j["executions"][0]["message"] == "the broker restarted while it ran");
  BOOST_TEST(j["message"].get<std::string>().find("timed out") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(url_and_local_file_inputs_are_read_at_their_targets) {
  Home h;
  Server server;
  TempDir d;
  std::ofstream(d.path() + "/local.txt") << "a local file\n";
  auto r = h.shoal(
      {"wasm", "run", "--id-only", "--input", server.url("/data.txt") + ":/inputs/data.txt", "-i",
       "src=" + d.path() + "/local.txt,dst=/inputs/local.txt", test_wasm("stdin_echo")});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  std::string id = trim(r.out);
  json j = h.job(id);
  bool fetched = false;
  for (const auto& e : j["history"])
    fetched |= e["event"].get<std::string>().starts_with("fetched " + server.url("/data.txt"));
  BOOST_TEST(fetched);
  for (std::string path : {"/inputs/data.txt", "/inputs/local.txt"}) {
    auto open =
        h.shoal({"wasm", "run", "-i", server.url("/data.txt") + ":/inputs/data.txt", "-i",
                 d.path() + "/local.txt:/inputs/local.txt", test_wasm("files"), "open", path});
    BOOST_TEST(open.status == 1, open.err);  // files.wasm exits 1 when it could open the path
    BOOST_TEST(open.out == "opened " + path + "\n");
  }
}

BOOST_AUTO_TEST_CASE(wait_timeout_secs_is_honoured_and_the_job_goes_on) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--wait-timeout-secs", "0.5", test_wasm("spin")});
  BOOST_TEST(r.status == 124);
  BOOST_TEST(r.err.find("after the wait timeout; it goes on") != std::string::npos, r.err);
  auto list = h.shoal({"job", "list", "--output", "json"});
  json jobs = json::parse(list.out);
  BOOST_TEST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs[0]["State"]["StateType"] != "Completed");
  BOOST_TEST(h.shoal({"job", "stop", jobs[0]["ID"]}).status == 0);
}

// Regression: each job used to open a new PAIR connection inside the
// worker; under a stream of jobs one could be refused, its "done" was lost,
// and the worker and then the whole queue stalled.
BOOST_AUTO_TEST_CASE(a_burst_of_concurrent_cli_submissions_all_complete) {
  Home h;
  const int n = 200;
  auto submit = run_process({"bash", "-c",
                             "seq " + std::to_string(n) + " | xargs -P 8 -I{} " + shoal_bin() +
                                 " wasm run --wait=false --id-only " + test_wasm("exit_code") +
                                 " 0 >/dev/null"});
  BOOST_TEST_REQUIRE(submit.status == 0, submit.err);
  json jobs;
  int done = 0;
  shoal::test::wait_until(
      [&] {
        jobs = json::parse(h.shoal({"job", "list", "--limit", "0", "--output", "json"}).out);
        done = 0;
        for (const auto& j : jobs) done += j["State"]["StateType"] == "Completed";
        return done == n;
      },
      std::chrono::seconds(120), std::chrono::milliseconds(100));
  BOOST_TEST(jobs.size() == static_cast<size_t>(n));
  BOOST_TEST(done == n);
}

BOOST_AUTO_TEST_CASE(executions_history_and_prune) {
  Home h;
  auto r = h.shoal({"wasm", "run", "--id-only", test_wasm("exit_code"), "2"});
  std::string id = trim(r.out);
  auto ex = h.shoal({"job", "executions", id, "--output", "csv"});
  BOOST_TEST(ex.status == 0, ex.err);
  BOOST_TEST(ex.out.starts_with("ID,ATTEMPT,WORKER,STATE,STARTED,ENDED,EXIT,MESSAGE\ne-"), ex.out);
  BOOST_TEST(ex.out.find(",1,w-") != std::string::npos, ex.out);
  BOOST_TEST(ex.out.find(",Completed,") != std::string::npos, ex.out);
  auto hist = h.shoal({"job", "history", id});
  BOOST_TEST(hist.out.find("Submission") != std::string::npos, hist.out);
  BOOST_TEST(hist.out.find("Running -> Completed") != std::string::npos, hist.out);
  auto keep = h.shoal({"job", "prune", "--older-than", "1h"});
  BOOST_TEST(keep.out == "deleted 0 jobs\n");
  auto bad = h.shoal({"job", "prune", "--older-than", "3weeks"});
  BOOST_TEST(bad.status == 125);
  BOOST_TEST(bad.err ==
             "shoal: --older-than '3weeks': unknown unit 'weeks' (use ms, s, m, h or d)\n");
  auto all = h.shoal({"job", "prune", "--older-than", "0s"});
  BOOST_TEST(all.out == "deleted 1 jobs\n");
  BOOST_TEST(h.shoal({"job", "describe", id}).status == 125);
}

BOOST_AUTO_TEST_CASE(an_auto_started_broker_exits_when_idle) {
  Home h;
  ::setenv("SHOAL_IDLE_EXIT", "1", 1);
  auto r = h.shoal({"job", "list"});
  ::unsetenv("SHOAL_IDLE_EXIT");
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(fs::exists(h.dir.path() + "/run/broker.sock"));
  shoal::test::wait_until([&] { return !fs::exists(h.dir.path() + "/run/broker.sock"); });
  BOOST_TEST(!fs::exists(h.dir.path() + "/run/broker.sock"));
  std::ifstream log(h.dir.path() + "/broker.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  BOOST_TEST(text.find("idle for 1 s; exiting") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_cached_module_still_gets_a_fresh_instance_per_job) {
  Home h;
  for (int i = 0; i < 6; ++i) {
    auto r = h.shoal({"wasm", "run", test_wasm("counter")});
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == "1\n");
  }
}

BOOST_AUTO_TEST_CASE(job_get_of_an_unfinished_job_waits_for_its_end_or_says_it_is_running) {
  Home h;
  auto s = h.shoal({"wasm", "run", "--wait=false", test_wasm("chaos_job"), "5", "3000"});
  std::string id = trim(s.out);
  BOOST_TEST_REQUIRE(shoal::test::wait_until([&] { return h.job(id)["state"] == "Running"; }));
  const fs::path partial = fs::path(h.path) / "partial", whole = fs::path(h.path) / "whole";
  auto early = h.shoal({"job", "get", id, "--no-wait", "--output-dir", partial.string()});
  BOOST_TEST(early.status == 0, early.err);
  BOOST_TEST(early.err == "shoal: job " + id + " is still Running: " + partial.string() +
                              " holds what it printed so far, and no exitCode or output files "
                              "yet (they come when it ends: shoal job get " +
                              id + " again)\n");
  BOOST_TEST(!fs::exists(partial / "exitCode"));
  auto later = h.shoal({"job", "get", id, "--output-dir", whole.string()});
  BOOST_TEST(later.status == 0, later.err);
  BOOST_TEST(later.err == "");
  BOOST_TEST(shoal::test::read_file((whole / "exitCode").string()) == "0");
  BOOST_TEST(fs::exists(whole / "outputs" / "result.txt"));
}

BOOST_AUTO_TEST_CASE(a_name_with_a_newline_stays_on_its_row_of_the_list_and_of_describe) {
  Home h;
  auto s = h.shoal({"wasm", "run", "--wait=false", "--id-only", "--name", "x\ny\x1b[2J",
                    test_wasm("exit_code"), "0"});
  BOOST_TEST_REQUIRE(s.status == 0, s.err);
  auto list = h.shoal({"job", "list", "--wide"});
  BOOST_TEST(list.status == 0, list.err);
  BOOST_TEST(list.out.find("x\\x0ay\\x1b[2J") != std::string::npos, list.out);
  BOOST_TEST(std::count(list.out.begin(), list.out.end(), '\n') == 2);  // header and one row
  auto described = h.shoal({"job", "describe", shoal::test::trim(s.out)});
  BOOST_TEST(described.status == 0, described.err);
  BOOST_TEST(described.out.find("Name            x\\x0ay\\x1b[2J\n") != std::string::npos,
             described.out);
}

BOOST_AUTO_TEST_CASE(job_list_labels_is_a_label_selector_and_a_malformed_one_is_refused) {
  Home h;
  auto run = [&](std::vector<std::string> labels) {
    std::vector<std::string> args{"wasm", "run", "--wait=false", "--id-only"};
    for (const auto& l : labels) args.insert(args.end(), {"-l", l});
    args.insert(args.end(), {test_wasm("exit_code"), "0"});
    auto r = h.shoal(args);
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    return trim(r.out);
  };
  const std::string prod = run({"env=prod"}), dev = run({"env=dev"}), none = run({});
  auto ids = [&](const std::string& selector) {
    auto r = h.shoal({"job", "list", "--labels", selector, "--output", "json"});
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    std::set<std::string> out;
    for (const auto& j : json::parse(r.out)) out.insert(j["ID"].get<std::string>());
    return out;
  };
  BOOST_TEST((ids("env!=dev") == std::set<std::string>{prod, none}));
  BOOST_TEST((ids("!env") == std::set<std::string>{none}));
  BOOST_TEST((ids("env in (prod)") == std::set<std::string>{prod}));
  BOOST_TEST((ids("env=dev") == std::set<std::string>{dev}));
  BOOST_TEST((ids("env") == std::set<std::string>{prod, dev}));
  auto bad = h.shoal({"job", "list", "--labels", "garbage((("});
  BOOST_TEST(bad.status == 125);
  BOOST_TEST(bad.out == "");
  BOOST_TEST(bad.err == "shoal: labels: 'garbage(((': unbalanced '('\n");
}

// opt=rw=true: the program changes a copy of its own; the source stays as
// it was. A directory may be the guest's whole tree (/), with the default
// output still at /outputs. Options that mean nothing here are refused.
BOOST_AUTO_TEST_CASE(a_read_write_input_is_the_programs_own_copy_and_may_be_the_root) {
  Home h;
  TempDir data;
  std::ofstream(data.path() + "/in.txt") << "old";
  const std::string root = "src=" + data.path() + ",dst=/";
  auto read_only = h.shoal(
      {"wasm", "run", test_wasm("tree_maker"), "--input", root, "--", "write", "/in.txt", "new"});
  BOOST_TEST(read_only.status == 1, read_only.err);
  BOOST_TEST(read_only.out == "write /in.txt: Read-only file system\n");
  auto rw = h.shoal({"wasm", "run", "--id-only", "--wait=false", test_wasm("tree_maker"), "--input",
                     root + ",opt=rw=true", "--", "write", "/in.txt", "new"});
  BOOST_TEST_REQUIRE(rw.status == 0, rw.err);
  const std::string id = shoal::test::trim(rw.out);
  auto waited = h.shoal({"job", "wait", id});
  BOOST_TEST(waited.status == 0, waited.err);
  BOOST_TEST(shoal::test::read_file(data.path() + "/in.txt") == "old");
  auto described = h.shoal({"job", "describe", id, "--output", "json"});
  // Shown wherever the input is (shoal's read_write, Bacalhau's ReadWrite).
  std::function<bool(const json&)> read_write = [&](const json& j) {
    if (j.is_object())
      for (const auto& [k, v] : j.items())
        if (((k == "read_write" || k == "ReadWrite") && v == true) || read_write(v)) return true;
    if (j.is_array())
      for (const auto& v : j)
        if (read_write(v)) return true;
    return false;
  };
  BOOST_TEST(read_write(json::parse(described.out)), described.out);
  auto nested = h.shoal({"wasm", "run", test_wasm("tree_maker"), "--input", root, "--", "write",
                         "/outputs/o.txt", "out"});
  BOOST_TEST(nested.status == 0, nested.err);
  BOOST_TEST(nested.out == "wrote /outputs/o.txt\n");
  auto unknown = h.shoal({"wasm", "run", test_wasm("exit_code"), "--input", root + ",opt=ro=true"});
  BOOST_TEST(unknown.status == 125);
  BOOST_TEST(unknown.err.find("the option 'ro' is not known") != std::string::npos, unknown.err);
  auto output_root = h.shoal({"wasm", "run", test_wasm("exit_code"), "-o", "all:/"});
  BOOST_TEST(output_root.status == 125);
  BOOST_TEST(output_root.err.find("an output cannot be / itself") != std::string::npos,
             output_root.err);
}

BOOST_AUTO_TEST_CASE(job_list_pages_oldest_first_with_bacalhaus_next_token_hint) {
  Home h;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = h.shoal({"wasm", "run", "--wait=false", "--id-only", test_wasm("exit_code"), "0"});
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    ids.push_back(trim(r.out));
  }
  auto listed = [](const std::string& out) {
    std::vector<std::string> v;
    for (const auto& j : json::parse(out)) v.push_back(j["ID"].get<std::string>());
    return v;
  };
  auto first = h.shoal({"job", "list", "--limit", "2", "--output", "json"});
  BOOST_TEST_REQUIRE(first.status == 0, first.err);
  BOOST_TEST((listed(first.out) == std::vector<std::string>{ids[0], ids[1]}));
  const std::string hint = "\nTo fetch more records use:\n\tshoal job list --limit 2 --next-token ";
  BOOST_TEST_REQUIRE(first.err.starts_with(hint), first.err);
  std::string token = trim(first.err.substr(hint.size()));
  auto rest = h.shoal({"job", "list", "--limit", "2", "--next-token", token, "--output", "json"});
  BOOST_TEST_REQUIRE(rest.status == 0, rest.err);
  BOOST_TEST((listed(rest.out) == std::vector<std::string>{ids[2]}));
  BOOST_TEST(rest.err == "");  // the last page says nothing more
  auto newest = h.shoal({"job", "list", "--order-reversed", "--limit", "1", "--output", "json"});
  BOOST_TEST_REQUIRE(newest.status == 0, newest.err);
  BOOST_TEST((listed(newest.out) == std::vector<std::string>{ids[2]}));
  BOOST_TEST(newest.err.find("--order-reversed") != std::string::npos, newest.err);
  auto bad = h.shoal({"job", "list", "--next-token", "zz"});
  BOOST_TEST(bad.status == 125);
  BOOST_TEST(bad.err == "shoal: --next-token zz is not a token of `shoal job list`\n");
}
