#include "broker/store.h"

#include "broker/lmdb_guard.h"
#include "broker/record.h"
#include "protocol/checked_archive.h"
#include "protocol/sha256.h"
#include "protocol/worker_protocol.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cereal/archives/binary.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <sstream>
#include <string_view>

namespace shoal::broker {
namespace {

// 2: JobSpec gained import modules and inline inputs.
// 3: the "unfinished" index (ids of the jobs not in a terminal state).
// 4: values framed with a checksum (record.h).
// 5: a job record may end with fields added since (Job::save: meta), which
//    a shoal of format 4 would take for damage: it refuses the store instead.
// 6: ... and then with the output limits (JobSpec::stdout_limit), which a
//    shoal of format 5 would take for damage.
// 7: ... and then which inputs are read-write (InputSpec::read_write), which
//    a shoal of format 6 would ignore, running them read-only.
constexpr char kFormat[] = "shoal-store 7";
// Stores of these formats are upgraded in place: a store of format 2 gains
// the unfinished index; stores of formats 2 and 3 are marked as holding
// records without a frame (meta "legacy-records"), which are read as they
// are; the records of formats 4 to 6 are format 7's without the added
// fields.
constexpr const char* kUpgradableFormats[] = {"shoal-store 2", "shoal-store 3", "shoal-store 4",
                                              "shoal-store 5", "shoal-store 6"};
bool unframed(const std::string& format) {
  return format == kUpgradableFormats[0] || format == kUpgradableFormats[1];
}
constexpr char kLegacyKey[] = "legacy-records";
constexpr uint64_t kInitialMapSize = 1ull << 30;
constexpr uint64_t kMaxMapSize = 1ull << 40;

std::string lmdb_error(const char* what, int rc) {
  return std::string("store: ") + what + ": " + mdb_strerror(rc);
}

// Why mdb_env_open failed, naming the file at fault and what to do.
std::string open_error(const std::string& dir, int rc) {
  const std::string data = dir + "/data.mdb", lock = dir + "/lock.mdb";
  struct stat st;
  for (const std::string& f : {data, lock})
    if (::stat(f.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      return "store: " + f + " is not a regular file, so " + dir +
             " is not a shoal store; move it away or set SHOAL_HOME to another directory";
  switch (rc) {
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return "store: " + data + " is not a shoal store (" + mdb_strerror(rc) +
             "); move it away or set SHOAL_HOME to another directory";
    case EACCES:
    case EPERM:
    case EROFS:
      return "store: cannot open " + dir + " for writing (" + mdb_strerror(rc) +
             "); it must belong to you and be writable, or set SHOAL_HOME to another directory";
    case ENOSPC:
    case EDQUOT:
      return "store: cannot open " + dir + ": " + mdb_strerror(rc) +
             "; free some space on that disk and try again";
    default:
      return lmdb_error(("open " + dir).c_str(), rc);
  }
}

// Whether the disk of `dir` has (next to) no room left: LMDB reports a
// write cut short by a full disk as EIO, not ENOSPC.
bool disk_full(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return false;
  return uint64_t{st.f_bavail} * st.f_frsize < (uint64_t{1} << 20);
}

// A commit that failed for lack of space, or for another reason.
std::string commit_error(const std::string& dir, int rc) {
  if (rc == EIO && disk_full(dir)) rc = ENOSPC;
  if (rc == ENOSPC || rc == EDQUOT)
    return "store: no space left on the disk of " + dir + " (" + mdb_strerror(rc) +
           "); nothing was written; free some space on that disk and try again (the store's "
           "file does not shrink when jobs are removed: `shoal job prune` makes room inside it "
           "for new jobs, and `shoal compact`, with the broker stopped, gives that room back to "
           "the disk)";
  if (rc == MDB_PANIC)
    return "store: " + dir + " failed earlier and cannot be written until the broker restarts (" +
           mdb_strerror(rc) + "); restart it with `shoal shutdown`";
  return lmdb_error(("commit to " + dir).c_str(), rc);
}

MDB_val val(const std::string& s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
// LMDB's calls that walk pages, guarded (lmdb_guard.h): a damaged page is
// MDB_CORRUPTED, not a crash.
using lmdb_guard::guarded;
int db_get(MDB_txn* txn, MDB_dbi dbi, MDB_val* k, MDB_val* v) {
  return guarded([&] { return mdb_get(txn, dbi, k, v); });
}
int db_put(MDB_txn* txn, MDB_dbi dbi, MDB_val* k, MDB_val* v, unsigned flags) {
  return guarded([&] { return mdb_put(txn, dbi, k, v, flags); });
}
int db_del(MDB_txn* txn, MDB_dbi dbi, MDB_val* k, MDB_val* v) {
  return guarded([&] { return mdb_del(txn, dbi, k, v); });
}
int db_open(MDB_txn* txn, const char* name, unsigned flags, MDB_dbi* dbi) {
  return guarded([&] { return mdb_dbi_open(txn, name, flags, dbi); });
}

// A literal: no temporary string whose bytes the value would outlive.
template <size_t N>
MDB_val val(const char (&s)[N]) {
  return MDB_val{N - 1, const_cast<char*>(s)};
}
std::string str(const MDB_val& v) {
  return std::string(static_cast<const char*>(v.mv_data), v.mv_size);
}

void put_be64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
uint64_t get_be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

using wire::encode;

// A job record's payload decoded, its lengths checked; and consistent: read
// under its own id, its states in range.
std::expected<jobs::Job, std::string> decode_job(std::string_view id, std::string_view payload) {
  auto job = wire::decode_exact<jobs::Job>(payload);
  if (!job) return std::unexpected("does not decode: " + job.error());
  auto bad_state = [](jobs::JobState s) { return s > jobs::JobState::stopped; };
  if (job->id != id) return std::unexpected("holds job '" + job->id.substr(0, 64) + "'");
  if (bad_state(job->state)) return std::unexpected(std::string("holds an unknown state"));
  for (const auto& e : job->executions)
    if (bad_state(e.state)) return std::unexpected("execution " + e.id + " has an unknown state");
  return job;
}

// How a key that may hold anything is shown in a message.
std::string printable(std::string_view key) {
  std::string out;
  for (unsigned char c : key.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else
      out += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
  }
  return out;
}

class Txn {
 public:
  // A read transaction holds `guard` shared for its life (Store::grow_).
  Txn(MDB_env* env, bool write, std::shared_mutex* guard = nullptr) {
    if (guard && !write) lock_ = std::shared_lock(*guard);
    rc_ = mdb_txn_begin(env, nullptr, write ? 0 : MDB_RDONLY, &txn_);
    if (rc_ != 0) txn_ = nullptr;
  }
  ~Txn() {
    if (txn_) mdb_txn_abort(txn_);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  int status() const { return rc_; }
  MDB_txn* get() const { return txn_; }
  int commit() {
    const unsigned faults = lmdb_guard::state().faults;
    int rc = guarded([&] { return mdb_txn_commit(txn_); });
    // A commit that faulted did not end the transaction, as a failed one does.
    if (lmdb_guard::state().faults != faults) mdb_txn_abort(txn_);
    txn_ = nullptr;
    return rc;
  }

 private:
  std::shared_lock<std::shared_mutex> lock_;
  MDB_txn* txn_ = nullptr;
  int rc_ = 0;
};

}  // namespace

class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) { rc_ = mdb_cursor_open(txn, dbi, &c_); }
  ~Cursor() {
    if (rc_ == 0) mdb_cursor_close(c_);
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  int get(MDB_val& k, MDB_val& v, MDB_cursor_op op) {
    return guarded([&] { return mdb_cursor_get(c_, &k, &v, op); });
  }

 private:
  MDB_cursor* c_ = nullptr;
  int rc_ = 0;
};

namespace {

std::string created_key(int64_t created_ns, const std::string& id) {
  std::string k;
  put_be64(k, static_cast<uint64_t>(created_ns));
  return k + id;
}

// Deletes every key of `dbi` that starts with `prefix`.
int delete_prefix(MDB_txn* txn, MDB_dbi dbi, const std::string& prefix) {
  std::vector<std::string> keys;
  {
    Cursor c(txn, dbi);
    MDB_val k = val(prefix), v;
    for (int rc = c.get(k, v, MDB_SET_RANGE); rc == 0 && str(k).starts_with(prefix);
         rc = c.get(k, v, MDB_NEXT))
      keys.push_back(str(k));
  }
  for (const std::string& key : keys) {
    MDB_val k = val(key);
    if (int rc = db_del(txn, dbi, &k, nullptr); rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  return 0;
}

// Fills the unfinished index from every job record (upgrading a store of
// the previous format). A record that does not decode is left out, as
// unfinished_jobs() would skip it anyway.
int build_unfinished_index(MDB_txn* txn, MDB_dbi jobs, MDB_dbi unfinished) {
  std::vector<std::string> ids;
  {
    Cursor c(txn, jobs);
    MDB_val k, v;
    for (int rc = c.get(k, v, MDB_FIRST); rc == 0; rc = c.get(k, v, MDB_NEXT)) {
      auto opened =
          record::open(std::string_view(static_cast<const char*>(k.mv_data), k.mv_size),
                       std::string_view(static_cast<const char*>(v.mv_data), v.mv_size), true);
      if (!opened) continue;
      auto job = decode_job(str(k), opened->payload);
      if (job && !jobs::is_terminal(job->state)) ids.push_back(str(k));
    }
  }
  for (const std::string& id : ids) {
    MDB_val k = val(id), empty{0, nullptr};
    if (int rc = db_put(txn, unfinished, &k, &empty, 0); rc != 0) return rc;
  }
  return 0;
}

// Puts `parts`, concatenated, under `key`, framed (record.h): written
// straight into the page LMDB reserves, so framing costs no copy.
int put_framed(MDB_txn* txn, MDB_dbi dbi, const std::string& key,
               std::initializer_list<std::string_view> parts) {
  size_t size = record::kHeader;
  for (auto p : parts) size += p.size();
  MDB_val k = val(key), v{size, nullptr};
  if (int rc = db_put(txn, dbi, &k, &v, MDB_RESERVE); rc != 0) return rc;
  char* out = static_cast<char*>(v.mv_data);
  char* p = out + record::kHeader;
  for (auto part : parts) {
    if (!part.empty()) std::memcpy(p, part.data(), part.size());
    p += part.size();
  }
  record::write_header(out, key, std::string_view(out + record::kHeader, size - record::kHeader));
  return 0;
}

// Deletes the creation-index entries of job `id` when its record cannot
// say when it was created (it is damaged): a walk of the whole index.
int delete_created_entries(MDB_txn* txn, MDB_dbi created, const std::string& id) {
  std::vector<std::string> keys;
  {
    Cursor c(txn, created);
    MDB_val k, v;
    int rc = c.get(k, v, MDB_FIRST);
    for (; rc == 0; rc = c.get(k, v, MDB_NEXT))
      if (k.mv_size == 8 + id.size() && str(k).ends_with(id)) keys.push_back(str(k));
    if (rc != MDB_NOTFOUND) return rc;
  }
  for (const std::string& key : keys) {
    MDB_val k = val(key);
    if (int rc = db_del(txn, created, &k, nullptr); rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  return 0;
}

}  // namespace

void Batch::put_job(const jobs::Job& job) {
  push(PutJob{job.id, encode(job), job.created_ns, jobs::is_terminal(job.state)});
}

void Batch::put_blob(std::string hash, std::string bytes) {
  push(PutBlob{std::move(hash), std::move(bytes)});
}

const std::string* Batch::blob(const std::string& hash) const {
  auto it = blobs_.find(hash);
  return it == blobs_.end() ? nullptr : &std::get<PutBlob>(ops_[it->second]).bytes;
}

void Batch::append_log(const std::string& job_id, uint32_t attempt, Stream stream,
                       std::string data) {
  ops_.push_back(AppendLog{job_id, attempt, stream, std::move(data)});
}

namespace {

// An output file's key: its job's id, its output's name and its path, each
// after a NUL. LMDB refuses keys over 511 bytes, so a longer path is keyed
// by its SHA-256 instead ("#" and 64 hex digits: a short path of that form
// would need a SHA-256 preimage to collide with it).
constexpr size_t kMaxKeyBytes = 511;

std::string output_key(const std::string& job_id, const std::string& name,
                       const std::string& path) {
  std::string key = job_id + '\0' + name + '\0';
  if (key.size() + path.size() <= kMaxKeyBytes) return key + path;
  return key + "#" + sha256_hex(path);
}

}  // namespace

void Batch::put_output(const std::string& job_id, const std::string& name, const std::string& path,
                       std::string bytes) {
  ops_.push_back(PutOutput{output_key(job_id, name, path), std::move(bytes)});
}

void Batch::delete_job(const std::string& job_id) {
  push(DeleteJob{job_id});
}

namespace {

// The job an operation belongs to: its record, deletion, log chunk or
// output file ("" for a blob, which jobs share).
std::string_view job_of(const auto& op) {
  if constexpr (requires { op.id; }) {
    return op.id;  // PutJob, DeleteJob
  } else if constexpr (requires { op.job_id; }) {
    return op.job_id;  // AppendLog
  } else if constexpr (requires { op.key; }) {
    // A PutOutput's key starts with its job's id and a NUL.
    return std::string_view(op.key).substr(0, op.key.find('\0'));
  } else {
    return {};  // PutBlob
  }
}

}  // namespace

void Batch::push(Op op) {
  if (auto* j = std::get_if<PutJob>(&op)) {
    auto [it, added] = jobs_.try_emplace(j->id, ops_.size());
    if (!added) {
      ops_[it->second] = std::move(op);  // the same job, later: one write of its latest state
      return;
    }
  } else if (auto* d = std::get_if<DeleteJob>(&op)) {
    jobs_.erase(d->id);
  } else if (auto* b = std::get_if<PutBlob>(&op)) {
    blobs_[b->hash] = ops_.size();
  }
  ops_.push_back(std::move(op));
}

Batch Batch::filtered(const std::set<std::string, std::less<>>& refused, bool records_only) const {
  Batch out;
  for (const auto& op : ops_) {
    const std::string_view job = std::visit([](const auto& o) { return job_of(o); }, op);
    if (records_only && !std::holds_alternative<PutJob>(op) &&
        !std::holds_alternative<DeleteJob>(op))
      continue;
    if (!job.empty() && refused.contains(job)) continue;
    out.push(op);
  }
  return out;
}

Batch Batch::job_records_except(const std::set<std::string, std::less<>>& refused,
                                const std::string& why) const {
  // What of each job is left out: output files (count, bytes) and log chunks.
  struct Lost {
    uint64_t files = 0, bytes = 0, chunks = 0;
  };
  std::map<std::string, Lost, std::less<>> lost;
  for (const auto& op : ops_) {
    if (auto* o = std::get_if<PutOutput>(&op)) {
      Lost& l = lost[std::string(job_of(*o))];
      ++l.files;
      l.bytes += o->bytes.size();
    } else if (auto* l = std::get_if<AppendLog>(&op)) {
      ++lost[l->job_id].chunks;
    }
  }
  Batch out = filtered(refused, true);
  for (auto& op : out.ops_) {
    auto* j = std::get_if<PutJob>(&op);
    if (!j) continue;
    auto it = lost.find(j->id);
    if (it == lost.end()) continue;
    auto job = wire::decode_exact<jobs::Job>(j->bytes);
    if (!job) continue;  // encoded by put_job: cannot happen
    const Lost& l = it->second;
    const int64_t now = jobs::now_ns();
    if (l.files && !job->output_files.empty()) {
      job->outputs_message = "the job's " + std::to_string(job->output_files.size()) +
                             " output files (" + std::to_string(l.bytes) +
                             " bytes) were lost: they could not be stored (" + why + ")";
      job->output_files.clear();
      job->history.push_back({now, "Output", job->outputs_message});
    }
    if (l.chunks)
      job->history.push_back({now, "Output",
                              std::to_string(l.chunks) +
                                  " chunks of the job's stdout/stderr were lost: they could not "
                                  "be stored (" +
                                  why + ")"});
    j->bytes = encode(*job);
  }
  return out;
}

Batch Batch::without_jobs(const std::set<std::string, std::less<>>& refused) const {
  return filtered(refused, false);
}

void Batch::append(Batch later) {
  for (auto& op : later.ops_) push(std::move(op));
}

namespace {

// Why a store of format `found` cannot be opened, and what to do about it.
std::string unreadable_format(const std::string& dir, const std::string& found) {
  std::string prefix = "shoal-store ";
  std::string why = "' (a store from another version of shoal?)";
  if (found.starts_with(prefix)) {
    int version = std::atoi(found.c_str() + prefix.size());
    int ours = std::atoi(kFormat + prefix.size());
    if (version > ours) why = "': a newer shoal wrote it; run that version";
    if (version > 0 && version < ours)
      why = "' and upgrades '" + std::string(kUpgradableFormats[0]) + "' to '" +
            kUpgradableFormats[std::size(kUpgradableFormats) - 1] +
            "' only: an older shoal wrote it, and this one cannot read its jobs";
  }
  return "store: " + dir + " holds '" + found + "'; this shoal reads '" + kFormat + why +
         ". Move " + dir + " away, or set SHOAL_HOME to another directory, to start a new store";
}

}  // namespace

namespace {

// Where LMDB mapped the data file of `env` (it does not say: me_mapaddr is
// set only for MDB_FIXEDMAP), from /proc/self/maps; null when not found.
const char* map_address(MDB_env* env, uint64_t map_size) {
  int fd;
  struct stat st;
  if (mdb_env_get_fd(env, &fd) != 0 || ::fstat(fd, &st) != 0) return nullptr;
  std::FILE* f = std::fopen("/proc/self/maps", "re");
  if (!f) return nullptr;
  char line[512];
  const char* found = nullptr;
  while (!found && std::fgets(line, sizeof line, f)) {
    unsigned long long start, end, offset, inode;
    char perms[8], dev[16];
    if (std::sscanf(line, "%llx-%llx %7s %llx %15s %llu", &start, &end, perms, &offset, dev,
                    &inode) == 6 &&
        inode == st.st_ino && offset == 0 && end - start == map_size)
      found = reinterpret_cast<const char*>(start);
  }
  std::fclose(f);
  return found;
}

// Puts tmp/data.mdb, made durable first, in the place of dir/data.mdb with
// a rename (atomic: a crash leaves one or the other), and removes tmp.
std::expected<void, std::string> replace_data_file(const std::string& dir, const std::string& tmp) {
  namespace fs = std::filesystem;
  const std::string copy = tmp + "/data.mdb", data = dir + "/data.mdb";
  std::error_code ec;
  int fd = ::open(copy.c_str(), O_RDONLY | O_CLOEXEC);
  bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced || ::rename(copy.c_str(), data.c_str()) != 0) {
    std::string why = std::strerror(errno);
    fs::remove_all(tmp, ec);
    return std::unexpected("store: cannot put the new copy in place of " + data + ": " + why +
                           "; nothing was changed");
  }
  fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  fs::remove_all(tmp, ec);
  return {};
}

// LMDB cannot read the pages that say where the tables are.
bool damaged_pages(int rc) {
  return rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND;
}
std::string damaged_file(const std::string& dir, const char* what, int rc) {
  return "store: " + dir + "/data.mdb is damaged: " + what + " cannot be read (" +
         mdb_strerror(rc) +
         "), so neither the broker nor `shoal doctor --repair` can use it; restore it from a "
         "backup, or move it away to start afresh";
}

bool upgradable(const std::string& format) {
  for (const char* f : kUpgradableFormats)
    if (format == f) return true;
  return false;
}

// Opens the LMDB environment of `dir` into `env` (read-only or not) and
// checks that its data file is as long as its header says. Returns the map
// size in use.
std::expected<uint64_t, std::string> open_env(MDB_env*& env, const std::string& dir,
                                              bool read_only) {
  lmdb_guard::install();
  if (int rc = mdb_env_create(&env); rc != 0) return std::unexpected(lmdb_error("create", rc));
  mdb_env_set_assert(env, lmdb_guard::on_assert);
  mdb_env_set_maxdbs(env, 8);
  // Keep the map size a file grows to; a new store starts at 1 GiB (sparse).
  mdb_env_set_mapsize(env, kInitialMapSize);
  if (int rc = mdb_env_open(env, dir.c_str(), MDB_NOTLS | (read_only ? MDB_RDONLY : 0), 0600);
      rc != 0) {
    std::string msg = open_error(dir, rc);
    mdb_env_close(env);
    env = nullptr;
    return std::unexpected(msg);
  }
  MDB_envinfo info;
  mdb_env_info(env, &info);
  // LMDB reads its pages through a memory map: a page past the end of a
  // truncated file would be SIGBUS, not an error. Its header says how many
  // pages are in use; a file shorter than that is damaged.
  MDB_stat env_stat;
  struct stat file;
  if (mdb_env_stat(env, &env_stat) == 0 && ::stat((dir + "/data.mdb").c_str(), &file) == 0) {
    uint64_t needed = (uint64_t{info.me_last_pgno} + 1) * env_stat.ms_psize;
    if (static_cast<uint64_t>(file.st_size) < needed)
      return std::unexpected("store: " + dir + "/data.mdb is damaged: it is " +
                             std::to_string(file.st_size) + " bytes long but its header uses " +
                             std::to_string(needed) +
                             " (was it truncated?); restore it from a backup, or move it away "
                             "to start afresh");
  }
  return std::max<uint64_t>(info.me_mapsize, kInitialMapSize);
}

}  // namespace

std::expected<std::unique_ptr<Store>, std::string> Store::open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return std::unexpected("store: cannot create the directory " + dir + ": " + ec.message() +
                           "; move away what is in its place or set SHOAL_HOME");
  std::unique_ptr<Store> s(new Store());
  s->dir_ = dir;
  auto map_size = open_env(s->env_, dir, false);
  if (!map_size) return std::unexpected(map_size.error());
  s->map_size_ = *map_size;
  s->map_ = map_address(s->env_, s->map_size_);

  Txn t(s->env_, true);
  if (t.status() != 0) return std::unexpected(open_error(dir, t.status()));
  // An LMDB database that holds something but no shoal format record belongs
  // to another program: refuse it rather than add our tables to it.
  {
    MDB_dbi main_dbi, meta_dbi;
    MDB_stat st;
    if (db_open(t.get(), nullptr, 0, &main_dbi) == 0 && mdb_stat(t.get(), main_dbi, &st) == 0 &&
        st.ms_entries > 0 && db_open(t.get(), "meta", 0, &meta_dbi) != 0)
      return std::unexpected("store: " + dir +
                             "/data.mdb is an LMDB database of another program (it has no "
                             "shoal format record); move it away or set SHOAL_HOME");
  }
  struct {
    const char* name;
    unsigned* dbi;
  } dbs[] = {{"jobs", &s->jobs_}, {"created", &s->created_}, {"unfinished", &s->unfinished_},
             {"logs", &s->logs_}, {"outputs", &s->outputs_}, {"blobs", &s->blobs_},
             {"meta", &s->meta_}};
  for (auto& d : dbs) {
    MDB_dbi dbi;
    if (int rc = db_open(t.get(), d.name, MDB_CREATE, &dbi); rc != 0)
      return std::unexpected(damaged_pages(rc) ? damaged_file(dir, "its list of tables", rc)
                                               : "store: " + dir + " is not a shoal store (" +
                                                     mdb_strerror(rc) + ")");
    *d.dbi = dbi;
  }
  MDB_val k = val("format"), v;
  int rc = db_get(t.get(), s->meta_, &k, &v);
  if (rc == MDB_NOTFOUND || (rc == 0 && upgradable(str(v)))) {
    if (rc == 0) {
      const std::string old = str(v);
      if (old == kUpgradableFormats[0])
        if (int irc = build_unfinished_index(t.get(), s->jobs_, s->unfinished_); irc != 0)
          return std::unexpected(commit_error(dir, irc) + " (while upgrading " + dir + " from '" +
                                 old + "' to '" + kFormat + "')");
      MDB_val lk = val(kLegacyKey), lv = val(old);
      if (unframed(old))
        if (int lrc = db_put(t.get(), s->meta_, &lk, &lv, 0); lrc != 0)
          return std::unexpected(commit_error(dir, lrc) + " (while upgrading " + dir + ")");
    }
    MDB_val fv{sizeof kFormat - 1, const_cast<char*>(kFormat)};
    if (int prc = db_put(t.get(), s->meta_, &k, &fv, 0); prc != 0)
      return std::unexpected(lmdb_error("init", prc));
  } else if (rc != 0) {
    return std::unexpected(damaged_pages(rc) ? damaged_file(dir, "its format record", rc)
                                             : lmdb_error("read format", rc));
  } else if (str(v) != kFormat) {
    return std::unexpected(unreadable_format(dir, str(v)));
  }
  MDB_val lk = val(kLegacyKey), lv;
  s->legacy_ = db_get(t.get(), s->meta_, &lk, &lv) == 0;
  if (int crc = t.commit(); crc != 0) return std::unexpected(lmdb_error("commit", crc));
  return s;
}

std::expected<std::unique_ptr<Store>, std::string> Store::open_read_only(const std::string& dir) {
  struct stat st;
  if (::stat((dir + "/data.mdb").c_str(), &st) != 0)
    return std::unexpected("store: " + dir + " holds no store (no data.mdb): nothing to check");
  std::unique_ptr<Store> s(new Store());
  s->dir_ = dir;
  s->read_only_ = true;
  auto map_size = open_env(s->env_, dir, true);
  if (!map_size) return std::unexpected(map_size.error());
  s->map_size_ = *map_size;
  s->map_ = map_address(s->env_, s->map_size_);
  Txn t(s->env_, false);
  if (t.status() != 0) return std::unexpected(open_error(dir, t.status()));
  MDB_dbi meta;
  if (int rc = db_open(t.get(), "meta", 0, &meta); rc != 0 && damaged_pages(rc))
    return std::unexpected(damaged_file(dir, "its list of tables", rc));
  else if (rc != 0)
    return std::unexpected("store: " + dir + "/data.mdb is not a shoal store (no format record: " +
                           mdb_strerror(rc) + ")");
  MDB_val k = val("format"), v;
  if (int rc = db_get(t.get(), meta, &k, &v); rc != 0)
    return std::unexpected(damaged_pages(rc)
                               ? damaged_file(dir, "its format record", rc)
                               : "store: " + dir + "/data.mdb has no format record (" +
                                     mdb_strerror(rc) + ")");
  const std::string format = str(v);
  if (format != kFormat && !upgradable(format))
    return std::unexpected(unreadable_format(dir, format));
  MDB_val lk = val(kLegacyKey), lv;
  s->legacy_ = unframed(format) || db_get(t.get(), meta, &lk, &lv) == 0;
  s->meta_ = meta;
  struct {
    const char* name;
    unsigned* dbi;
  } dbs[] = {{"jobs", &s->jobs_}, {"created", &s->created_}, {"unfinished", &s->unfinished_},
             {"logs", &s->logs_}, {"outputs", &s->outputs_}, {"blobs", &s->blobs_}};
  for (auto& d : dbs) {
    MDB_dbi dbi;
    if (int rc = db_open(t.get(), d.name, 0, &dbi); rc != 0)
      return std::unexpected(damaged_pages(rc) ? damaged_file(dir, "its list of tables", rc)
                                               : "store: " + dir + "/data.mdb lacks its '" +
                                                     d.name + "' table (" + mdb_strerror(rc) + ")");
    *d.dbi = dbi;
  }
  // Committed, not aborted: the handles then stay open for later transactions.
  if (int rc = t.commit(); rc != 0) return std::unexpected(lmdb_error("open", rc));
  return s;
}

Store::~Store() {
  if (env_) mdb_env_close(env_);
}

std::expected<void, std::string> Store::apply(const Batch& batch) {
  Txn t(env_, true);
  if (t.status() != 0) return std::unexpected(commit_error(dir_, t.status()));
  MDB_txn* txn = t.get();
  for (const auto& op : batch.ops_) {
    int rc = 0;
    if (auto* j = std::get_if<Batch::PutJob>(&op)) {
      MDB_val k = val(j->id);
      rc = put_framed(txn, jobs_, j->id, {j->bytes});
      if (rc == 0) {
        std::string ck = created_key(j->created_ns, j->id);
        MDB_val ckv = val(ck), empty{0, nullptr};
        rc = db_put(txn, created_, &ckv, &empty, 0);
      }
      if (rc == 0 && !j->finished) {
        MDB_val empty{0, nullptr};
        rc = db_put(txn, unfinished_, &k, &empty, 0);
      } else if (rc == 0) {
        rc = db_del(txn, unfinished_, &k, nullptr);
        if (rc == MDB_NOTFOUND) rc = 0;
      }
    } else if (auto* b = std::get_if<Batch::PutBlob>(&op)) {
      MDB_val k = val(b->hash), v = val(b->bytes);
      rc = db_put(txn, blobs_, &k, &v, MDB_NOOVERWRITE);
      if (rc == MDB_KEYEXIST) rc = 0;
    } else if (auto* l = std::get_if<Batch::AppendLog>(&op)) {
      // The next sequence number follows the job's last chunk.
      std::string prefix = l->job_id + '\0';
      std::string after = l->job_id + '\1';
      uint64_t seq = 1;
      {
        Cursor c(txn, logs_);
        MDB_val k = val(after), v;
        int r = c.get(k, v, MDB_SET_RANGE);
        r = r == 0 ? c.get(k, v, MDB_PREV) : c.get(k, v, MDB_LAST);
        if (r == 0 && str(k).starts_with(prefix) && k.mv_size == prefix.size() + 8)
          seq = get_be64(static_cast<const char*>(k.mv_data) + prefix.size()) + 1;
      }
      std::string key = prefix;
      put_be64(key, seq);
      std::string head;
      head.push_back(static_cast<char>(l->stream));
      put_be64(head, l->attempt);
      rc = put_framed(txn, logs_, key, {head, l->data});
    } else if (auto* o = std::get_if<Batch::PutOutput>(&op)) {
      rc = put_framed(txn, outputs_, o->key, {o->bytes});
    } else if (auto* d = std::get_if<Batch::DeleteJob>(&op)) {
      MDB_val k = val(d->id), v;
      if (int urc = db_del(txn, unfinished_, &k, nullptr); urc != 0 && urc != MDB_NOTFOUND) {
        rc = urc;
      } else {
        rc = db_get(txn, jobs_, &k, &v);
      }
      if (rc == MDB_NOTFOUND) {
        rc = 0;
        continue;
      }
      if (rc == 0) {
        auto job = read_job(Bounds{}, d->id, v.mv_data, v.mv_size);
        if (job) {
          std::string ck = created_key(job->created_ns, job->id);
          MDB_val ckv = val(ck);
          db_del(txn, created_, &ckv, nullptr);
        } else {
          rc = delete_created_entries(txn, created_, d->id);
        }
        if (rc == 0) rc = db_del(txn, jobs_, &k, nullptr);
      }
      if (rc == 0) rc = delete_prefix(txn, logs_, d->id + '\0');
      if (rc == 0) rc = delete_prefix(txn, outputs_, d->id + '\0');
    }
    if (rc == MDB_MAP_FULL) return std::unexpected(std::string("MAP_FULL"));
    if (rc != 0) return std::unexpected(commit_error(dir_, rc));
  }
  int rc = t.commit();
  if (rc == MDB_MAP_FULL) return std::unexpected(std::string("MAP_FULL"));
  if (rc != 0) return std::unexpected(commit_error(dir_, rc));
  return {};
}

std::expected<void, std::string> Store::commit(const Batch& batch) {
  if (batch.empty()) return {};
  for (;;) {
    auto r = apply(batch);
    if (r || r.error() != "MAP_FULL") return r;
    if (map_size_ * 2 > kMaxMapSize)
      return std::unexpected("store: " + dir_ + " has reached its largest size (" +
                             std::to_string(kMaxMapSize >> 30) +
                             " GiB); remove old jobs with `shoal job prune` and try again");
    // No transaction may be open in the process while the map grows.
    std::unique_lock no_reads(grow_);
    if (int rc = mdb_env_set_mapsize(env_, map_size_ * 2); rc != 0)
      return std::unexpected(lmdb_error("grow", rc));
    map_size_ *= 2;
    map_ = map_address(env_, map_size_);
  }
}

Store::Bounds Store::bounds() const {
  MDB_envinfo info;
  MDB_stat st;
  if (!map_ || mdb_env_info(env_, &info) != 0 || mdb_env_stat(env_, &st) != 0) return {};
  Bounds b;
  b.base = map_;
  b.end = b.base + info.me_mapsize;
  b.used =
      b.base + std::min<uint64_t>((uint64_t{info.me_last_pgno} + 1) * st.ms_psize, info.me_mapsize);
  return b;
}

std::expected<std::string_view, std::string> Store::bytes_of(const Bounds& b, const void* data,
                                                             size_t size) const {
  const char* p = static_cast<const char*>(data);
  // Only what lies in the map is checked: a value changed by the current
  // write transaction lives in LMDB's own memory.
  if (b.base && p >= b.base && p < b.end && (p >= b.used || size > size_t(b.used - p)))
    return std::unexpected("a length of " + std::to_string(size) +
                           " bytes that runs past the end of the data file (a damaged page)");
  return std::string_view(p, size);
}

bool Store::in_file(const Bounds& b, const MDB_val& v) const {
  return bytes_of(b, v.mv_data, v.mv_size).has_value();
}

std::expected<jobs::Job, std::string> Store::read_job(const Bounds& b, const std::string& id,
                                                      const void* data, size_t size) const {
  auto bytes = bytes_of(b, data, size);
  if (!bytes) return std::unexpected(bytes.error());
  auto opened = record::open(id, *bytes, legacy_);
  if (!opened) return std::unexpected(opened.error());
  return decode_job(id, opened->payload);
}

std::string Store::corrupt(const std::string& key, const std::string& why) const {
  return "store: corrupt record " + key + " in " + dir_ + ": " + why +
         "; `shoal doctor` lists the damage and `shoal doctor --repair` removes it";
}

std::expected<std::optional<jobs::Job>, std::string> Store::get_job(const std::string& id) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  MDB_val k = val(id), v;
  int rc = db_get(t.get(), jobs_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) return std::unexpected(corrupt("jobs/" + id, mdb_strerror(rc)));
  auto job = read_job(bounds(), id, v.mv_data, v.mv_size);
  if (!job) return std::unexpected(corrupt("jobs/" + id, job.error()));
  return std::optional<jobs::Job>(std::move(*job));
}

std::expected<std::string, std::string> Store::resolve_id(const std::string& prefix) {
  if (prefix.empty()) return std::unexpected(std::string("an empty job id"));
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  const Bounds b = bounds();
  Cursor c(t.get(), jobs_);
  std::vector<std::string> matches;
  MDB_val k = val(prefix), v;
  for (int rc = c.get(k, v, MDB_SET_RANGE); rc == 0 && matches.size() < 4;
       rc = c.get(k, v, MDB_NEXT)) {
    if (!in_file(b, k)) break;  // a damaged page: `shoal doctor` names it
    std::string key = str(k);
    if (!key.starts_with(prefix)) break;
    if (key == prefix) return key;
    matches.push_back(key);
  }
  if (matches.empty()) return std::unexpected("no job matches '" + prefix + "'");
  if (matches.size() > 1) {
    std::string list;
    for (size_t i = 0; i < matches.size() && i < 3; ++i) list += (i ? ", " : "") + matches[i];
    return std::unexpected("'" + prefix + "' matches several jobs (" + list +
                           (matches.size() > 3 ? ", ..." : "") + "); give more of the id");
  }
  return matches.front();
}

std::expected<std::optional<std::string>, std::string> Store::first_id_from(
    const std::string& key) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  const Bounds b = bounds();
  Cursor c(t.get(), jobs_);
  MDB_val k = val(key), v;
  const int rc = c.get(k, v, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) return std::unexpected(lmdb_error("read jobs", rc));
  if (!in_file(b, k))
    return std::unexpected(std::string("jobs: a damaged page; run `shoal doctor`"));
  return str(k);
}

namespace {

bool labels_match(const jobs::Job& job, const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : labels) {
    auto it = job.spec.labels.find(key);
    if (it == job.spec.labels.end() || (!value.empty() && it->second != value)) return false;
  }
  return true;
}

// Whether `job` passes every filter of `q` but the id prefix and the cursor.
bool list_matches(const jobs::Job& job, const ListQuery& q) {
  if (!q.states.empty() && std::find(q.states.begin(), q.states.end(), job.state) == q.states.end())
    return false;
  if (!q.name.empty() && job.spec.name.find(q.name) == std::string::npos) return false;
  return labels_match(job, q.labels) && jobs::matches(q.selector, job.spec.labels);
}

// Whether creation key `key` comes after the cursor `q.after` in q's order.
bool after_cursor(const std::string& key, const ListQuery& q) {
  return q.after.empty() || (q.newest_first ? key < q.after : key > q.after);
}

// A page of jobs gathered in memory (an id prefix's, the unfinished ones):
// ordered, from the cursor on, cut to the limit, with `next` when more remain.
void page_in_memory(const ListQuery& q, JobList& out) {
  std::erase_if(out.jobs, [&](const jobs::Job& j) {
    return !after_cursor(created_key(j.created_ns, j.id), q);
  });
  std::sort(out.jobs.begin(), out.jobs.end(), [&](const jobs::Job& a, const jobs::Job& b) {
    auto ka = created_key(a.created_ns, a.id), kb = created_key(b.created_ns, b.id);
    return q.newest_first ? ka > kb : ka < kb;
  });
  if (out.jobs.size() <= q.limit) return;
  out.jobs.resize(q.limit);
  out.next = created_key(out.jobs.back().created_ns, out.jobs.back().id);
}

// How many ids an id prefix may match for list_jobs to read those jobs
// rather than walk the creation index.
constexpr size_t kPrefixMatchesRead = 256;

}  // namespace

void Store::list_one(MDB_txn* txn, const Bounds& mapped, const ListQuery& q, const std::string& id,
                     const char* index, JobList& out) const {
  MDB_val jk = val(id), jv;
  int rc = db_get(txn, jobs_, &jk, &jv);
  if (rc != 0) {
    out.skipped.push_back(
        {"jobs/" + printable(id), rc == MDB_NOTFOUND
                                      ? std::string("missing: the ") + index + " index names it"
                                      : std::string(mdb_strerror(rc))});
    return;
  }
  auto job = read_job(mapped, id, jv.mv_data, jv.mv_size);
  if (!job) {
    out.skipped.push_back({"jobs/" + printable(id), job.error()});
    return;
  }
  if (list_matches(*job, q)) out.jobs.push_back(std::move(*job));
}

bool Store::list_by_prefix(MDB_txn* txn, const Bounds& mapped, const ListQuery& q,
                           JobList& out) const {
  // Ids sort in the jobs table: when few match the prefix, reading those
  // few (and ordering them) is cheaper than walking every job's creation
  // entry to find them.
  std::vector<std::string> ids;
  Cursor ic(txn, jobs_);
  MDB_val k = val(q.id_prefix), v;
  int rc = ic.get(k, v, MDB_SET_RANGE);
  for (; rc == 0 && ids.size() <= kPrefixMatchesRead; rc = ic.get(k, v, MDB_NEXT)) {
    if (!in_file(mapped, k)) {
      rc = MDB_CORRUPTED;
      break;
    }
    std::string id = str(k);
    if (!id.starts_with(q.id_prefix)) break;
    ids.push_back(std::move(id));
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    out.skipped.push_back({"jobs", std::string("the table cannot be read past ") +
                                       (ids.empty() ? q.id_prefix : ids.back()) + ": " +
                                       mdb_strerror(rc)});
  if (ids.size() > kPrefixMatchesRead) return false;
  for (const std::string& id : ids) list_one(txn, mapped, q, id, "jobs", out);
  page_in_memory(q, out);
  return true;
}

void Store::list_unfinished(MDB_txn* txn, const Bounds& mapped, const ListQuery& q,
                            JobList& out) const {
  Cursor c(txn, unfinished_);
  MDB_val k, v;
  int rc = c.get(k, v, MDB_FIRST);
  for (; rc == 0; rc = c.get(k, v, MDB_NEXT)) {
    if (!in_file(mapped, k)) {
      rc = MDB_CORRUPTED;
      break;
    }
    std::string id = str(k);
    if (id.starts_with(q.id_prefix)) list_one(txn, mapped, q, id, "unfinished", out);
  }
  if (rc != MDB_NOTFOUND)
    out.skipped.push_back(
        {"unfinished",
         std::string("the index of unfinished jobs cannot be read: ") + mdb_strerror(rc)});
  page_in_memory(q, out);
}

void Store::list_by_creation(MDB_txn* txn, const Bounds& mapped, const ListQuery& q,
                             JobList& out) const {
  // Newest (or oldest) first along the creation index from the cursor,
  // reading a job record only when its id matches: without a filter this
  // reads `limit` records however many jobs are stored.
  Cursor c(txn, created_);
  MDB_val k = val(q.after), v;
  MDB_cursor_op next = q.newest_first ? MDB_PREV : MDB_NEXT;
  int rc;
  if (q.after.empty()) {
    rc = c.get(k, v, q.newest_first ? MDB_LAST : MDB_FIRST);
  } else {
    rc = c.get(k, v, MDB_SET_RANGE);  // the first key at or past the cursor
    if (q.newest_first)
      rc = c.get(k, v, rc == 0 ? MDB_PREV : MDB_LAST);
    else if (rc == 0 && str(k) == q.after)
      rc = c.get(k, v, MDB_NEXT);
  }
  std::string last;
  size_t reads = 0;
  for (; rc == 0; rc = c.get(k, v, next)) {
    if (out.jobs.size() >= q.limit || reads >= q.max_reads) {
      out.next = last;  // an entry is left: the listing goes on after `last`
      return;
    }
    if (!in_file(mapped, k)) {
      rc = MDB_CORRUPTED;
      break;
    }
    last = str(k);
    if (k.mv_size <= 8) {
      out.skipped.push_back({"created/" + printable(last), "a malformed index key"});
      continue;
    }
    std::string id = last.substr(8);
    if (!id.starts_with(q.id_prefix)) continue;
    ++reads;
    list_one(txn, mapped, q, id, "creation", out);
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    out.skipped.push_back({"created", std::string("the creation index cannot be read") +
                                          (last.size() > 8 ? " past job " + last.substr(8) : "") +
                                          ": " + mdb_strerror(rc)});
}

std::expected<JobList, std::string> Store::list_jobs(const ListQuery& q) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  const Bounds mapped = bounds();
  JobList out;
  if (!q.id_prefix.empty() && list_by_prefix(t.get(), mapped, q, out)) return out;
  const bool only_unfinished =
      !q.states.empty() && std::none_of(q.states.begin(), q.states.end(), jobs::is_terminal);
  if (only_unfinished)
    list_unfinished(t.get(), mapped, q, out);
  else
    list_by_creation(t.get(), mapped, q, out);
  return out;
}

std::expected<JobList, std::string> Store::unfinished_jobs() {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  const Bounds mapped = bounds();
  JobList out;
  Cursor c(t.get(), unfinished_);
  MDB_val k, v;
  int rc = c.get(k, v, MDB_FIRST);
  for (; rc == 0; rc = c.get(k, v, MDB_NEXT)) {
    if (!in_file(mapped, k)) {
      rc = MDB_CORRUPTED;
      break;
    }
    const std::string id = str(k);
    MDB_val jv;
    if (int jrc = db_get(t.get(), jobs_, &k, &jv); jrc != 0) {
      if (jrc != MDB_NOTFOUND) out.skipped.push_back({"jobs/" + printable(id), mdb_strerror(jrc)});
      continue;
    }
    // One damaged record must not hold back the others.
    auto job = read_job(mapped, id, jv.mv_data, jv.mv_size);
    if (!job) {
      out.skipped.push_back({"jobs/" + printable(id), job.error()});
      continue;
    }
    if (!jobs::is_terminal(job->state)) out.jobs.push_back(std::move(*job));
  }
  if (rc != MDB_NOTFOUND)
    out.skipped.push_back(
        {"unfinished",
         std::string("the index of unfinished jobs cannot be read: ") + mdb_strerror(rc)});
  std::sort(out.jobs.begin(), out.jobs.end(),
            [](const jobs::Job& a, const jobs::Job& b) { return a.created_ns < b.created_ns; });
  return out;
}

std::expected<std::vector<std::string>, std::string> Store::finished_before(int64_t before_ns) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  const Bounds b = bounds();
  std::vector<std::string> out;
  Cursor c(t.get(), jobs_);
  MDB_val k, v;
  int rc = c.get(k, v, MDB_FIRST);
  for (; rc == 0; rc = c.get(k, v, MDB_NEXT)) {
    if (!in_file(b, k)) {
      rc = MDB_CORRUPTED;
      break;
    }
    auto job = read_job(b, str(k), v.mv_data, v.mv_size);
    if (!job) continue;  // damaged: `shoal doctor --repair` removes it
    if (jobs::is_terminal(job->state) && job->modified_ns < before_ns) out.push_back(job->id);
  }
  if (rc != MDB_NOTFOUND)
    return std::unexpected("store: the jobs table of " + dir_ +
                           " cannot be read: " + mdb_strerror(rc) + "; run `shoal doctor`");
  return out;
}

std::expected<bool, std::string> Store::has_blob(const std::string& hash) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  MDB_val k = val(hash), v;
  int rc = db_get(t.get(), blobs_, &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return std::unexpected(lmdb_error("read", rc));
  return true;
}

std::expected<std::optional<std::string>, std::string> Store::get_blob(const std::string& hash) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  MDB_val k = val(hash), v;
  int rc = db_get(t.get(), blobs_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  const std::string key = "blobs/" + hash;
  if (rc != 0) return std::unexpected(corrupt(key, mdb_strerror(rc)));
  auto bytes = bytes_of(bounds(), v.mv_data, v.mv_size);
  if (!bytes) return std::unexpected(corrupt(key, bytes.error()));
  // Blobs are named by their SHA-256: checked on every read, so that damaged
  // bytes never reach a worker.
  if (sha256_hex(*bytes) != hash)
    return std::unexpected("store: the module or input with SHA-256 " + hash +
                           " is damaged: corrupt record " + key + " in " + dir_ +
                           ": its bytes do not match their SHA-256; `shoal doctor --repair` "
                           "removes it, and sending the module again stores it afresh");
  return std::optional<std::string>(std::string(*bytes));
}

std::optional<std::string> Store::damaged_near(const Bounds& b, Cursor& c, MDB_val& k, MDB_val& v,
                                               bool before) const {
  auto damaged = [&]() -> std::optional<std::string> {
    auto key = bytes_of(b, k.mv_data, k.mv_size);
    auto bytes = bytes_of(b, v.mv_data, v.mv_size);
    if (!key || !bytes) return "a neighbouring record runs past the end of the data file";
    if (auto opened = record::open(*key, *bytes, legacy_); !opened)
      return "a neighbouring record, under the damaged key " + printable(std::string(*key)) + ", " +
             opened.error();
    return std::nullopt;
  };
  if (auto d = damaged()) return d;
  if (before && c.get(k, v, MDB_PREV) == 0) return damaged();
  return std::nullopt;
}

std::expected<std::vector<LogChunk>, std::string> Store::read_logs(const std::string& job_id,
                                                                   uint64_t after_seq,
                                                                   uint64_t max_bytes) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  const Bounds b = bounds();
  std::vector<LogChunk> out;
  uint64_t read = 0;
  std::string prefix = job_id + '\0';
  std::string start = prefix;
  put_be64(start, after_seq + 1);
  Cursor c(t.get(), logs_);
  MDB_val k = val(start), v;
  int rc = c.get(k, v, MDB_SET_RANGE);
  for (; rc == 0; rc = c.get(k, v, MDB_NEXT)) {
    if (!in_file(b, k)) {
      rc = MDB_CORRUPTED;
      break;
    }
    std::string key = str(k);
    if (!key.starts_with(prefix) || key.size() != prefix.size() + 8) {
      // A chunk whose key was damaged stays where it was, between its
      // job's chunks and the next: the record that ends the range, or the
      // one before it when none matched, would fail its frame.
      if (auto near = damaged_near(b, c, k, v, out.empty()))
        return std::unexpected(corrupt("logs/" + job_id, *near));
      break;
    }
    LogChunk chunk;
    chunk.seq = get_be64(key.data() + prefix.size());
    const std::string name = "logs/" + job_id + "/" + std::to_string(chunk.seq);
    auto bytes = bytes_of(b, v.mv_data, v.mv_size);
    if (!bytes) return std::unexpected(corrupt(name, bytes.error()));
    auto opened = record::open(key, *bytes, legacy_);
    if (!opened) return std::unexpected(corrupt(name, opened.error()));
    std::string_view p = opened->payload;
    if (p.size() < 9 || (p[0] != 1 && p[0] != 2))
      return std::unexpected(corrupt(name, "not a log chunk"));
    chunk.stream = static_cast<Stream>(p[0]);
    chunk.attempt = static_cast<uint32_t>(get_be64(p.data() + 1));
    chunk.data.assign(p.substr(9));
    read += chunk.data.size();
    out.push_back(std::move(chunk));
    if (read >= max_bytes) break;
  }
  if (rc != 0 && rc != MDB_NOTFOUND)
    return std::unexpected(corrupt("logs/" + job_id, mdb_strerror(rc)));
  if (rc == MDB_NOTFOUND && out.empty() && c.get(k, v, MDB_LAST) == 0)
    if (auto near = damaged_near(b, c, k, v, false))
      return std::unexpected(corrupt("logs/" + job_id, *near));
  return out;
}

std::expected<std::optional<std::string>, std::string> Store::get_output(const std::string& job_id,
                                                                         const std::string& name,
                                                                         const std::string& path) {
  auto whole = get_output_part(job_id, name, path, 0, UINT64_MAX);
  if (!whole) return std::unexpected(whole.error());
  if (!*whole) return std::nullopt;
  return std::optional<std::string>(std::move((*whole)->bytes));
}

std::expected<std::optional<Store::OutputPart>, std::string> Store::get_output_part(
    const std::string& job_id, const std::string& name, const std::string& path, uint64_t offset,
    uint64_t length) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  std::string key = output_key(job_id, name, path);
  MDB_val k = val(key), v;
  int rc = db_get(t.get(), outputs_, &k, &v);
  const std::string shown = "outputs/" + job_id + "/" + name + "/" + path;
  if (rc == MDB_NOTFOUND) {
    // Not there, or there under a damaged key: then the record where it
    // would be, or the one before, fails its frame.
    Cursor c(t.get(), outputs_);
    const Bounds b = bounds();
    int at = c.get(k, v, MDB_SET_RANGE);
    std::optional<std::string> near;
    if (at == 0)
      near = damaged_near(b, c, k, v, true);
    else if (c.get(k, v, MDB_LAST) == 0)
      near = damaged_near(b, c, k, v, false);
    if (near) return std::unexpected(corrupt(shown, *near));
    return std::nullopt;
  }
  if (rc != 0) return std::unexpected(corrupt(shown, mdb_strerror(rc)));
  auto bytes = bytes_of(bounds(), v.mv_data, v.mv_size);
  if (!bytes) return std::unexpected(corrupt(shown, bytes.error()));
  auto opened = record::open(key, *bytes, legacy_);
  if (!opened) return std::unexpected(corrupt(shown, opened.error()));
  OutputPart part;
  part.size = opened->payload.size();
  if (offset < part.size)
    part.bytes.assign(
        opened->payload.substr(offset, std::min<uint64_t>(length, part.size - offset)));
  return part;
}

// One scan(): walks each table of `txn` in turn, reports damage in `r`,
// and hands every sound record to `keep`.
class Store::Scan {
 public:
  Scan(const Store& store, MDB_txn* txn, CheckReport& r, const Keep* keep)
      : s_(store), txn_(txn), r_(r), keep_(keep), b_(store.bounds()) {
    // No table holds more records than its pages have room for: a walk past
    // that goes round in circles through damaged pages.
    struct stat file;
    most_ = ::stat((s_.dir_ + "/data.mdb").c_str(), &file) == 0 ? uint64_t(file.st_size) / 8 + 16
                                                                : ~0ull;
  }

