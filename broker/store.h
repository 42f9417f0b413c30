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
// Damage: every value is framed with a checksum (record.h) and every job
// record decoded with its lengths checked against the bytes present
// (checked_archive.h); blobs are checked against their SHA-256 when read.
// A record that fails is an error naming its key ("corrupt record
// jobs/j-..."), never a crash or an allocation the size of what a damaged
// length says; listings skip such records and say which they skipped
// (JobList::skipped); check() reads everything and lists the damage, and
// repair() removes it (`shoal doctor`, docs/reliability-sandbox.md).
//
// Thread safety: one thread reads and commits, except that commit() may
// run on one other thread (the broker's committer, committer.h) while the
// first reads. LMDB lets readers and the one writer go on side by side;
// what it does not allow, growing the map while a read transaction is open
// in the process, waits here for the reads to end.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/constraints.h"
#include "protocol/job.h"

typedef struct MDB_env MDB_env;
typedef struct MDB_txn MDB_txn;
typedef struct MDB_val MDB_val;

namespace shoal::broker {

class Cursor;  // store.cpp: an LMDB cursor

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

  // What of a batch whose commit failed (saying `why`) must be tried again:
  // the job records (each job's latest state) and deletions, except those
  // of the jobs in `refused` (submissions whose clients were told they
  // failed). Logs, outputs and blobs are left out: they are what fills a
  // disk. A record whose job's output files are left out no longer lists
  // them: its outputs_message and history say they were lost, and why (so
  // that no job names an output the store does not hold); one whose log
  // chunks are left out says so in its history.
  Batch job_records_except(const std::set<std::string, std::less<>>& refused,
                           const std::string& why) const;
  // This batch without anything of the jobs in `refused` (their records,
  // logs, outputs and deletions); blobs stay.
  Batch without_jobs(const std::set<std::string, std::less<>>& refused) const;
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
  // Adds an operation, indexing a blob. A job's record put again (a job
  // queued, run and ended within one batch) replaces its earlier put, so
  // that a commit writes each job's record once, in its latest state; a
  // put after the job's deletion is a new operation.
  void push(Op op);
  // Without the operations of the jobs in `refused`; with `records_only`,
  // job records and deletions alone.
  Batch filtered(const std::set<std::string, std::less<>>& refused, bool records_only) const;
  std::vector<Op> ops_;
  std::map<std::string, size_t> blobs_;  // hash -> its PutBlob in ops_
  std::map<std::string, size_t> jobs_;   // job id -> its latest PutJob in ops_
};

// A damaged record, or a part of the store that cannot be read: its key
// ("jobs/ID", "logs/ID/SEQ", "outputs/ID/NAME/PATH", "blobs/SHA256",
// "created/ID", "unfinished/ID"; a table's name alone when LMDB cannot walk
// it) and what is wrong with it.
struct Damage {
  std::string key, why;
};

// Jobs read, and the records skipped on the way because they were damaged.
struct JobList {
  std::vector<jobs::Job> jobs;
  std::vector<Damage> skipped;
  // list_jobs(): where a listing that stopped before the end of its index
  // goes on (ListQuery::after of the next call); empty when nothing is left.
  std::string next;
};

// What check() found: records read per table and the damage.
struct CheckReport {
  std::map<std::string, uint64_t> records;  // table -> records read
  uint64_t legacy = 0;                      // records without a checksum (record.h)
  std::vector<Damage> damage;
};

struct ListQuery {
  size_t limit = 10;
  bool newest_first = true;
  std::string id_prefix;
  std::map<std::string, std::string> labels;  // every pair must match
  jobs::Selector selector;                    // and this label selector
  std::vector<jobs::JobState> states;         // and one of these states (empty: any)
  std::string name;                           // and a name that contains this
  // The cursor: continue after this key of the creation index (the
  // JobList::next of an earlier call), in this query's order; empty: from
  // the first job. Jobs created since come after it when oldest first.
  std::string after;
  // Stop after reading this many job records, even with fewer than `limit`
  // matching (JobList::next then says where to go on): a filter that few
  // jobs match costs a bounded read per call.
  size_t max_reads = SIZE_MAX;
};

class Store {
 public:
  // Opens (creating when needed) the store in `dir`. Fails with a message
  // naming the file at fault when the directory holds something that is not
  // a shoal store (a foreign or damaged data.mdb, a directory in its place),
  // a store of another format, or cannot be written (permissions, space).
  // A store of the previous format ("shoal-store 2", before the index of
  // unfinished jobs) is upgraded in place: the index is built once.
  // A store of format 3 or older is marked as holding records without
  // checksums (record.h), which are then read as they are.
  static std::expected<std::unique_ptr<Store>, std::string> open(const std::string& dir);
  // Opens an existing store for reading only (`shoal doctor`): creates,
  // upgrades and writes nothing, and may run beside the broker.
  static std::expected<std::unique_ptr<Store>, std::string> open_read_only(const std::string& dir);
  // Copies the store in `dir` compacted (LMDB's mdb_env_copy2 with
  // MDB_CP_COMPACT: free pages left out, so the file shrinks after jobs
  // were removed) and puts the copy in the original's place with a rename.
  // The caller holds the broker lock (state_dir.h): nothing else may have
  // the store open. A store with damage (check()) is refused: repair()
  // compacts it too. Returns the data file's sizes before and after.
  struct Compacted {
    uint64_t before = 0, after = 0;
  };
  static std::expected<Compacted, std::string> compact(const std::string& dir);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  std::expected<void, std::string> commit(const Batch& batch);

