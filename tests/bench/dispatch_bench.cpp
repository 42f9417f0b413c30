// The job table's dispatch cost as workers grow (docs/scale.md): W workers,
// one per host as with one-slot pilots, each labelled; first 20,000 jobs
// each dispatched when one worker frees up (a call per job, as under load),
// then a burst of W jobs onto W idle workers (one call). Not part of the
// build; from the source directory, after a build:
//   g++ -std=c++2b -O2 -I. -Ibuild tests/bench/dispatch_bench.cpp \
//     build/broker/libshoal_job_table.a build/protocol/libshoal_protocol.a -lnettle \
//     -o /tmp/dispatch && /tmp/dispatch
#include <chrono>
#include <cstdio>
#include <deque>
#include "broker/job_table.h"
using namespace shoal::broker;
using namespace shoal;
struct Null : JobObserver {
  void changed(const jobs::Job&, bool) override {}
};
int main(int argc, char** argv) {
  for (int W : {60, 250, 1000, 4000}) {
    Null obs;
    JobTable t{3, obs};
    std::deque<std::string> strs;
    std::vector<std::map<std::string, std::string>> labels(W);
    std::vector<WorkerView> ws;
    for (int i = 0; i < W; ++i) {
      labels[i]["pilot"] = std::to_string(i);
      const auto& n = strs.emplace_back("w" + std::to_string(i));
      const auto& h = strs.emplace_back("h" + std::to_string(i));
      ws.push_back({n, h, &labels[i], false});
    }
    const int J = 20000;
    for (int j = 0; j < J; ++j) {
      jobs::Job job;
      job.id = "j-" + std::to_string(j);
      t.submit(std::move(job));
    }
    // steady state: one worker frees at a time, one job dispatched
    auto t0 = std::chrono::steady_clock::now();
    int started = 0;
    for (int j = 0; j < J; ++j) {
      ws[j % W].idle = true;
      t.dispatch(ws, [&](jobs::Job& job, size_t) {
        ++started;
        t.start_execution(job, "e", RunPlace{"w", "h", true});
        return true;
      });
    }
    double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    std::printf("W=%d: %d dispatched, %.2f us per job (one freed per call)\n", W, started, us / J);
    for (auto& w : ws) w.idle = true;
    for (int j = 0; j < W; ++j) {
      jobs::Job job;
      job.id = "b-" + std::to_string(j);
      t.submit(std::move(job));
    }
    t0 = std::chrono::steady_clock::now();
    started = 0;
    t.dispatch(ws, [&](jobs::Job& job, size_t) {
      ++started;
      t.start_execution(job, "e", RunPlace{"w", "h", true});
      return true;
    });
    us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    std::printf("W=%d: burst of %d onto idle workers, %.2f us per job\n", W, started, us / W);
  }
}