  int run() {
    if (!walk(s_.jobs_, "jobs",
              [&](const std::string& id, std::string_view bytes) { job(id, bytes); }))
      jobs_cut_after_ = last_walked_;
    walk(s_.created_, "created", [&](const std::string& key, std::string_view) {
      if (key.size() <= 8) return damaged("created/" + printable(key), "a malformed index key");
      if (of_job(std::string_view(key).substr(8), "created/" + printable(key.substr(8))))
        pass("created", key, {});
    });
    walk(s_.unfinished_, "unfinished", [&](const std::string& id, std::string_view) {
      if (of_job(id, "unfinished/" + printable(id))) pass("unfinished", id, {});
    });
    walk(s_.logs_, "logs",
         [&](const std::string& key, std::string_view bytes) { log(key, bytes); });
    walk(s_.outputs_, "outputs",
         [&](const std::string& key, std::string_view bytes) { output(key, bytes); });
    walk(s_.blobs_, "blobs", [&](const std::string& hash, std::string_view bytes) {
      if (sha256_hex(bytes) != hash)
        return damaged("blobs/" + printable(hash),
                       "its bytes do not match their SHA-256 (the module or input with that "
                       "hash is damaged)");
      pass("blobs", hash, bytes);
    });
    return kept_rc_;
  }

