// shoal-fill-store: writes N finished trivial jobs straight into a store, for
// the benchmark's "a million stored jobs" rows (submitting them would take
// hours). Not installed; built as build/tools/fill-store/shoal-fill-store.
//
//   shoal-fill-store STORE_DIR N [MODULE.wasm]
//
// Each job looks like a completed `shoal wasm run hello.wasm`: one
// execution, three history events, a line of stdout. The module is stored
// once as a blob, as the broker does. Jobs are written in batches of 10,000
// per transaction. The broker must not be running on the store.
#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>

#include "broker/store.h"
#include "protocol/sha256.h"

using namespace shoal;

namespace {

std::string uuid(std::mt19937_64& rng) {
  uint64_t a = rng(), b = rng();
  std::string h = fmt::format("{:016x}{:016x}", a, b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-4" + h.substr(13, 3) + "-a" + h.substr(17, 3) +
         "-" + h.substr(20, 12);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: shoal-fill-store STORE_DIR N [MODULE.wasm]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const long n = std::atol(argv[2]);
  std::string module = "\0asm\1\0\0\0";
  if (argc > 3) {
    std::ifstream in(argv[3], std::ios::binary);
    module.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto store = broker::Store::open(dir);
  if (!store) {
    fmt::print(stderr, "shoal-fill-store: {}\n", store.error());
    return 1;
  }
  const std::string hash = sha256_hex(module);
  std::mt19937_64 rng(42);
  const int64_t start_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() -
                           n * 1000;
  broker::Batch batch;
  batch.put_blob(hash, module);
  for (long i = 0; i < n; ++i) {
    jobs::Job job;
    job.id = "j-" + uuid(rng);
    job.spec.module_name = "hello.wasm";
    job.spec.module_hash = hash;
    job.state = jobs::JobState::completed;
    job.created_ns = start_ns + i * 1000;
    job.modified_ns = job.created_ns + 2'000'000;
    job.exit_code = 0;
    jobs::Execution e;
    e.id = "e-" + job.id.substr(2) + "-1";
    e.worker = "w1";
    e.state = jobs::JobState::completed;
    e.started_ns = job.created_ns + 500'000;
    e.ended_ns = job.modified_ns;
    e.exit_code = 0;
    e.stdout_bytes = 14;
    job.executions.push_back(e);
    job.history = {{job.created_ns, "Submission", "Job submitted"},
                   {e.started_ns, "Execution", "Running on w1"},
                   {e.ended_ns, "State", "Completed"}};
    job.revision = 3;
    batch.put_job(job);
    batch.append_log(job.id, 1, broker::Stream::stdout_, "Hello, shoal!\n");
    if (batch.size() >= 20000 || i + 1 == n) {
      if (auto r = (*store)->commit(batch); !r) {
        fmt::print(stderr, "shoal-fill-store: {}\n", r.error());
        return 1;
      }
      batch = broker::Batch();
    }
  }
  fmt::print("{} jobs written to {}\n", n, dir);
  return 0;
}