  // A record that does not decode is an error naming the job ("corrupt
  // record jobs/ID"); the listings below skip such records, and say so, so
  // that one damaged job holds back no other.
  std::expected<std::optional<jobs::Job>, std::string> get_job(const std::string& id);
  // The one job id that starts with `prefix`; errors name the prefix and,
  // when ambiguous, some of the matches.
  std::expected<std::string, std::string> resolve_id(const std::string& prefix);
  // The first job id at or after `key` in byte order, or nothing.
  std::expected<std::optional<std::string>, std::string> first_id_from(const std::string& key);
  // Up to q.limit jobs in creation order from q.after on, and where to go
  // on (JobList::next). Reads q.limit job records when no filter is given,
  // at most a few hundred when the id prefix matches only that many ids,
  // and only the unfinished jobs when q.states names only unfinished
  // states; other filters read records along the creation index until
  // q.limit match or q.max_reads were read.
  std::expected<JobList, std::string> list_jobs(const ListQuery& q);
  // Every job not yet in a terminal state (for recovery after a restart),
  // oldest first. Reads only those jobs: the store keeps an index of them,
  // changed in the same transaction as each job record, so a broker starts
  // as fast with a million finished jobs stored as with none.
  std::expected<JobList, std::string> unfinished_jobs();
  // Jobs whose last change is older than `before_ns` and that are finished.
  std::expected<std::vector<std::string>, std::string> finished_before(int64_t before_ns);

  std::expected<bool, std::string> has_blob(const std::string& hash);
  // The blob's bytes, checked against their SHA-256 (the key): a blob that
  // does not match is an error naming the hash as damaged.
  std::expected<std::optional<std::string>, std::string> get_blob(const std::string& hash);

  // A job's log chunks after `after_seq`, in order, until their bytes reach
  // `max_bytes` (at least one chunk when there is one). A damaged chunk is
  // an error naming it.
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

  // Reads every record of every table and checks it (frames, decoding, the
  // indexes against the jobs, blobs against their hashes). Memory stays
  // bounded by the largest record, whatever the store's size.
  std::expected<CheckReport, std::string> check();
  // Removes what check() finds from the store in `dir` and returns what it
  // removed: damaged job records with their index entries, logs and
  // outputs; damaged log chunks, output files (the job's record then says
  // the file was lost), blobs, and entries that name no job; what lies past
  // a page LMDB cannot read. Every sound record is copied into a new store
  // (LMDB never changes a damaged tree in place: that could crash), which
  // then takes the old one's place with a rename, like compact(). Records
  // of an older shoal gain their checksums. The caller holds the broker
  // lock; the disk needs room for the copy.
  static std::expected<CheckReport, std::string> repair(const std::string& dir);

 private:
  Store() = default;
  std::expected<void, std::string> apply(const Batch& batch);
  // Where the map's pages in use end: a value read from LMDB must lie
  // before it (a damaged length could point past the file: SIGBUS).
  struct Bounds {
    const char *base = nullptr, *end = nullptr, *used = nullptr;
  };
  Bounds bounds() const;
  // The bytes of `v`, or why they cannot be (past the pages in use).
  std::expected<std::string_view, std::string> bytes_of(const Bounds& b, const void* data,
                                                        size_t size) const;
  // Whether all of `v` (a key or value from LMDB) lies in the data file.
  bool in_file(const Bounds& b, const MDB_val& v) const;
  // Whether the record at cursor `c` (k, v), or with `before` the one
  // before it, fails its frame: a record whose key was damaged, found where
  // the one looked for should be. Says which, and why.
  std::optional<std::string> damaged_near(const Bounds& b, Cursor& c, MDB_val& k, MDB_val& v,
                                          bool before) const;
  // A job record read under `id`: framed, decoded, consistent.
  std::expected<jobs::Job, std::string> read_job(const Bounds& b, const std::string& id,
                                                 const void* data, size_t size) const;
  std::string corrupt(const std::string& key, const std::string& why) const;
  // Called by scan() with each sound record: its table, key and payload
  // (unframed), and with "lost output" and the key of each damaged output
  // file; a non-zero return (an LMDB error) ends the scan with it.
  using Keep =
      std::function<int(const char* table, std::string_view key, std::string_view payload)>;
  // check() and repair(): reads every table in `txn`, reporting damage.
  int scan(MDB_txn* txn, CheckReport& report, const Keep* keep) const;
  // list_jobs(): reads job `id` into out.jobs when it matches `q`, or names
  // it in out.skipped (`index`: which index named it).
  void list_one(MDB_txn* txn, const Bounds& mapped, const ListQuery& q, const std::string& id,
                const char* index, JobList& out) const;
  // list_jobs() of an id prefix that few jobs match, through the jobs
  // table; false (out untouched but for skipped) when too many match.
  bool list_by_prefix(MDB_txn* txn, const Bounds& mapped, const ListQuery& q, JobList& out) const;
  // list_jobs() of unfinished states only, through the unfinished index.
  void list_unfinished(MDB_txn* txn, const Bounds& mapped, const ListQuery& q, JobList& out) const;
  // list_jobs() along the creation index, from q.after.
  void list_by_creation(MDB_txn* txn, const Bounds& mapped, const ListQuery& q, JobList& out) const;
  class Scan;     // one scan() (store.cpp)
  class Rewrite;  // repair()'s writes into the fresh store (store.cpp)

  MDB_env* env_ = nullptr;
  unsigned jobs_ = 0, created_ = 0, unfinished_ = 0, logs_ = 0, outputs_ = 0, blobs_ = 0, meta_ = 0;
  uint64_t map_size_ = 0;
  std::string dir_;
  const char* map_ = nullptr;  // where LMDB mapped the data file (bounds())
  bool legacy_ = false;        // may hold records without a frame (record.h)
  bool read_only_ = false;     // opened by open_read_only
  // Read transactions hold it shared; growing the map holds it alone.
  std::shared_mutex grow_;
};

}  // namespace shoal::broker
