// Stopping a run from another thread (`shoal job stop`, a worker told to
// stop by the broker).
#pragma once

#include <mutex>

namespace v8 {
class Isolate;
}

namespace shoal::worker {

// Thread-safe. The engine attaches the isolate while a guest runs; cancel()
// terminates it then, or makes the next run stop before it starts.
class RunControl {
 public:
  void cancel();
  bool cancelled() const;

  // For the engine.
  void attach(v8::Isolate* isolate);
  void detach();

 private:
  mutable std::mutex mu_;
  v8::Isolate* isolate_ = nullptr;
  bool cancelled_ = false;
};

}  // namespace shoal::worker
