// The C++ client library (client/client.h) against a real broker that it
// starts itself in a private state directory, with real worker processes;
// then against a broker that is killed or frozen with real signals.
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <sstream>
#include <thread>

#include "client/client.h"
#include "tests/support/process.h"
#include "tests/support/wasm_bytes.h"

namespace fs = std::filesystem;
using nlohmann::json;
using shoal::client::Client;
using shoal::client::Options;
using shoal::client::Stream;
using shoal::client::Submission;
using shoal::test::padded;
using shoal::test::read_file;
using shoal::test::run_process;
using shoal::test::TempDir;
using shoal::test::test_wasm;

namespace {

std::string ticks(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += "tick " + std::to_string(i) + "\n";
  return s;
}

// A private state directory whose broker the client starts, shut down at
// the end.
struct Home {
  TempDir dir;
  Options options() const {
    Options o;
    o.state_dir = dir.path();
    o.shoal_binary = shoal::test::required_env("SHOAL_BIN");
    return o;
  }
  ~Home() {
    ::setenv("SHOAL_HOME", dir.path().c_str(), 1);
    run_process({shoal::test::required_env("SHOAL_BIN"), "shutdown"});
    ::unsetenv("SHOAL_HOME");
  }
  Client connect(Options o) {
    auto c = Client::connect(o);
    BOOST_TEST_REQUIRE(c.has_value(), (c ? "" : c.error()));
    return std::move(*c);
  }
  Client connect() { return connect(options()); }
  int broker_pid() const {
    int pid = 0;
    std::ifstream(dir.path() + "/run/broker.pid") >> pid;
    return pid;
  }
};

Submission job(const std::string& wasm, std::vector<std::string> args) {
  Submission s;
  s.spec = {{"module", wasm + ".wasm"}, {"args", args}, {"labels", {{"test", "client_api"}}}};
  s.module = read_file(test_wasm(wasm));
  return s;
}

// Submits `s` and waits: it must complete with `exit_code`.
void completes_with(Client& c, const Submission& s, int exit_code) {
  auto id = c.submit(s);
  BOOST_TEST_REQUIRE(id.has_value(), (id ? "" : id.error()));
  auto end = c.wait(*id);
  BOOST_TEST_REQUIRE(end.has_value(), (end ? "" : end.error()));
  BOOST_TEST((*end)["state"] == "Completed", end->dump());
  BOOST_TEST((*end)["exit_code"] == exit_code);
}

void wait_running(Client& c, const std::string& id) {
  for (int i = 0; i < 200; ++i) {
    auto j = c.describe(id);
    BOOST_TEST_REQUIRE(j.has_value(), (j ? "" : j.error()));
    if ((*j)["state"] == "Running") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  BOOST_FAIL("job " + id + " never started running");
}

shoal::client::ListQuery everything() {
  shoal::client::ListQuery q;
  q.limit = 0;
  return q;
}

void kill_and_reap(int pid) {
  BOOST_TEST_REQUIRE(pid > 0);
  ::kill(pid, SIGKILL);
  for (int i = 0; i < 500 && ::kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace

BOOST_AUTO_TEST_CASE(submit_wait_logs_describe_and_list) {
  Home h;
  Client c = h.connect();
  auto id = c.submit(job("exit_code", {"3"}));
  BOOST_TEST_REQUIRE(id.has_value(), (id ? "" : id.error()));
  std::vector<std::string> states;
  shoal::client::WaitCallbacks watch;
  watch.on_state = [&](const json& j) { states.push_back(j["state"]); };
  auto end = c.wait(*id, watch);
  BOOST_TEST_REQUIRE(end.has_value(), (end ? "" : end.error()));
  BOOST_TEST((*end)["state"] == "Completed");
  BOOST_TEST((*end)["exit_code"] == 3);
  BOOST_TEST_REQUIRE(!states.empty());
  BOOST_TEST(states.back() == "Completed");

  std::string out;
  auto logs = c.logs(*id, Stream::all, false, [&](const std::string& stream, const std::string& d) {
    BOOST_TEST(stream == "stdout");
    out += d;
  });
  BOOST_TEST_REQUIRE(logs.has_value(), (logs ? "" : logs.error()));
  BOOST_TEST(out == "exiting with 3\n");

  auto d = c.describe(id->substr(0, 12));  // a unique prefix will do
  BOOST_TEST_REQUIRE(d.has_value());
  BOOST_TEST((*d)["id"] == *id);

  auto other = c.submit(job("exit_code", {"0"}));
  BOOST_TEST_REQUIRE(other.has_value());
  BOOST_TEST_REQUIRE(c.wait(*other).has_value());
  shoal::client::ListQuery q;
  q.limit = 0;
  q.oldest_first = true;
  q.labels = {{"test", "client_api"}};
  auto all = c.list(q);
  BOOST_TEST_REQUIRE(all.has_value());
  BOOST_TEST_REQUIRE(all->size() == 2u);
  BOOST_TEST((*all)[0]["id"] == *id);
  BOOST_TEST((*all)[1]["id"] == *other);
  q.labels = {{"test", "elsewhere"}};
  auto none = c.list(q);
  BOOST_TEST_REQUIRE(none.has_value());
  BOOST_TEST(none->empty());
}

// A large module goes by its SHA-256 first: to a broker that lacks it the
// client sends the bytes after all; after that, the name is enough, for this
// client and for a new one (as for the next shoal command).
BOOST_AUTO_TEST_CASE(a_large_module_is_named_by_sha256_and_sent_only_when_missing) {
  Home h;
  Submission s = job("exit_code", {"7"});
  s.module = padded(s.module, 2u << 20);  // large; nothing else changes
  for (int round = 0; round < 3; ++round) {
    Client c = h.connect();
    for (int k = 0; k < 2; ++k) completes_with(c, s, 7);
  }
}

// module_view: the bytes stay the caller's (a mapped file, say); small or
// large, sent or named by hash, the job runs that module.
BOOST_AUTO_TEST_CASE(a_module_held_by_the_caller_is_submitted_through_a_view) {
  Home h;
  Client c = h.connect();
  for (size_t padding : {size_t{0}, size_t{3} << 20}) {
    Submission s = job("exit_code", {"9"});
    const std::string bytes = padding ? padded(s.module, padding) : s.module;
    s.module.clear();
    s.module_view = bytes;
    completes_with(c, s, 9);
  }
}

BOOST_AUTO_TEST_CASE(errors_are_values_that_name_the_cause) {
  Home h;
  Client c = h.connect();
  auto d = c.describe("j-no-such-job");
  BOOST_TEST_REQUIRE(!d.has_value());
  BOOST_TEST(d.error() == "no job matches 'j-no-such-job'");
  Submission bad = job("exit_code", {});
  bad.module = "not wasm";
  auto s = c.submit(bad);
  BOOST_TEST_REQUIRE(!s.has_value());
  BOOST_TEST(s.error().find("is not a WebAssembly module") != std::string::npos, s.error());

  Options o = h.options();
  o.state_dir = h.dir.path() + "/elsewhere";
  o.start_broker = false;
  auto none = Client::connect(o);
  BOOST_TEST_REQUIRE(!none.has_value());
  BOOST_TEST(none.error() ==
             "no broker is running for " + o.state_dir + " (start one with shoal serve)");
}

BOOST_AUTO_TEST_CASE(outputs_stdin_stop_remove_and_prune) {
  Home h;
  Client c = h.connect();
  Submission s = job("ticker", {"3", "0", "/outputs/ticks.txt"});
  auto id = c.submit(s);
  BOOST_TEST_REQUIRE(id.has_value(), (id ? "" : id.error()));
  BOOST_TEST_REQUIRE(c.wait(*id).has_value());
  TempDir out;
  auto files = c.fetch_outputs(*id, out.path() + "/res");
  BOOST_TEST_REQUIRE(files.has_value(), (files ? "" : files.error()));
  BOOST_TEST(files->size() == 4u);  // stdout, stderr, exitCode, outputs/ticks.txt
  BOOST_TEST(read_file(out.path() + "/res/stdout") == ticks(3));
  BOOST_TEST(read_file(out.path() + "/res/stderr") == "");
  BOOST_TEST(read_file(out.path() + "/res/exitCode") == "0");
  BOOST_TEST(read_file(out.path() + "/res/outputs/ticks.txt") == ticks(3));
  auto one = c.output(*id, "outputs", "ticks.txt");
  BOOST_TEST_REQUIRE(one.has_value());
  BOOST_TEST(*one == ticks(3));

  Submission echo = job("stdin_echo", {});
  echo.stdin_data = std::string("from the client\n");
  auto e = c.submit(echo);
  BOOST_TEST_REQUIRE(e.has_value());
  BOOST_TEST_REQUIRE(c.wait(*e).has_value());
  std::string echoed;
  BOOST_TEST_REQUIRE(
      c.logs(*e, Stream::stdout_only, false, [&](const std::string&, const std::string& d) {
         echoed += d;
       }).has_value());
  BOOST_TEST(echoed == "FROM THE CLIENT\n");

  auto spin = c.submit(job("spin", {}));
  BOOST_TEST_REQUIRE(spin.has_value());
  wait_running(c, *spin);
  auto refused = c.remove(*spin);
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().find("stop it first") != std::string::npos, refused.error());
  BOOST_TEST_REQUIRE(c.stop(*spin).has_value());
  auto stopped = c.wait(*spin);
  BOOST_TEST_REQUIRE(stopped.has_value());
  BOOST_TEST((*stopped)["state"] == "Stopped");
  BOOST_TEST_REQUIRE(c.remove(*spin).has_value());
  BOOST_TEST(!c.describe(*spin).has_value());
  auto pruned = c.prune(std::chrono::seconds(0));
  BOOST_TEST_REQUIRE(pruned.has_value());
  BOOST_TEST(*pruned == 2u);
  auto left = c.list(everything());
  BOOST_TEST_REQUIRE(left.has_value());
  BOOST_TEST(left->empty());
}

namespace {

// `c.nodes()` answers with the pools, not with a message some abandoned
// stream sent meanwhile (a log chunk's body once made it an empty list).
void answers_nodes_rightly(Client& c) {
  auto nodes = c.nodes();
  BOOST_TEST_REQUIRE(nodes.has_value(), (nodes ? "" : nodes.error()));
  BOOST_TEST_REQUIRE(!nodes->empty());
  BOOST_TEST(nodes->front().contains("slots"), nodes->front().dump());
}

// With a byte already in the interrupt pipe (a Ctrl-C that came between two
// waits), each of `calls` on a client (run on a thread, on a job that ticks
// for 20 s) must end at once saying "interrupted", instead of staying
// blocked on a job that never ends. The job then ends through another
// client, and the first client must answer its next requests rightly: what
// the abandoned streams send meanwhile is not taken for their answers.
using Calls = std::function<std::vector<std::string>(Client&, const std::string& id)>;
void interrupted_then_answers_rightly(const Calls& calls) {
  Home h;
  Client c = h.connect();
  auto id = c.submit(job("ticker", {"2000", "10"}));
  BOOST_TEST_REQUIRE(id.has_value());
  wait_running(c, *id);
  int fds[2];
  BOOST_TEST_REQUIRE(::pipe(fds) == 0);
  BOOST_TEST_REQUIRE(::write(fds[1], "!", 1) == 1);
  shoal::client::set_interrupt_fd(fds[0]);
  std::promise<std::vector<std::string>> done;
  std::thread([&] { done.set_value(calls(c, *id)); }).detach();
  auto said = done.get_future();
  const bool ended = said.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  shoal::client::set_interrupt_fd(-1);
  ::close(fds[0]);
  ::close(fds[1]);
  if (!ended) {  // the thread is let go: the job is stopped, its waits end
    (void)h.connect().stop(*id);
    said.wait();
    BOOST_FAIL("a wait was not ended by the interrupt fd");
  }
  for (const auto& one : said.get()) BOOST_TEST(one == "interrupted");
  Client other = h.connect();
  BOOST_TEST_REQUIRE(other.stop(*id).has_value());
  auto end = other.wait(*id);
  BOOST_TEST_REQUIRE(end.has_value(), (end ? "" : end.error()));
  BOOST_TEST((*end)["state"] == "Stopped");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  answers_nodes_rightly(c);
  auto d = c.describe(*id);
  BOOST_TEST_REQUIRE(d.has_value(), (d ? "" : d.error()));
  BOOST_TEST((*d)["state"] == "Stopped", d->dump());
}

std::string said(const std::expected<json, std::string>& r) {
  return r ? "ended: " + r->dump() : r.error();
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_interrupt_fd_ends_a_wait_that_began_after_the_signal) {
  // A log stream on the open connection, then a wait that opens a new one.
  interrupted_then_answers_rightly([](Client& c, const std::string& id) {
    std::vector<std::string> out;
    out.push_back(
        said(c.logs(id, Stream::all, true, [](const std::string&, const std::string&) {})));
    out.push_back(said(c.wait(id)));
    return out;
  });
}

BOOST_AUTO_TEST_CASE(an_interrupt_fd_ends_a_wait_for_several_jobs) {
  interrupted_then_answers_rightly([](Client& c, const std::string& id) {
    auto r = c.wait_all({id}, [](const json&) {});
    return std::vector<std::string>{r ? std::string("ended") : r.error()};
  });
}

BOOST_AUTO_TEST_CASE(a_chunk_handler_that_throws_leaves_the_client_working) {
  // The exception goes through logs(); the stream's later lines are not
  // taken for the answer to the next request on the same client.
  Home h;
  Client c = h.connect();
  auto id = c.submit(job("ticker", {"2000", "10"}));
  BOOST_TEST_REQUIRE(id.has_value());
  struct Enough {};
  bool thrown = false;
  try {
    (void)c.logs(*id, Stream::all, true,
                 [](const std::string&, const std::string&) { throw Enough{}; });
  } catch (const Enough&) {
    thrown = true;
  }
  BOOST_TEST_REQUIRE(thrown);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // ticks go on meanwhile
  answers_nodes_rightly(c);
  BOOST_TEST_REQUIRE(c.stop(*id).has_value());
  auto end = c.wait(*id);
  BOOST_TEST_REQUIRE(end.has_value(), (end ? "" : end.error()));
  BOOST_TEST((*end)["state"] == "Stopped");
}

BOOST_AUTO_TEST_CASE(a_wait_time_limit_leaves_the_job_running) {
  Home h;
  Client c = h.connect();
  auto id = c.submit(job("ticker", {"40", "50"}));
  BOOST_TEST_REQUIRE(id.has_value());
  auto w = c.wait(*id, {}, std::chrono::milliseconds(300));
  BOOST_TEST_REQUIRE(!w.has_value());
  BOOST_TEST(w.error().find("job " + *id + " is still ") == 0u, w.error());
  BOOST_TEST(w.error().find("it goes on") != std::string::npos, w.error());
  // The same client goes on working: the abandoned stream does not leak
  // into later answers.
  auto d = c.describe(*id);
  BOOST_TEST_REQUIRE(d.has_value());
  BOOST_TEST((*d)["id"] == *id);
  auto end = c.wait(*id);
  BOOST_TEST_REQUIRE(end.has_value());
  BOOST_TEST((*end)["state"] == "Completed");
}

BOOST_AUTO_TEST_CASE(wait_and_follow_survive_a_killed_broker) {
  Home h;
  Options o = h.options();
  o.timeout = std::chrono::milliseconds(300);
  o.retries = 20;
  Client c = h.connect(o);
  auto id = c.submit(job("ticker", {"20", "100"}));
  BOOST_TEST_REQUIRE(id.has_value());
  wait_running(c, *id);
  int pid = h.broker_pid();
  // Follow the logs while the broker is killed under the stream: the client
  // starts a new one (which runs the job again) and delivers every line
  // exactly once.
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    kill_and_reap(pid);
  });
  std::string out;
  auto end = c.logs(*id, Stream::stdout_only, true,
                    [&](const std::string&, const std::string& d) { out += d; });
  killer.join();
  BOOST_TEST_REQUIRE(end.has_value(), (end ? "" : end.error()));
  BOOST_TEST((*end)["state"] == "Completed");
  // The first execution's lines up to the kill, once each, then the second
  // execution's from its start.
  BOOST_TEST_REQUIRE(out.size() > ticks(20).size());
  std::string first = out.substr(0, out.size() - ticks(20).size());
  BOOST_TEST(out.substr(first.size()) == ticks(20));
  int k = 0;
  while (ticks(k).size() < first.size()) ++k;
  BOOST_TEST(first == ticks(k));
  BOOST_TEST(h.broker_pid() != pid);
  auto d = c.describe(*id);
  BOOST_TEST_REQUIRE(d.has_value());
  BOOST_TEST((*d)["executions"].size() == 2u);

  // And a wait.
  auto second = c.submit(job("ticker", {"10", "100"}));
  BOOST_TEST_REQUIRE(second.has_value());
  wait_running(c, *second);
  kill_and_reap(h.broker_pid());
  auto w = c.wait(*second);
  BOOST_TEST_REQUIRE(w.has_value(), (w ? "" : w.error()));
  BOOST_TEST((*w)["state"] == "Completed");
}

BOOST_AUTO_TEST_CASE(a_frozen_broker_times_out_naming_what_may_have_happened) {
  Home h;
  Options o = h.options();
  o.timeout = std::chrono::milliseconds(200);
  o.retries = 1;
  Client c = h.connect(o);
  int pid = h.broker_pid();
  BOOST_TEST_REQUIRE(pid > 0);
  ::kill(pid, SIGSTOP);
  auto s = c.submit(job("exit_code", {"0"}));
  auto d = c.describe("j-anything");
  ::kill(pid, SIGCONT);
  BOOST_TEST_REQUIRE(!s.has_value());
  BOOST_TEST(
      s.error().find("did not answer 'submit' within 200 ms; it may or may not have been done") !=
          std::string::npos,
      s.error());
  BOOST_TEST_REQUIRE(!d.has_value());
  BOOST_TEST(d.error().find("is running but does not answer") != std::string::npos, d.error());
  // Once it runs again, so does a client (with time to spare for a broker
  // that has just woken up to a backlog).
  Client patient = h.connect();
  auto again = patient.list(everything());
  BOOST_TEST_REQUIRE(again.has_value(), (again ? "" : again.error()));
}

BOOST_AUTO_TEST_CASE(a_stream_given_up_on_a_frozen_broker_is_not_read_later) {
  // retries = 0: a log stream whose broker stops answering ends at the first
  // unanswered ping. Once the broker runs again, what it sends on for that
  // stream must not be taken for the answer to the client's next request.
  Home h;
  Client starter = h.connect();
  auto id = starter.submit(job("ticker", {"2000", "10"}));
  BOOST_TEST_REQUIRE(id.has_value());
  wait_running(starter, *id);
  Options o = h.options();
  o.timeout = std::chrono::milliseconds(300);
  o.retries = 0;
  Client c = h.connect(o);
  int pid = h.broker_pid();
  BOOST_TEST_REQUIRE(pid > 0);
  std::promise<std::string> followed;
  std::thread([&] {
    auto l = c.logs(*id, Stream::all, true, [](const std::string&, const std::string&) {});
    followed.set_value(l ? "ended: " + l->dump() : l.error());
  }).detach();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // streaming
  ::kill(pid, SIGSTOP);
  auto l = followed.get_future();
  const bool ended = l.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  ::kill(pid, SIGCONT);
  BOOST_TEST_REQUIRE(ended, "the stream did not give up on the frozen broker");
  BOOST_TEST(l.get().find("the broker stopped answering") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // ticks go on meanwhile
  answers_nodes_rightly(c);
  BOOST_TEST_REQUIRE(starter.stop(*id).has_value());
}
