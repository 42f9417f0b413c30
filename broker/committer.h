// Commits batches to the store on a thread of its own, so that the
// broker's loop goes on receiving, dispatching and gathering the next batch
// while LMDB writes pages and waits for the disk (an fdatasync and a
// synchronous meta-page write, during which a loop that committed itself
// could hand no worker its next job).
//
// One commit at a time. The loop starts one with start(), polls fd(), and
// when done() says so takes the result with wait(), which then returns at
// once (flush() calls wait() to block for it). The batch is the
// committer's until wait() hands it back: the loop may read it meanwhile
// (a module it holds, say), never change it.
//
// The Store is shared: its reads stay on the loop's thread while commits
// run here (store.h says why that is safe).
#pragma once

#include <condition_variable>
#include <expected>
#include <mutex>
#include <string>
#include <thread>

#include "broker/store.h"

namespace shoal::broker {

class Committer {
 public:
  explicit Committer(Store& store);
  ~Committer();  // waits for a commit under way
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Starts committing `batch`. Only when none is under way (!busy()).
  void start(Batch batch);
  // A commit was started and not yet finished.
  bool busy() const { return busy_; }
  // The batch being committed, or null (read-only, loop thread).
  const Batch* batch() const { return busy_ ? &batch_ : nullptr; }
  // Readable when a started commit is done (the loop polls it).
  int fd() const { return event_fd_; }
  // Whether the commit under way is done, without waiting.
  bool done();

  struct Result {
    std::expected<void, std::string> status;
    Batch batch;  // what was committed, or refused
  };
  // The result of the commit under way, waiting for it when needed.
  Result wait();

 private:
  void loop();

  Store& store_;
  int event_fd_ = -1;
  bool busy_ = false;  // loop thread only
  Batch batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;   // a batch for the thread
  bool finished_ = false;  // its result is in status_
  bool quit_ = false;
  std::expected<void, std::string> status_;
  std::thread thread_;
};

}  // namespace shoal::broker
