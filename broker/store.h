// The job store: one LMDB environment, owned by the broker (the only
// writer). Job records, their logs and output files, and module and input
// blobs keyed by SHA-256.
//
// Writes are gathered in a Batch and applied in one transaction by commit(),
// so that many changes share one fsync under load (group commit). A commit
// that hits MDB_MAP_FULL grows the map and retries; a commit that fails
// (disk full, I/O error) changes nothing, returns the reason (naming the
// store and what to do), and leaves the store usable: once space is freed the
// next commit succeeds. Every earlier commit stays readable meanwhile.
//
// Thread safety: one thread reads and commits, except that commit() may
// run on one other thread (the broker's committer, committer.h) while the
// first reads. LMDB lets readers and the one writer go on side by side;
// what it does not allow, growing the map while a read transaction is open
// in the process, waits here for the reads to end.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <variant>
#include <vector>

#include "broker/job.h"

typedef struct MDB_env MDB_env;

namespace shoal::broker {

enum class Stream : uint8_t { stdout_ = 1, stderr_ = 2 };

struct LogChunk {
  uint64_t seq = 0;  // increasing per job
  uint32_t attempt = 0;
  Stream stream = Stream::stdout_;
  std::string data;
};

class Batch {
 public:
  void put_job(const jobs::Job& job);
  void put_blob(std::string hash, std::string bytes);
  void append_log(const std::string& job_id, uint32_t attempt, Stream stream, std::string data);
  void put_output(const std::string& job_id, const std::string& name, const std::string& path,
                  std::string bytes);
  // Removes the job, its logs and outputs (blobs stay: other jobs may share them).
  void delete_job(const std::string& job_id);
  // The bytes of a blob put into this batch, or null.
  const std::string* blob(const std::string& hash) const;
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }

  // What of a batch whose commit failed must be tried again: the job records
  // (each job's latest state) and deletions, except those of the jobs in
  // `refused` (submissions whose clients were told they failed). Logs,
  // outputs and blobs are left out: they are what fills a disk.
  Batch job_records_except(const std::vector<std::string>& refused) const;
  // This batch without anything of the jobs in `refused` (their records,
  // logs, outputs and deletions); blobs stay.
  Batch without_jobs(const std::vector<std::string>& refused) const;
  // Adds the changes of `later` after this batch's own.
  void append(Batch later);

 private:
  friend class Store;
  struct PutJob {
    std::string id;
    std::string bytes;
    int64_t created_ns;
    bool finished;  // in a terminal state: out of the unfinished index
  };
  struct PutBlob {
    std::string hash, bytes;
  };
  struct AppendLog {
    std::string job_id;
    uint32_t attempt;
    Stream stream;
    std::string data;
  };
  struct PutOutput {
    std::string key, bytes;
  };
  struct DeleteJob {
    std::string id;
  };
  using Op = std::variant<PutJob, PutBlob, AppendLog, PutOutput, DeleteJob>;
  // Adds an operation, indexing a blob.
  void push(Op op);
  // Without the operations of the jobs in `refused`; with `records_only`,
  // job records and deletions alone.
  Batch filtered(const std::vector<std::string>& refused, bool records_only) const;
  std::vector<Op> ops_;
  std::map<std::string, size_t> blobs_;  // hash -> its PutBlob in ops_
};

struct ListQuery {
  size_t limit = 10;
  bool newest_first = true;
  std::string id_prefix;
  std::map<std::string, std::string> labels;  // every pair must match
};

class Store {
 public:
  // Opens (creating when needed) the store in `dir`. Fails with a message
  // naming the file at fault when the directory holds something that is not
  // a shoal store (a foreign or damaged data.mdb, a directory in its place),
  // a store of another format, or cannot be written (permissions, space).
  // A store of the previous format ("shoal-store 2", before the index of
  // unfinished jobs) is upgraded in place: the index is built once.
  static std::expected<std::unique_ptr<Store>, std::string> open(const std::string& dir);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  std::expected<void, std::string> commit(const Batch& batch);

  // A record that does not decode is an error naming the job; the listings
  // below skip such records, so that one damaged job holds back no other.
  std::expected<std::optional<jobs::Job>, std::string> get_job(const std::string& id);
  // The one job id that starts with `prefix`; errors name the prefix and,
  // when ambiguous, some of the matches.
  std::expected<std::string, std::string> resolve_id(const std::string& prefix);
  // Up to q.limit jobs in creation order. Reads q.limit job records when
  // no label filter is given, and at most a few hundred when the id prefix
  // matches only that many ids; a label filter reads records newest first
  // until enough match (every record when fewer than q.limit do).
  std::expected<std::vector<jobs::Job>, std::string> list_jobs(const ListQuery& q);
  // Every job not yet in a terminal state (for recovery after a restart),
  // oldest first. Reads only those jobs: the store keeps an index of them,
  // changed in the same transaction as each job record, so a broker starts
  // as fast with a million finished jobs stored as with none.
  std::expected<std::vector<jobs::Job>, std::string> unfinished_jobs();
  // Jobs whose last change is older than `before_ns` and that are finished.
  std::expected<std::vector<std::string>, std::string> finished_before(int64_t before_ns);

  std::expected<bool, std::string> has_blob(const std::string& hash);
  std::expected<std::optional<std::string>, std::string> get_blob(const std::string& hash);

  // Log chunks of the job with seq > after_seq, in order.
  // A job's log chunks after `after_seq`, in order, until their bytes reach
  // `max_bytes` (at least one chunk when there is one).
  std::expected<std::vector<LogChunk>, std::string> read_logs(const std::string& job_id,
                                                              uint64_t after_seq = 0,
                                                              uint64_t max_bytes = UINT64_MAX);
  std::expected<std::optional<std::string>, std::string> get_output(const std::string& job_id,
                                                                    const std::string& name,
                                                                    const std::string& path);
  // Bytes [offset, offset + length) of an output file (fewer at its end),
  // and the file's whole size; nothing when there is no such file.
  struct OutputPart {
    std::string bytes;
    uint64_t size = 0;
  };
  std::expected<std::optional<OutputPart>, std::string> get_output_part(const std::string& job_id,
                                                                        const std::string& name,
                                                                        const std::string& path,
                                                                        uint64_t offset,
                                                                        uint64_t length);
  uint64_t map_size() const { return map_size_; }

 private:
  Store() = default;
  std::expected<void, std::string> apply(const Batch& batch);

  MDB_env* env_ = nullptr;
  unsigned jobs_ = 0, created_ = 0, unfinished_ = 0, logs_ = 0, outputs_ = 0, blobs_ = 0, meta_ = 0;
  uint64_t map_size_ = 0;
  std::string dir_;
  // Read transactions hold it shared; growing the map holds it alone.
  std::shared_mutex grow_;
};

}  // namespace shoal::broker