 private:
  // Whether a job's record is there and sound; index entries, logs and
  // outputs of a job whose record is damaged go with it (the record is
  // what is reported), those of a job with no record are damage of their own.
  enum class JobRecord { sound, broken, missing };

  void damaged(std::string shown, std::string why) {
    r_.damage.push_back({std::move(shown), std::move(why)});
  }
  void pass(const char* table, std::string_view key, std::string_view payload) {
    if (keep_ && kept_rc_ == 0) kept_rc_ = (*keep_)(table, key, payload);
  }

  JobRecord job_state(std::string_view id) {
    if (id == last_id_) return last_;
    last_id_ = std::string(id);
    MDB_val k = val(last_id_), v;
    // A job the walk of the jobs table did not reach (keys in order, cut by
    // a damaged page) was not kept: a lookup may still find its record by
    // another path, but a repaired store will not hold it.
    if ((jobs_cut_after_ && last_id_ > *jobs_cut_after_) || db_get(txn_, s_.jobs_, &k, &v) != 0)
      last_ = JobRecord::missing;
    else
      last_ =
          s_.read_job(b_, last_id_, v.mv_data, v.mv_size) ? JobRecord::sound : JobRecord::broken;
    return last_;
  }

  // An index entry, log chunk or output file of job `id`: kept with a sound
  // job, reported when the job has no record.
  bool of_job(std::string_view id, const std::string& shown) {
    JobRecord state = job_state(id);
    if (state == JobRecord::missing) damaged(shown, "belongs to a job that has no record");
    return state == JobRecord::sound;
  }

