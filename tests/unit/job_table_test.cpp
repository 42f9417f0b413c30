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
      out.push_back({n, h, &no_labels, true});
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
  std::vector<WorkerView> matching{{"g1", "gpuhost", &gpu, true}};
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

BOOST_AUTO_TEST_SUITE_END()

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
