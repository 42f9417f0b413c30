// V8's default platform (worker threads, foreground task queues), plus one
// question the public API does not answer: is V8 still compiling in the
// background? A module's code can be serialized completely (code_cache.h)
// only once TurboFan has compiled every function, and V8 10.2 says when
// that happens through no public callback; its background compilation runs
// as platform jobs, which this platform counts.
#pragma once

#include <memory>

#include <v8-platform.h>

namespace shoal::worker {

class TrackingPlatform final : public v8::Platform {
 public:
  TrackingPlatform();
  ~TrackingPlatform() override;

  // The wrapped default platform: v8::platform::PumpMessageLoop needs it.
  v8::Platform* inner() { return inner_.get(); }

  // Whether a job posted to this platform is running or still has work to
  // hand out. Thread-safe.
  bool background_work_pending() const;

  v8::PageAllocator* GetPageAllocator() override;
  void OnCriticalMemoryPressure() override;
  bool OnCriticalMemoryPressure(size_t length) override;
  int NumberOfWorkerThreads() override;
  std::shared_ptr<v8::TaskRunner> GetForegroundTaskRunner(v8::Isolate* isolate) override;
  void CallOnWorkerThread(std::unique_ptr<v8::Task> task) override;
  void CallBlockingTaskOnWorkerThread(std::unique_ptr<v8::Task> task) override;
  void CallLowPriorityTaskOnWorkerThread(std::unique_ptr<v8::Task> task) override;
  void CallDelayedOnWorkerThread(std::unique_ptr<v8::Task> task, double delay_in_seconds) override;
  bool IdleTasksEnabled(v8::Isolate* isolate) override;
  std::unique_ptr<v8::JobHandle> PostJob(v8::TaskPriority priority,
                                         std::unique_ptr<v8::JobTask> job_task) override;
  double MonotonicallyIncreasingTime() override;
  double CurrentClockTimeMillis() override;
  StackTracePrinter GetStackTracePrinter() override;
  v8::TracingController* GetTracingController() override;

 private:
  struct Jobs;
  std::unique_ptr<v8::Platform> inner_;
  std::shared_ptr<Jobs> jobs_;
};

}  // namespace shoal::worker