  // Walks `dbi`, calling each(key, value bytes) for every record; false
  // when a damaged page cut the walk short after last_walked_.
  template <class Each>
  bool walk(unsigned dbi, const std::string& table, Each&& each) {
    Cursor c(txn_, dbi);
    MDB_val k, v;
    uint64_t n = 0;
    std::string last_key;
    int rc = c.get(k, v, MDB_FIRST);
    for (; rc == 0 && kept_rc_ == 0; rc = c.get(k, v, MDB_NEXT)) {
      if (++n > most_) {
        rc = MDB_CORRUPTED;
        break;
      }
      auto kb = s_.bytes_of(b_, k.mv_data, k.mv_size);
      if (!kb) {
        damaged(table + "/?", "a key with " + kb.error());
        continue;
      }
      last_key = std::string(*kb);
      auto vb = s_.bytes_of(b_, v.mv_data, v.mv_size);
      if (!vb) {
        damaged(table + "/" + printable(last_key), vb.error());
        continue;
      }
      each(last_key, *vb);
    }
    r_.records[table] = n;
    last_walked_ = last_key;
    if (rc == MDB_NOTFOUND || kept_rc_ != 0) return true;
    unreadable(table, last_key, rc);
    return false;
  }

  void unreadable(const std::string& table, const std::string& last_key, int rc) {
    std::string past;
    if (!last_key.empty())
      past = " past " +
             printable(table == "created" && last_key.size() > 8 ? last_key.substr(8) : last_key);
    damaged(table, "the table cannot be read" + past + ": " + mdb_strerror(rc) +
                       " (a damaged page: the records beyond it are lost)");
  }

