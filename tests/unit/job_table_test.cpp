// JobTable: the broker's unfinished jobs as pure state, with a clock the
// test moves by hand.
#include "broker/job_table.h"

#include <boost/test/unit_test.hpp>
#include <deque>
#include <ostream>

using namespace shoal;
using namespace shoal::broker;
using jobs::JobState;

namespace shoal::jobs {
std::ostream& operator<<(std::ostream& os, JobState s) {
  return os << state_name(s);
}
}  // namespace shoal::jobs

namespace {

struct Change {
  std::string id;
  JobState state;
  bool tell;
  uint64_t revision;
  std::string message;
};

struct Recorder : JobObserver {
  std::vector<Change> changes;
  void changed(const jobs::Job& job, bool tell) override {
    changes.push_back({job.id, job.state, tell, job.revision, job.message});
  }
};

struct Fixture {
  Clock::time_point now{std::chrono::hours(1)};
  int64_t wall = 1'000;
  Recorder seen;
  JobTable table{3, seen, JobClock{[this] { return now; }, [this] { return ++wall; }}};

  jobs::Job& submit(const std::string& id, std::vector<jobs::InputSpec> inputs = {},
                    uint64_t timeout_ms = 0, std::string constraints = "") {
    jobs::Job job;
    job.id = id;
    job.spec.inputs = std::move(inputs);
    job.spec.timeout_ms = timeout_ms;
    job.spec.constraints = std::move(constraints);
    return table.submit(std::move(job));
  }

  std::vector<WorkerView> workers(std::vector<std::pair<std::string, std::string>> names_hosts) {
    std::vector<WorkerView> out;
    for (auto& [name, host] : names_hosts) {
      const std::string& n = strings.emplace_back(name);
      const std::string& h = strings.emplace_back(host);
      out.push_back({n, h, &no_labels, true, 0, {}});
    }
    return out;
  }

  // Dispatches, starting every job given a worker; returns "job@worker" each.
  std::vector<std::string> dispatch(std::vector<WorkerView>& ws, bool remote = false) {
    std::vector<std::string> started;
    table.dispatch(ws, [&](jobs::Job& job, size_t i) {
      table.start_execution(job, JobTable::next_exec_id(job),
                            RunPlace{std::string(ws[i].name), std::string(ws[i].host), remote, ""});
      started.push_back(job.id + "@" + std::string(ws[i].name));
      return true;
    });
    return started;
  }

