#include "worker/v8_platform.h"

#include <libplatform/libplatform.h>

#include <atomic>
#include <mutex>
#include <vector>

namespace shoal::worker {

// The jobs alive now. A job is busy while one of its Run calls is active or
// while the last answer it gave the platform to GetMaxConcurrency said it
// has more work (the platform asks after every Run). This platform never
// calls into a job itself: a job's task may point into memory that is gone
// once its owner has joined it.
struct TrackingPlatform::Jobs {
  struct Job {
    std::atomic<int> running{0};
    std::atomic<size_t> last_max{1};  // posted: it has work
  };
  class Counted;
  mutable std::mutex mu;
  std::vector<std::weak_ptr<Job>> alive;
};

class TrackingPlatform::Jobs::Counted final : public v8::JobTask {
 public:
  Counted(Jobs& jobs, std::unique_ptr<v8::JobTask> task)
      : task_(std::move(task)), job_(std::make_shared<Job>()) {
    std::lock_guard lock(jobs.mu);
    std::erase_if(jobs.alive, [](const std::weak_ptr<Job>& j) { return j.expired(); });
    jobs.alive.push_back(job_);
  }
  void Run(v8::JobDelegate* delegate) override {
    job_->running.fetch_add(1);
    task_->Run(delegate);
    job_->running.fetch_sub(1);
  }
  size_t GetMaxConcurrency(size_t worker_count) const override {
    size_t n = task_->GetMaxConcurrency(worker_count);
    job_->last_max.store(n);
    return n;
  }

 private:
  std::unique_ptr<v8::JobTask> task_;
  std::shared_ptr<Job> job_;
};

TrackingPlatform::TrackingPlatform()
    : inner_(v8::platform::NewDefaultPlatform()), jobs_(std::make_shared<Jobs>()) {}

TrackingPlatform::~TrackingPlatform() = default;

bool TrackingPlatform::background_work_pending() const {
  std::vector<std::shared_ptr<Jobs::Job>> jobs;
  {
    std::lock_guard lock(jobs_->mu);
    for (const auto& weak : jobs_->alive)
      if (auto job = weak.lock()) jobs.push_back(std::move(job));
  }
  for (const auto& job : jobs)
    if (job->running.load() > 0 || job->last_max.load() > 0) return true;
  return false;
}

std::unique_ptr<v8::JobHandle> TrackingPlatform::PostJob(v8::TaskPriority priority,
                                                         std::unique_ptr<v8::JobTask> job_task) {
  // Posted through the default job machinery with this platform's threads,
  // so that the counted wrapper is what the workers run.
  return v8::platform::NewDefaultJobHandle(
      this, priority, std::make_unique<Jobs::Counted>(*jobs_, std::move(job_task)),
      static_cast<size_t>(inner_->NumberOfWorkerThreads()));
}

v8::PageAllocator* TrackingPlatform::GetPageAllocator() {
  return inner_->GetPageAllocator();
}
void TrackingPlatform::OnCriticalMemoryPressure() {
  inner_->OnCriticalMemoryPressure();
}
bool TrackingPlatform::OnCriticalMemoryPressure(size_t length) {
  return inner_->OnCriticalMemoryPressure(length);
}
int TrackingPlatform::NumberOfWorkerThreads() {
  return inner_->NumberOfWorkerThreads();
}
std::shared_ptr<v8::TaskRunner> TrackingPlatform::GetForegroundTaskRunner(v8::Isolate* isolate) {
  return inner_->GetForegroundTaskRunner(isolate);
}
void TrackingPlatform::CallOnWorkerThread(std::unique_ptr<v8::Task> task) {
  inner_->CallOnWorkerThread(std::move(task));
}
void TrackingPlatform::CallBlockingTaskOnWorkerThread(std::unique_ptr<v8::Task> task) {
  inner_->CallBlockingTaskOnWorkerThread(std::move(task));
}
void TrackingPlatform::CallLowPriorityTaskOnWorkerThread(std::unique_ptr<v8::Task> task) {
  inner_->CallLowPriorityTaskOnWorkerThread(std::move(task));
}
void TrackingPlatform::CallDelayedOnWorkerThread(std::unique_ptr<v8::Task> task,
                                                 double delay_in_seconds) {
  inner_->CallDelayedOnWorkerThread(std::move(task), delay_in_seconds);
}
bool TrackingPlatform::IdleTasksEnabled(v8::Isolate* isolate) {
  return inner_->IdleTasksEnabled(isolate);
}
double TrackingPlatform::MonotonicallyIncreasingTime() {
  return inner_->MonotonicallyIncreasingTime();
}
double TrackingPlatform::CurrentClockTimeMillis() {
  return inner_->CurrentClockTimeMillis();
}
v8::Platform::StackTracePrinter TrackingPlatform::GetStackTracePrinter() {
  return inner_->GetStackTracePrinter();
}
v8::TracingController* TrackingPlatform::GetTracingController() {
  return inner_->GetTracingController();
}

}  // namespace shoal::worker