  void job(const std::string& id, std::string_view bytes) {
    auto opened = record::open(id, bytes, s_.legacy_);
    if (opened && opened->legacy) ++r_.legacy;
    auto decoded = opened ? decode_job(id, opened->payload)
                          : std::expected<jobs::Job, std::string>(std::unexpected(opened.error()));
    if (!decoded) return damaged("jobs/" + printable(id), decoded.error());
    pass("jobs", id, opened->payload);
  }

  void log(const std::string& key, std::string_view bytes) {
    const size_t nul = key.find('\0');
    if (nul == std::string::npos || key.size() != nul + 9)
      return damaged("logs/" + printable(key), "a malformed key");
    const std::string shown = "logs/" + printable(key.substr(0, nul)) + "/" +
                              std::to_string(get_be64(key.data() + nul + 1));
    auto opened = record::open(key, bytes, s_.legacy_);
    if (!opened) return damaged(shown, opened.error());
    if (opened->legacy) ++r_.legacy;
    if (opened->payload.size() < 9 || (opened->payload[0] != 1 && opened->payload[0] != 2))
      return damaged(shown, "not a log chunk");
    if (of_job(std::string_view(key).substr(0, nul), shown)) pass("logs", key, opened->payload);
  }

  void output(const std::string& key, std::string_view bytes) {
    std::string shown = key;
    std::replace(shown.begin(), shown.end(), '\0', '/');
    shown = "outputs/" + printable(shown);
    auto opened = record::open(key, bytes, s_.legacy_);
    if (!opened) {
      damaged(shown, opened.error());
      return pass("lost output", key, {});
    }
    if (opened->legacy) ++r_.legacy;
    if (of_job(std::string_view(key).substr(0, key.find('\0')), shown))
      pass("outputs", key, opened->payload);
  }