  std::map<std::string, std::string> no_labels;
  std::deque<std::string> strings;  // the workers' names and hosts the views point at
};

jobs::InputSpec url_input() {
  jobs::InputSpec in;
  in.source = "https://example.com/data";
  in.target = "/data";
  return in;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(job_table, Fixture)

BOOST_AUTO_TEST_CASE(a_job_without_url_inputs_is_queued_and_stored_with_nobody_told) {
  jobs::Job& job = submit("j-1");
  BOOST_TEST(job.state == JobState::queued);
  BOOST_TEST(job.created_ns > 0);
  BOOST_REQUIRE_EQUAL(seen.changes.size(), 1u);
  BOOST_TEST(!seen.changes[0].tell);
  BOOST_TEST(seen.changes[0].revision == 1u);
  BOOST_TEST(job.history.size() == 2u);
  BOOST_TEST(job.history[0].topic == "Submission");
}

BOOST_AUTO_TEST_CASE(a_job_with_url_inputs_is_pending_until_every_url_is_in) {
  jobs::Job& job = submit("j-1", {url_input()});
  BOOST_TEST(job.state == JobState::pending);
  auto ws = workers({{"w1", "local"}});
  BOOST_TEST(dispatch(ws).empty());
  table.input_fetched("j-1", "fetched https://example.com/data (3 bytes)", true);
  BOOST_TEST(table.find("j-1")->state == JobState::queued);
  BOOST_TEST(seen.changes.back().tell);
  BOOST_TEST(dispatch(ws) == std::vector<std::string>{"j-1@w1"});
}

BOOST_AUTO_TEST_CASE(a_url_that_cannot_be_had_fails_the_job_and_it_leaves_the_table) {
  submit("j-1", {url_input()});
  table.input_failed("j-1", "input https://example.com/data: HTTP 404");
  BOOST_TEST(seen.changes.back().state == JobState::failed);
  BOOST_TEST(seen.changes.back().tell);
  BOOST_TEST(table.find("j-1") == nullptr);
}

BOOST_AUTO_TEST_CASE(the_oldest_queued_job_goes_first_and_each_worker_takes_one) {
  submit("j-1");
  submit("j-2");
  submit("j-3");
  auto ws = workers({{"w1", "local"}, {"w2", "local"}});
  auto started = dispatch(ws);
  BOOST_REQUIRE_EQUAL(started.size(), 2u);
  BOOST_TEST(started[0].starts_with("j-1@"));
  BOOST_TEST(started[1].starts_with("j-2@"));
  BOOST_TEST(table.find("j-1")->state == JobState::running);
  BOOST_TEST(table.find("j-3")->state == JobState::queued);
  BOOST_TEST(table.find("j-1")->executions.back().id == "e-1-1");
}

BOOST_AUTO_TEST_CASE(a_job_goes_to_the_host_with_the_most_idle_workers) {
  submit("j-1");
  auto ws = workers({{"a1", "hostA"}, {"b1", "hostB"}, {"b2", "hostB"}});
  auto started = dispatch(ws);
  BOOST_REQUIRE_EQUAL(started.size(), 1u);
  BOOST_TEST(started[0].ends_with("@b1"));
}

BOOST_AUTO_TEST_CASE(a_burst_of_mixed_constraints_sees_the_workers_each_job_of_the_round_took) {
  // One dispatch for the whole burst: each job sees which workers the jobs
  // before it took, whatever their constraints (ties: the first in the list).
  std::map<std::string, std::string> zone_a{{"zone", "a"}};
  std::vector<WorkerView> ws{
      {"a1", "hostA", &zone_a, true, 0, {}},    {"a2", "hostA", &zone_a, true, 0, {}},
      {"b1", "hostB", &zone_a, true, 0, {}},    {"c1", "hostC", &no_labels, true, 0, {}},
      {"c2", "hostC", &no_labels, true, 0, {}}, {"c3", "hostC", &no_labels, true, 0, {}}};
  submit("j-1");                   // hostC has 3 idle
  submit("j-2", {}, 0, "zone=a");  // hostA has 2 idle in zone a
  submit("j-3");                   // hostC 2 idle, hostA and hostB 1
  submit("j-4", {}, 0, "zone=a");  // hostA and hostB 1 each: a2 comes first
  submit("j-5");                   // hostB and hostC 1 each: b1 comes first
  submit("j-6", {}, 0, "zone=a");  // zone a all busy, c3 idle
  BOOST_TEST(dispatch(ws) ==
             (std::vector<std::string>{"j-1@c1", "j-2@a1", "j-3@c2", "j-4@a2", "j-5@b1"}));
  const jobs::Job* waiting = table.find("j-6");
  BOOST_TEST(waiting->state == JobState::queued);
  BOOST_TEST(waiting->message.empty());  // busy workers match it: nothing to say
  BOOST_TEST(ws[5].idle);
}

BOOST_AUTO_TEST_CASE(a_job_no_worker_matches_waits_says_why_once_and_does_not_hold_up_others) {
  submit("j-1", {}, 0, "gpu=yes");
  submit("j-2");
  auto ws = workers({{"w1", "local"}});
  BOOST_TEST(dispatch(ws) == std::vector<std::string>{"j-2@w1"});
  const jobs::Job* waiting = table.find("j-1");
  BOOST_TEST(waiting->state == JobState::queued);
  BOOST_TEST(waiting->message.find("no connected worker matches the constraints 'gpu=yes'") !=
             std::string::npos);
  const size_t said = seen.changes.size();
  auto more = workers({{"w2", "local"}});
  dispatch(more);
  BOOST_TEST(seen.changes.size() == said);  // not said again
  std::map<std::string, std::string> gpu{{"gpu", "yes"}};
  std::vector<WorkerView> matching{{"g1", "gpuhost", &gpu, true, 0, {}}};
  BOOST_TEST(dispatch(matching) == std::vector<std::string>{"j-1@g1"});
  BOOST_TEST(table.find("j-1")->message.empty());
}

BOOST_AUTO_TEST_CASE(a_job_that_cannot_be_put_into_a_run_fails_before_it_starts) {
  submit("j-1");
  submit("j-2");
  auto ws = workers({{"w1", "local"}});
  table.dispatch(ws, [&](jobs::Job& job, size_t) {
    table.fail_unstarted(job.id, "the module's bytes are missing from the store");
    return false;
  });
  BOOST_TEST(table.find("j-1") == nullptr);
  BOOST_TEST(table.find("j-2") == nullptr);  // the worker stayed idle: j-2 was tried too
  BOOST_TEST(seen.changes.back().state == JobState::failed);
}

BOOST_AUTO_TEST_CASE(a_run_that_ends_completes_the_job_with_its_exit_code) {
  submit("j-1");
  auto ws = workers({{"w1", "local"}});
  dispatch(ws);
  table.finish("j-1", RunEnd{true, 3, "", 10, 0, 0, 0});
  BOOST_TEST(seen.changes.back().state == JobState::completed);
  BOOST_TEST(table.find("j-1") == nullptr);
  BOOST_TEST(table.empty());
}

BOOST_AUTO_TEST_CASE(a_lost_run_is_queued_again_first_as_a_new_execution) {
  submit("j-1");
  auto ws = workers({{"w1", "local"}});
  dispatch(ws);
  submit("j-2");
  table.run_lost("j-1", "the worker running it (w1) crashed");
  const jobs::Job* job = table.find("j-1");
  BOOST_TEST(job->state == JobState::queued);
  BOOST_TEST(job->executions.back().state == JobState::failed);
  auto again = workers({{"w2", "local"}});
  BOOST_TEST(dispatch(again) == std::vector<std::string>{"j-1@w2"});
  BOOST_TEST(table.find("j-1")->executions.size() == 2u);
  BOOST_TEST(table.find("j-1")->executions.back().id == "e-1-2");
}

BOOST_AUTO_TEST_CASE(a_job_gives_up_after_three_executions) {
  submit("j-1");
  for (int i = 0; i < 3; ++i) {
    auto ws = workers({{"w" + std::to_string(i), "local"}});
    BOOST_REQUIRE_EQUAL(dispatch(ws).size(), 1u);
    table.run_lost("j-1", "crashed");
  }
  BOOST_TEST(table.find("j-1") == nullptr);
  BOOST_TEST(seen.changes.back().state == JobState::failed);
}

BOOST_AUTO_TEST_CASE(stopping_a_queued_job_stops_it_at_once) {
  submit("j-1");
  auto stopped = table.request_stop("j-1");
  BOOST_REQUIRE(stopped);
  BOOST_TEST(stopped->state == JobState::stopped);
  BOOST_TEST(stopped->message == "stopped on request");
  BOOST_TEST(stopped->revision == seen.changes.back().revision);
  BOOST_TEST(table.find("j-1") == nullptr);
  auto ws = workers({{"w1", "local"}});
  BOOST_TEST(dispatch(ws).empty());
  BOOST_TEST(!table.request_stop("j-1"));
}

BOOST_AUTO_TEST_CASE(stopping_a_running_job_ends_it_stopped_when_its_run_ends) {
  submit("j-1");
  auto ws = workers({{"w1", "local"}});
  dispatch(ws);
  auto marked = table.request_stop("j-1");
  BOOST_REQUIRE(marked);
  BOOST_TEST(marked->state == JobState::running);
  BOOST_TEST(table.stop_requested("j-1"));
  BOOST_TEST(!seen.changes.back().tell);
  table.finish("j-1", RunEnd{false, std::nullopt, "terminated", 0, 0, 0, 0});
  BOOST_TEST(seen.changes.back().state == JobState::stopped);
}

BOOST_AUTO_TEST_CASE(a_stop_reason_ends_the_jobs_message_queued_or_running) {
  submit("j-1");
  submit("j-2");
  auto ws = workers({{"w1", "local"}});
  dispatch(ws);  // j-1 runs, j-2 waits
  table.request_stop("j-1", "enough");
  BOOST_TEST(table.find("j-1")->history.back().message == "stop requested: enough");
  table.finish("j-1", RunEnd{false, std::nullopt, "terminated", 0, 0, 0, 0});
  BOOST_TEST(seen.changes.back().state == JobState::stopped);
  BOOST_TEST(seen.changes.back().message == "stopped on request: enough");
  auto queued = table.request_stop("j-2", "not needed");
  BOOST_REQUIRE(queued);
  BOOST_TEST(queued->message == "stopped on request: not needed");
}

BOOST_AUTO_TEST_CASE(a_stopped_job_whose_worker_is_lost_is_stopped_not_queued_again) {
  submit("j-1");
  auto ws = workers({{"w1", "local"}});
  dispatch(ws);
  table.request_stop("j-1");
  table.run_lost("j-1", "crashed");
  BOOST_TEST(seen.changes.back().state == JobState::stopped);
  BOOST_TEST(table.empty());
}

// A finished job as the broker reads it from the store: j-1, run once on
// w1 and ended `state`.
jobs::Job finished_job(Fixture& f, JobState state) {
  f.submit("j-1");
  auto ws = f.workers({{"w1", "local"}});
  f.dispatch(ws);
  f.table.finish("j-1", RunEnd{state == JobState::completed, 3,
                               state == JobState::completed ? "" : "trap", 5, 0, 0, 0});
  jobs::Job stored;
  stored.id = "j-1";
  stored.state = state;
  stored.exit_code = 3;
  stored.message = "trap";
  stored.executions.push_back({});
  stored.executions.back().id = "e-1-1";
  stored.executions.back().state = state;
  stored.output_files.push_back({"outputs", "a.txt", 1});
  return stored;
}

BOOST_AUTO_TEST_CASE(a_rerun_queues_a_finished_job_again_as_a_new_execution) {
  jobs::Job stored = finished_job(*this, JobState::failed);
  auto again = table.rerun(stored, "new data");
  BOOST_REQUIRE(again);
  BOOST_TEST(again->state == JobState::queued);
  BOOST_TEST(!again->exit_code);
  BOOST_TEST(again->message.empty());
  BOOST_TEST(again->output_files.empty());
  BOOST_TEST(again->history.back().message == "Failed -> Queued");
  BOOST_TEST(again->history[again->history.size() - 2].message == "rerun requested: new data");
  BOOST_TEST(seen.changes.back().state == JobState::queued);
  auto ws = workers({{"w2", "local"}});
  BOOST_TEST(dispatch(ws) == std::vector<std::string>{"j-1@w2"});
  BOOST_TEST(table.find("j-1")->executions.size() == 2u);
  BOOST_TEST(table.find("j-1")->executions.back().id == "e-1-2");
  table.finish("j-1", RunEnd{true, 0, "", 0, 0, 0, 0});
  BOOST_TEST(seen.changes.back().state == JobState::completed);
  BOOST_TEST(table.empty());
}

BOOST_AUTO_TEST_CASE(a_rerun_of_a_job_that_has_not_run_is_refused) {
  jobs::Job& queued = submit("j-1");
  auto r = table.rerun(queued);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error() == "cannot rerun job in state Queued: it has not run yet");
  jobs::Job& pending = submit("j-2", {url_input()});
  BOOST_TEST(table.rerun(pending).error().starts_with("cannot rerun job in state Pending"));
}

// Never two executions at once: a running job re-run is stopped first, and
// queued again only once its worker has ended the run, however it ends.
BOOST_AUTO_TEST_CASE(a_rerun_of_a_running_job_starts_again_only_after_its_run_ended) {
  submit("j-1");
  auto ws = workers({{"w1", "local"}, {"w2", "local"}});
  dispatch(ws);
  auto r = table.rerun(*table.find("j-1"), "again");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->state == JobState::running);
  BOOST_TEST(table.stop_requested("j-1"));
  auto idle = workers({{"w3", "local"}});
  BOOST_TEST(dispatch(idle).empty());  // not queued while its run goes on
  table.finish("j-1", RunEnd{false, std::nullopt, "terminated", 0, 0, 0, 0});
  const jobs::Job* job = table.find("j-1");
  BOOST_REQUIRE(job);
  BOOST_TEST(job->state == JobState::queued);
  BOOST_TEST(job->executions.back().state == JobState::stopped);
  BOOST_TEST(job->executions.back().message == "stopped for a re-run: again");
  BOOST_TEST(dispatch(idle) == std::vector<std::string>{"j-1@w3"});
  // The same when the worker is lost, or the stop goes unanswered.
  table.rerun(*table.find("j-1"));
  table.run_lost("j-1", "crashed");
  BOOST_TEST(table.find("j-1")->state == JobState::queued);
  auto w4 = workers({{"w4", "local"}});
  dispatch(w4);
  table.rerun(*table.find("j-1"));
  now += kStopGrace + std::chrono::milliseconds(1);
  BOOST_TEST(table.end_overdue().size() == 1u);
  BOOST_TEST(table.find("j-1")->state == JobState::queued);
  BOOST_TEST(table.find("j-1")->executions.size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_stop_after_a_rerun_request_wins) {
  submit("j-1");
  auto ws = workers({{"w1", "local"}});
  dispatch(ws);
  table.rerun(*table.find("j-1"));
  table.request_stop("j-1", "no");
  table.finish("j-1", RunEnd{false, std::nullopt, "terminated", 0, 0, 0, 0});
  BOOST_TEST(seen.changes.back().state == JobState::stopped);
  BOOST_TEST(table.empty());
}

// A job re-run after it used its three executions gets three more.
BOOST_AUTO_TEST_CASE(executions_before_a_rerun_do_not_count_against_max_attempts) {
  submit("j-1");
  for (int i = 0; i < 3; ++i) {
    auto ws = workers({{"w" + std::to_string(i), "local"}});
    dispatch(ws);
    table.run_lost("j-1", "crashed");
  }
  BOOST_REQUIRE(table.empty());
  jobs::Job stored;
  stored.id = "j-1";
  stored.state = JobState::failed;
  for (int i = 0; i < 3; ++i) {
    stored.executions.push_back({});
    stored.executions.back().started_ns = ++wall;
  }
  table.rerun(stored);
  auto ws = workers({{"w9", "local"}});
  dispatch(ws);
  table.run_lost("j-1", "crashed");
  BOOST_TEST(table.find("j-1")->state == JobState::queued);
}

// An execution cut by a broker restart is no fault of the job's: it counts
// against the executions a job may have only past the first five such.
BOOST_AUTO_TEST_CASE(recovery_queues_running_jobs_again_and_fails_those_out_of_executions) {
  const std::string restarted = "the broker restarted while it ran";
  auto running = [&](std::string id, std::vector<std::string> ended) {
    jobs::Job job;
    job.id = std::move(id);
    job.state = JobState::running;
    ended.push_back("");  // the execution the restart cuts now
    for (uint32_t i = 1; i <= ended.size(); ++i) {
      jobs::Execution exec;
      exec.attempt = i;
      exec.message = ended[i - 1];
      job.executions.push_back(exec);
    }
    return job;
  };
  jobs::Job queued_with_url;
  queued_with_url.id = "j-url";
  queued_with_url.state = JobState::queued;
  queued_with_url.spec.inputs = {url_input()};
  std::vector<jobs::Job> stored;
  stored.push_back(running("j-again", {}));
  // Two crashes, then a restart: that one is not the job's, a third try.
  stored.push_back(running("j-crashed", {"crashed", "crashed"}));
  // Cut by restarts twice before: the chaos of a broker killed again and again.
  stored.push_back(running("j-restarted", {restarted, restarted}));
  stored.push_back(running("j-restarted-often", std::vector<std::string>(7, restarted)));
  stored.push_back(std::move(queued_with_url));
  auto pending = table.recover(std::move(stored));
  BOOST_TEST(pending == std::vector<std::string>{"j-url"});
  BOOST_TEST(table.find("j-again")->state == JobState::queued);
  BOOST_TEST(table.find("j-again")->executions.back().message ==
             "the broker restarted while it ran");
  BOOST_TEST(table.find("j-crashed")->state == JobState::queued);
  BOOST_TEST(table.find("j-restarted")->state == JobState::queued);
  BOOST_TEST(table.find("j-restarted-often") == nullptr);  // 8 cut: 3 count
  BOOST_TEST(table.find("j-url")->state == JobState::pending);
  BOOST_TEST(seen.changes.size() == 5u);  // each stored once
  auto ws = workers({{"w1", "local"}, {"w2", "local"}, {"w3", "local"}});
  BOOST_TEST(
      (dispatch(ws) == std::vector<std::string>{"j-again@w1", "j-crashed@w2", "j-restarted@w3"}));
}

BOOST_AUTO_TEST_CASE(a_run_past_its_timeout_and_the_grace_fails_as_timed_out) {
  submit("j-1", {}, 2000);
  auto ws = workers({{"w1", "local"}});
  dispatch(ws);
  now += std::chrono::seconds(2) + kTimeoutGrace;
  BOOST_TEST(table.end_overdue().empty());  // not past it yet
  now += std::chrono::milliseconds(1);
  auto overdue = table.end_overdue();
  BOOST_REQUIRE_EQUAL(overdue.size(), 1u);
  BOOST_TEST(overdue[0].place.worker == "w1");
  BOOST_TEST(!overdue[0].stop);
  BOOST_TEST(seen.changes.back().state == JobState::failed);
  BOOST_TEST(table.empty());
}

BOOST_AUTO_TEST_CASE(the_timeout_message_is_the_workers_own_wording) {
  submit("j-1", {}, 1500);
  auto ws = workers({{"w1", "local"}});
  dispatch(ws);
  now += std::chrono::seconds(10);
  table.end_overdue();
  BOOST_TEST(seen.changes.back().message == "the program timed out after 1.5 s (--timeout)");
}

BOOST_AUTO_TEST_CASE(a_stop_unanswered_past_the_grace_ends_the_job_stopped) {
  submit("j-1");
  auto ws = workers({{"w1", "local"}});
  dispatch(ws);
  now += std::chrono::hours(1);  // no timeout: only the stop counts
  BOOST_TEST(table.end_overdue().empty());
  table.request_stop("j-1");
  now += kStopGrace;
  BOOST_TEST(table.end_overdue().empty());
  now += std::chrono::milliseconds(1);
  auto overdue = table.end_overdue();
  BOOST_REQUIRE_EQUAL(overdue.size(), 1u);
  BOOST_TEST(overdue[0].stop);
  BOOST_TEST(overdue[0].what == "had not stopped the run 5 s after the stop request");
  BOOST_TEST(seen.changes.back().state == JobState::stopped);
}

BOOST_AUTO_TEST_CASE(a_remote_run_gets_the_longer_grace) {
  submit("j-1", {}, 1000);
  auto ws = workers({{"r1", "far"}});
  dispatch(ws, true);
  now += std::chrono::seconds(1) + kTimeoutGrace + std::chrono::seconds(1);
  BOOST_TEST(table.end_overdue().empty());
  now += kRemoteGrace;
  auto overdue = table.end_overdue();
  BOOST_REQUIRE_EQUAL(overdue.size(), 1u);
  BOOST_TEST(overdue[0].place.remote);
}

BOOST_AUTO_TEST_CASE(a_forgotten_submission_is_dropped_without_a_change) {
  submit("j-1");
  const size_t before = seen.changes.size();
  table.forget("j-1");
  BOOST_TEST(table.empty());
  BOOST_TEST(seen.changes.size() == before);
  auto ws = workers({{"w1", "local"}});
  BOOST_TEST(dispatch(ws).empty());
}

// The store lists jobs by creation time: jobs submitted within one tick of
// the clock (an array's tasks) still get times in the order submitted.
BOOST_FIXTURE_TEST_CASE(jobs_submitted_in_one_clock_tick_are_created_in_order, Fixture) {
  JobTable still{3, seen, JobClock{[this] { return now; }, [] { return int64_t{5000}; }}};
  std::vector<int64_t> created;
  for (const char* id : {"j-a-1", "j-a-2", "j-a-3"}) {
    jobs::Job job;
    job.id = id;
    created.push_back(still.submit(std::move(job)).created_ns);
  }
  BOOST_TEST(created == std::vector<int64_t>({5000, 5001, 5002}));
  BOOST_TEST(still.ids_with_prefix("j-a-") ==
             std::vector<std::string>({"j-a-1", "j-a-2", "j-a-3"}));
  BOOST_TEST(still.ids_with_prefix("j-b").empty());
}

// Batches: a worker handed several runs of one module at once.
struct BatchFixture : Fixture {
  void submit_runs(const std::vector<std::string>& ids, const std::string& module = "m") {
    for (const std::string& id : ids) {
      jobs::Job job;
      job.id = id;
      job.spec.module_hash = module;
      table.submit(std::move(job));
    }
  }
  // Workers of one host, each with `spare` room for runs of module "m".
  std::vector<WorkerView> batch_workers(const std::vector<std::pair<std::string, size_t>>& spare) {
    std::vector<WorkerView> out;
    for (auto& [name, room] : spare) {
      const std::string& n = strings.emplace_back(name);
      out.push_back({n, "local", &no_labels, true, room, "m"});
    }
    return out;
  }
  JobState state(const std::string& id) {
    JobState last = JobState::pending;
    for (const Change& c : seen.changes)
      if (c.id == id) last = c.state;
    return last;
  }
};

BOOST_FIXTURE_TEST_CASE(jobs_beyond_the_idle_workers_go_as_a_batch_to_a_worker_with_room,
                        BatchFixture) {
  submit_runs({"j-1", "j-2", "j-3", "j-4", "j-5"});
  auto ws = batch_workers({{"w1", 3}, {"w2", 0}});
  // One each first; then w1's room: two more behind its first; j-5 waits.
  BOOST_TEST((dispatch(ws) == std::vector<std::string>{"j-1@w1", "j-2@w2", "j-3@w1", "j-4@w1"}));
  BOOST_TEST(table.find("j-5")->state == JobState::queued);
  BOOST_TEST(ws[0].spare == 0u);
}

BOOST_FIXTURE_TEST_CASE(no_batch_while_idle_workers_take_every_queued_job, BatchFixture) {
  submit_runs({"j-1", "j-2"});
  auto ws = batch_workers({{"w1", 8}, {"w2", 8}});
  BOOST_TEST((dispatch(ws) == std::vector<std::string>{"j-1@w1", "j-2@w2"}));
}

BOOST_FIXTURE_TEST_CASE(a_batch_holds_runs_of_the_workers_module_only, BatchFixture) {
  submit_runs({"j-1", "j-2"});
  submit_runs({"j-3"}, "other");
  submit_runs({"j-4"});
  auto ws = batch_workers({{"w1", 4}});
  // j-3 is of another module: it waits for an idle worker, and so does
  // everything behind it (the queue's order holds).
  BOOST_TEST((dispatch(ws) == std::vector<std::string>{"j-1@w1", "j-2@w1"}));
  BOOST_TEST(table.find("j-3")->state == JobState::queued);
  BOOST_TEST(table.find("j-4")->state == JobState::queued);
}

BOOST_FIXTURE_TEST_CASE(a_batch_given_to_a_worker_that_dies_is_retried_per_job_each_once,
                        BatchFixture) {
  submit_runs({"j-1", "j-2", "j-3", "j-4"});
  auto ws = batch_workers({{"w1", 3}, {"w2", 0}});
  BOOST_TEST((dispatch(ws) == std::vector<std::string>{"j-1@w1", "j-2@w2", "j-3@w1", "j-4@w1"}));
  const size_t before = seen.changes.size();
  auto lost = table.worker_lost("w1", "the worker running it (w1) crashed");
  BOOST_TEST((lost == std::vector<std::string>{"j-1", "j-3", "j-4"}));
  // One change each: queued again, with one failed execution.
  BOOST_TEST(seen.changes.size() == before + 3);
  for (const char* id : {"j-1", "j-3", "j-4"}) {
    const jobs::Job* job = table.find(id);
    BOOST_REQUIRE(job);
    BOOST_TEST(job->state == JobState::queued);
    BOOST_TEST(job->executions.size() == 1u);
    BOOST_TEST(job->executions.back().state == JobState::failed);
  }
  BOOST_TEST(table.find("j-2")->state == JobState::running);  // another worker's
  // Back at the front of the queue, in the order they were dispatched.
  auto again = workers({{"w3", "local"}, {"w4", "local"}, {"w5", "local"}});
  BOOST_TEST((dispatch(again) == std::vector<std::string>{"j-1@w3", "j-3@w4", "j-4@w5"}));
  BOOST_TEST(table.find("j-3")->executions.size() == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_stop_of_one_task_of_a_batch_stops_that_one_only, BatchFixture) {
  submit_runs({"j-1", "j-2", "j-3"});
  auto ws = batch_workers({{"w1", 3}});
  BOOST_TEST((dispatch(ws) == std::vector<std::string>{"j-1@w1", "j-2@w1", "j-3@w1"}));
  table.request_stop("j-2");
  BOOST_TEST(table.stop_requested("j-2"));
  BOOST_TEST(!table.stop_requested("j-1"));
  BOOST_TEST(!table.stop_requested("j-3"));
  table.finish("j-1", RunEnd{true, 0, "", 0, 0, 0, 0});
  table.finish("j-2", RunEnd{false, std::nullopt, "stopped", 0, 0, 0, 0});
  table.finish("j-3", RunEnd{true, 0, "", 0, 0, 0, 0});
  BOOST_TEST(state("j-1") == JobState::completed);
  BOOST_TEST(state("j-2") == JobState::stopped);
  BOOST_TEST(state("j-3") == JobState::completed);
}

BOOST_FIXTURE_TEST_CASE(a_run_behind_others_counts_its_timeout_from_when_it_began, BatchFixture) {
  for (const char* id : {"j-1", "j-2"}) {
    jobs::Job job;
    job.id = id;
    job.spec.module_hash = "m";
    job.spec.timeout_ms = 2000;
    table.submit(std::move(job));
  }
  auto ws = batch_workers({{"w1", 2}});
  BOOST_TEST((dispatch(ws) == std::vector<std::string>{"j-1@w1", "j-2@w1"}));
  now += std::chrono::seconds(2);
  table.finish("j-1", RunEnd{false, std::nullopt, "the program timed out after 2 s", 0, 0, 0, 0});
  table.run_began("j-2");
  now += std::chrono::seconds(2) + kTimeoutGrace;
  BOOST_TEST(table.end_overdue().empty());  // 2 s + the grace since it began, not since sent
  now += std::chrono::milliseconds(1);
  BOOST_TEST(table.end_overdue().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