  const Store& s_;
  MDB_txn* txn_;
  CheckReport& r_;
  const Keep* keep_;
  const Bounds b_;
  std::string last_walked_;                    // the last key the latest walk reached
  std::optional<std::string> jobs_cut_after_;  // the jobs walk stopped past this id
  uint64_t most_ = ~0ull;
  int kept_rc_ = 0;
  std::string last_id_;
  JobRecord last_ = JobRecord::missing;
};

int Store::scan(MDB_txn* txn, CheckReport& r, const Keep* keep) const {
  return Scan(*this, txn, r, keep).run();
}

std::expected<CheckReport, std::string> Store::check() {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  CheckReport r;
  scan(t.get(), r, nullptr);
  return r;
}

// repair()'s writes: every sound record written afresh into `to`, framed,
// in transactions of a bounded size; the indexes rebuilt from the job
// records; the jobs whose output files were damaged told so.
class Store::Rewrite {
 public:
  explicit Rewrite(Store& to) : to_(to) {}

  // scan()'s Keep: writes one sound record (or notes a lost output).
  int keep(std::string_view table, std::string_view key, std::string_view payload) {
    if (table == "lost output") {
      lost_outputs_.emplace_back(key);
      return 0;
    }
    if (table == "created" || table == "unfinished")
      return 0;  // rebuilt from the job records: a damaged index loses nothing
    if (int rc = begin(); rc != 0) return rc;
    const std::string k(key);
    int rc;
    if (table == "jobs" || table == "logs" || table == "outputs") {
      MDB_dbi dbi = table == "jobs" ? to_.jobs_ : table == "logs" ? to_.logs_ : to_.outputs_;
      rc = put_framed(w_->get(), dbi, k, {payload});
      if (rc == 0 && table == "jobs") rc = index(k, payload);
    } else {
      MDB_val kv = val(k), v{payload.size(), const_cast<char*>(payload.data())};
      rc = db_put(w_->get(), to_.blobs_, &kv, &v, 0);
    }
    written_ += k.size() + payload.size() + 64;
    if (rc == 0 && written_ > (256 << 20)) {
      rc = w_->commit();
      w_.reset();
      written_ = 0;
    }
    return rc;
  }

  // After a scan that ended with `rc`: when 0, the jobs whose output files
  // were damaged no longer list them, and say so, and the last transaction
  // is committed; otherwise it is abandoned. Either way no transaction is
  // left open on `to`.
  int finish(int rc) {
    if (rc == 0) rc = begin();
    for (size_t i = 0; rc == 0 && i < lost_outputs_.size(); ++i) rc = forget(lost_outputs_[i]);
    if (rc == 0) rc = w_->commit();
    w_.reset();
    return rc;
  }

 private:
  int begin() {
    if (w_) return 0;
    w_ = std::make_unique<Txn>(to_.env_, true);
    return w_->status();
  }

  // The created and unfinished entries of a job record.
  int index(const std::string& id, std::string_view payload) {
    auto job = wire::decode_exact<jobs::Job>(payload);
    if (!job) return 0;
    std::string ck = created_key(job->created_ns, job->id);
    MDB_val ckv = val(ck), empty{0, nullptr};
    int rc = db_put(w_->get(), to_.created_, &ckv, &empty, 0);
    MDB_val idv = val(id);
    if (rc == 0 && !jobs::is_terminal(job->state))
      rc = db_put(w_->get(), to_.unfinished_, &idv, &empty, 0);
    return rc;
  }

  // Removes the damaged output file `key` from its job's record.
  int forget(const std::string& key) {
    const std::string id = key.substr(0, key.find('\0'));
    MDB_val k = val(id), v;
    if (db_get(w_->get(), to_.jobs_, &k, &v) != 0) return 0;
    auto job = to_.read_job(Bounds{}, id, v.mv_data, v.mv_size);
    if (!job) return 0;
    std::string rest = key.substr(std::min(key.size(), id.size() + 1));
    const std::string name = rest.substr(0, rest.find('\0'));
    const std::string path = rest.substr(std::min(rest.size(), name.size() + 1));
    std::erase_if(job->output_files,
                  [&](const jobs::OutputFile& o) { return o.name == name && o.path == path; });
    const std::string note = "output " + name + "/" + path +
                             " was damaged in the store and removed by `shoal doctor --repair`";
    job->outputs_message += (job->outputs_message.empty() ? "" : "; ") + note;
    job->history.push_back({jobs::now_ns(), "Output", note});
    return put_framed(w_->get(), to_.jobs_, id, {encode(*job)});
  }

  Store& to_;
  std::unique_ptr<Txn> w_;
  uint64_t written_ = 0;
  std::vector<std::string> lost_outputs_;
};

std::expected<CheckReport, std::string> Store::repair(const std::string& dir) {
  namespace fs = std::filesystem;
  auto old = open_read_only(dir);
  if (!old) return std::unexpected(old.error());
  const std::string tmp = dir + "/repair.tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  auto fresh = open(tmp);
  if (!fresh) return std::unexpected(fresh.error() + " (while repairing " + dir + ")");
  Store& to = **fresh;
  if (int rc = mdb_env_set_mapsize(to.env_, (*old)->map_size_); rc != 0)
    return std::unexpected(lmdb_error("repair", rc));
  to.map_size_ = (*old)->map_size_;
  to.map_ = map_address(to.env_, to.map_size_);
  // Sound records are copied; damaged ones are left behind. LMDB is never
  // asked to change a damaged tree in place.
  Rewrite rewrite(to);
  Keep keep = [&](const char* table, std::string_view key, std::string_view payload) {
    return rewrite.keep(table, key, payload);
  };
  CheckReport r;
  int rc;
  {
    Txn t((*old)->env_, false);
    if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
    rc = (*old)->scan(t.get(), r, &keep);
  }
  rc = rewrite.finish(rc);
  fresh->reset();
  old->reset();
  if (rc != 0) {
    fs::remove_all(tmp, ec);
    return std::unexpected(commit_error(tmp, rc) + " (while repairing " + dir +
                           "; nothing was changed)");
  }
  if (auto placed = replace_data_file(dir, tmp); !placed) return std::unexpected(placed.error());
  return r;
}

std::expected<Store::Compacted, std::string> Store::compact(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string data = dir + "/data.mdb", tmp = dir + "/compact.tmp";
  std::error_code ec;
  Compacted sizes;
  sizes.before = fs::file_size(data, ec);
  if (ec) return std::unexpected("store: " + data + ": " + ec.message() + "; nothing to compact");
  {
    // Opened (and upgraded) as the broker would: a store it refuses is not
    // compacted either.
    auto store = open(dir);
    if (!store) return std::unexpected(store.error());
    // LMDB's copy walks every page, trusting them (and on a thread of its
    // own, which no guard covers): a damaged store is repaired first.
    auto report = (*store)->check();
    if (!report) return std::unexpected(report.error());
    if (!report->damage.empty())
      return std::unexpected("store: " + dir + " has " + std::to_string(report->damage.size()) +
                             " damaged records (`shoal doctor` lists them); run `shoal doctor "
                             "--repair`, which also compacts it. Nothing was changed");
    fs::remove_all(tmp, ec);
    fs::create_directory(tmp, ec);
    if (ec) return std::unexpected("store: cannot create " + tmp + ": " + ec.message());
    int rc = mdb_env_copy2((*store)->env_, tmp.c_str(), MDB_CP_COMPACT);
    if (rc != 0) {
      fs::remove_all(tmp, ec);
      if (rc == ENOSPC || rc == EDQUOT || (rc == EIO && disk_full(dir)))
        return std::unexpected("store: no space left on the disk of " + dir +
                               " for the compacted copy (" + mdb_strerror(rc) +
                               "); it needs as much free room as the store's data in use; free "
                               "some space there and try again. Nothing was changed");
      return std::unexpected(lmdb_error(("compact " + dir).c_str(), rc) + "; nothing was changed");
    }
  }
  if (auto placed = replace_data_file(dir, tmp); !placed) return std::unexpected(placed.error());
  sizes.after = fs::file_size(data, ec);
  return sizes;
}

}  // namespace shoal::broker
