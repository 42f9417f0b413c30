#include "broker/store.h"

#include "broker/sha256.h"
#include "broker/worker_protocol.h"

#include <lmdb.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cereal/archives/binary.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string_view>

namespace shoal::broker {
namespace {

// 2: JobSpec gained import modules and inline inputs.
// 3: the "unfinished" index (ids of the jobs not in a terminal state).
constexpr char kFormat[] = "shoal-store 3";
// A store of this format is upgraded by building the unfinished index.
constexpr char kUpgradableFormat[] = "shoal-store 2";
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
           "); nothing was written; free some space there, or remove old jobs with "
           "`shoal job prune`, and try again";
  if (rc == MDB_PANIC)
    return "store: " + dir + " failed earlier and cannot be written until the broker restarts (" +
           mdb_strerror(rc) + "); restart it with `shoal shutdown`";
  return lmdb_error(("commit to " + dir).c_str(), rc);
}

MDB_val val(const std::string& s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
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

template <class T>
std::expected<T, std::string> decode(const MDB_val& v) {
  auto value = wire::decode<T>(v.mv_data, v.mv_size);
  if (!value) return std::unexpected(std::string("store: a record is corrupt"));
  return std::move(*value);
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
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc;
  }

 private:
  std::shared_lock<std::shared_mutex> lock_;
  MDB_txn* txn_ = nullptr;
  int rc_ = 0;
};

class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) { rc_ = mdb_cursor_open(txn, dbi, &c_); }
  ~Cursor() {
    if (rc_ == 0) mdb_cursor_close(c_);
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  int get(MDB_val& k, MDB_val& v, MDB_cursor_op op) { return mdb_cursor_get(c_, &k, &v, op); }

 private:
  MDB_cursor* c_ = nullptr;
  int rc_ = 0;
};

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
    if (int rc = mdb_del(txn, dbi, &k, nullptr); rc != 0 && rc != MDB_NOTFOUND) return rc;
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
      auto job = decode<jobs::Job>(v);
      if (job && !jobs::is_terminal(job->state)) ids.push_back(str(k));
    }
  }
  for (const std::string& id : ids) {
    MDB_val k = val(id), empty{0, nullptr};
    if (int rc = mdb_put(txn, unfinished, &k, &empty, 0); rc != 0) return rc;
  }
  return 0;
}

}  // namespace

void Batch::put_job(const jobs::Job& job) {
  ops_.push_back(PutJob{job.id, encode(job), job.created_ns, jobs::is_terminal(job.state)});
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
  ops_.push_back(DeleteJob{job_id});
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
  if (auto* b = std::get_if<PutBlob>(&op)) blobs_[b->hash] = ops_.size();
  ops_.push_back(std::move(op));
}

Batch Batch::filtered(const std::vector<std::string>& refused, bool records_only) const {
  Batch out;
  for (const auto& op : ops_) {
    const std::string_view job = std::visit([](const auto& o) { return job_of(o); }, op);
    if (records_only && !std::holds_alternative<PutJob>(op) &&
        !std::holds_alternative<DeleteJob>(op))
      continue;
    if (!job.empty() && std::find(refused.begin(), refused.end(), job) != refused.end()) continue;
    out.push(op);
  }
  return out;
}

Batch Batch::job_records_except(const std::vector<std::string>& refused) const {
  return filtered(refused, true);
}

Batch Batch::without_jobs(const std::vector<std::string>& refused) const {
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
      why = "' and upgrades '" + std::string(kUpgradableFormat) +
            "' only: an older shoal wrote it, and this one cannot read its jobs";
  }
  return "store: " + dir + " holds '" + found + "'; this shoal reads '" + kFormat + why +
         ". Move " + dir + " away, or set SHOAL_HOME to another directory, to start a new store";
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
  if (int rc = mdb_env_create(&s->env_); rc != 0) return std::unexpected(lmdb_error("create", rc));
  mdb_env_set_maxdbs(s->env_, 8);
  // Keep the map size a file grows to; a new store starts at 1 GiB (sparse).
  MDB_envinfo info;
  s->map_size_ = kInitialMapSize;
  mdb_env_set_mapsize(s->env_, s->map_size_);
  if (int rc = mdb_env_open(s->env_, dir.c_str(), MDB_NOTLS, 0600); rc != 0) {
    std::string msg = open_error(dir, rc);
    mdb_env_close(s->env_);
    s->env_ = nullptr;
    return std::unexpected(msg);
  }
  mdb_env_info(s->env_, &info);
  s->map_size_ = std::max<uint64_t>(info.me_mapsize, kInitialMapSize);
  // LMDB reads its pages through a memory map: a page past the end of a
  // truncated file would be SIGBUS, not an error. Its header says how many
  // pages are in use; a file shorter than that is damaged.
  MDB_stat env_stat;
  struct stat file;
  if (mdb_env_stat(s->env_, &env_stat) == 0 && ::stat((dir + "/data.mdb").c_str(), &file) == 0) {
    uint64_t needed = (uint64_t{info.me_last_pgno} + 1) * env_stat.ms_psize;
    if (static_cast<uint64_t>(file.st_size) < needed)
      return std::unexpected("store: " + dir + "/data.mdb is damaged: it is " +
                             std::to_string(file.st_size) + " bytes long but its header uses " +
                             std::to_string(needed) +
                             " (was it truncated?); restore it from a backup, or move it away "
                             "to start afresh");
  }

  Txn t(s->env_, true);
  if (t.status() != 0) return std::unexpected(open_error(dir, t.status()));
  // An LMDB database that holds something but no shoal format record belongs
  // to another program: refuse it rather than add our tables to it.
  {
    MDB_dbi main_dbi, meta_dbi;
    MDB_stat st;
    if (mdb_dbi_open(t.get(), nullptr, 0, &main_dbi) == 0 &&
        mdb_stat(t.get(), main_dbi, &st) == 0 && st.ms_entries > 0 &&
        mdb_dbi_open(t.get(), "meta", 0, &meta_dbi) != 0)
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
    if (int rc = mdb_dbi_open(t.get(), d.name, MDB_CREATE, &dbi); rc != 0)
      return std::unexpected("store: " + dir + " is not a shoal store (" + mdb_strerror(rc) + ")");
    *d.dbi = dbi;
  }
  MDB_val k = val("format"), v;
  int rc = mdb_get(t.get(), s->meta_, &k, &v);
  if (rc == MDB_NOTFOUND || (rc == 0 && str(v) == kUpgradableFormat)) {
    if (rc == 0)
      if (int irc = build_unfinished_index(t.get(), s->jobs_, s->unfinished_); irc != 0)
        return std::unexpected(commit_error(dir, irc) + " (while upgrading " + dir + " from '" +
                               kUpgradableFormat + "' to '" + kFormat + "')");
    MDB_val fv{sizeof kFormat - 1, const_cast<char*>(kFormat)};
    if (int prc = mdb_put(t.get(), s->meta_, &k, &fv, 0); prc != 0)
      return std::unexpected(lmdb_error("init", prc));
  } else if (rc != 0) {
    return std::unexpected(lmdb_error("read format", rc));
  } else if (str(v) != kFormat) {
    return std::unexpected(unreadable_format(dir, str(v)));
  }
  if (int crc = t.commit(); crc != 0) return std::unexpected(lmdb_error("commit", crc));
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
      MDB_val k = val(j->id), v = val(j->bytes);
      rc = mdb_put(txn, jobs_, &k, &v, 0);
      if (rc == 0) {
        std::string ck = created_key(j->created_ns, j->id);
        MDB_val ckv = val(ck), empty{0, nullptr};
        rc = mdb_put(txn, created_, &ckv, &empty, 0);
      }
      if (rc == 0 && !j->finished) {
        MDB_val empty{0, nullptr};
        rc = mdb_put(txn, unfinished_, &k, &empty, 0);
      } else if (rc == 0) {
        rc = mdb_del(txn, unfinished_, &k, nullptr);
        if (rc == MDB_NOTFOUND) rc = 0;
      }
    } else if (auto* b = std::get_if<Batch::PutBlob>(&op)) {
      MDB_val k = val(b->hash), v = val(b->bytes);
      rc = mdb_put(txn, blobs_, &k, &v, MDB_NOOVERWRITE);
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
      std::string value;
      value.push_back(static_cast<char>(l->stream));
      put_be64(value, l->attempt);
      value += l->data;
      MDB_val k = val(key), v = val(value);
      rc = mdb_put(txn, logs_, &k, &v, 0);
    } else if (auto* o = std::get_if<Batch::PutOutput>(&op)) {
      MDB_val k = val(o->key), v = val(o->bytes);
      rc = mdb_put(txn, outputs_, &k, &v, 0);
    } else if (auto* d = std::get_if<Batch::DeleteJob>(&op)) {
      MDB_val k = val(d->id), v;
      if (int urc = mdb_del(txn, unfinished_, &k, nullptr); urc != 0 && urc != MDB_NOTFOUND) {
        rc = urc;
      } else {
        rc = mdb_get(txn, jobs_, &k, &v);
      }
      if (rc == MDB_NOTFOUND) {
        rc = 0;
        continue;
      }
      if (rc == 0) {
        auto job = decode<jobs::Job>(v);
        if (job) {
          std::string ck = created_key(job->created_ns, job->id);
          MDB_val ckv = val(ck);
          mdb_del(txn, created_, &ckv, nullptr);
        }
        rc = mdb_del(txn, jobs_, &k, nullptr);
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
  }
}

std::expected<std::optional<jobs::Job>, std::string> Store::get_job(const std::string& id) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  MDB_val k = val(id), v;
  int rc = mdb_get(t.get(), jobs_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) return std::unexpected(lmdb_error("read", rc));
  auto job = decode<jobs::Job>(v);
  if (!job)
    return std::unexpected("store: the record of job " + id + " in " + dir_ +
                           " is corrupt; remove it with `shoal job delete " + id + "`");
  return std::optional<jobs::Job>(std::move(*job));
}

std::expected<std::string, std::string> Store::resolve_id(const std::string& prefix) {
  if (prefix.empty()) return std::unexpected(std::string("an empty job id"));
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  Cursor c(t.get(), jobs_);
  std::vector<std::string> matches;
  MDB_val k = val(prefix), v;
  for (int rc = c.get(k, v, MDB_SET_RANGE); rc == 0 && matches.size() < 4;
       rc = c.get(k, v, MDB_NEXT)) {
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

namespace {

bool labels_match(const jobs::Job& job, const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : labels) {
    auto it = job.spec.labels.find(key);
    if (it == job.spec.labels.end() || (!value.empty() && it->second != value)) return false;
  }
  return true;
}

// How many ids an id prefix may match for list_jobs to read those jobs
// rather than walk the creation index.
constexpr size_t kPrefixMatchesRead = 256;

}  // namespace

std::expected<std::vector<jobs::Job>, std::string> Store::list_jobs(const ListQuery& q) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  std::vector<jobs::Job> out;
  if (!q.id_prefix.empty()) {
    // Ids sort in the jobs table: when few match the prefix, reading those
    // few (and ordering them) is cheaper than walking every job's creation
    // entry to find them.
    std::vector<std::string> ids;
    Cursor ic(t.get(), jobs_);
    MDB_val k = val(q.id_prefix), v;
    int rc = ic.get(k, v, MDB_SET_RANGE);
    for (; rc == 0 && ids.size() <= kPrefixMatchesRead; rc = ic.get(k, v, MDB_NEXT)) {
      std::string id = str(k);
      if (!id.starts_with(q.id_prefix)) break;
      ids.push_back(std::move(id));
    }
    if (ids.size() <= kPrefixMatchesRead) {
      for (const std::string& id : ids) {
        MDB_val jk = val(id), jv;
        if (mdb_get(t.get(), jobs_, &jk, &jv) != 0) continue;
        auto job = decode<jobs::Job>(jv);
        if (job && labels_match(*job, q.labels)) out.push_back(std::move(*job));
      }
      std::sort(out.begin(), out.end(), [&](const jobs::Job& a, const jobs::Job& b) {
        return q.newest_first ? a.created_ns > b.created_ns : a.created_ns < b.created_ns;
      });
      if (out.size() > q.limit) out.resize(q.limit);
      return out;
    }
  }
  // Newest (or oldest) first along the creation index, reading a job record
  // only when its id matches: without a label filter this reads `limit`
  // records however many jobs are stored.
  Cursor c(t.get(), created_);
  MDB_val k, v;
  MDB_cursor_op first = q.newest_first ? MDB_LAST : MDB_FIRST;
  MDB_cursor_op next = q.newest_first ? MDB_PREV : MDB_NEXT;
  for (int rc = c.get(k, v, first); rc == 0 && out.size() < q.limit; rc = c.get(k, v, next)) {
    std::string id = str(k).substr(8);
    if (!q.id_prefix.empty() && !id.starts_with(q.id_prefix)) continue;
    MDB_val jk = val(id), jv;
    if (mdb_get(t.get(), jobs_, &jk, &jv) != 0) continue;
    auto job = decode<jobs::Job>(jv);
    if (!job) continue;  // get_job names it
    if (labels_match(*job, q.labels)) out.push_back(std::move(*job));
  }
  return out;
}

std::expected<std::vector<jobs::Job>, std::string> Store::unfinished_jobs() {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  std::vector<jobs::Job> out;
  Cursor c(t.get(), unfinished_);
  MDB_val k, v;
  for (int rc = c.get(k, v, MDB_FIRST); rc == 0; rc = c.get(k, v, MDB_NEXT)) {
    MDB_val jv;
    if (mdb_get(t.get(), jobs_, &k, &jv) != 0) continue;
    auto job = decode<jobs::Job>(jv);
    if (!job) continue;  // one damaged record must not hold back the others
    if (!jobs::is_terminal(job->state)) out.push_back(std::move(*job));
  }
  std::sort(out.begin(), out.end(),
            [](const jobs::Job& a, const jobs::Job& b) { return a.created_ns < b.created_ns; });
  return out;
}

std::expected<std::vector<std::string>, std::string> Store::finished_before(int64_t before_ns) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  std::vector<std::string> out;
  Cursor c(t.get(), jobs_);
  MDB_val k, v;
  for (int rc = c.get(k, v, MDB_FIRST); rc == 0; rc = c.get(k, v, MDB_NEXT)) {
    auto job = decode<jobs::Job>(v);
    if (!job) continue;
    if (jobs::is_terminal(job->state) && job->modified_ns < before_ns) out.push_back(job->id);
  }
  return out;
}

std::expected<bool, std::string> Store::has_blob(const std::string& hash) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  MDB_val k = val(hash), v;
  int rc = mdb_get(t.get(), blobs_, &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return std::unexpected(lmdb_error("read", rc));
  return true;
}

std::expected<std::optional<std::string>, std::string> Store::get_blob(const std::string& hash) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  MDB_val k = val(hash), v;
  int rc = mdb_get(t.get(), blobs_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) return std::unexpected(lmdb_error("read", rc));
  return std::optional<std::string>(str(v));
}

std::expected<std::vector<LogChunk>, std::string> Store::read_logs(const std::string& job_id,
                                                                   uint64_t after_seq,
                                                                   uint64_t max_bytes) {
  Txn t(env_, false, &grow_);
  if (t.status() != 0) return std::unexpected(lmdb_error("begin", t.status()));
  std::vector<LogChunk> out;
  uint64_t read = 0;
  std::string prefix = job_id + '\0';
  std::string start = prefix;
  put_be64(start, after_seq + 1);
  Cursor c(t.get(), logs_);
  MDB_val k = val(start), v;
  for (int rc = c.get(k, v, MDB_SET_RANGE); rc == 0; rc = c.get(k, v, MDB_NEXT)) {
    std::string key = str(k);
    if (!key.starts_with(prefix) || key.size() != prefix.size() + 8) break;
    if (v.mv_size < 9) return std::unexpected(std::string("store: a log record is corrupt"));
    const char* p = static_cast<const char*>(v.mv_data);
    LogChunk chunk;
    chunk.seq = get_be64(key.data() + prefix.size());
    chunk.stream = static_cast<Stream>(p[0]);
    chunk.attempt = static_cast<uint32_t>(get_be64(p + 1));
    chunk.data.assign(p + 9, v.mv_size - 9);
    read += chunk.data.size();
    out.push_back(std::move(chunk));
    if (read >= max_bytes) break;
  }
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
  int rc = mdb_get(t.get(), outputs_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) return std::unexpected(lmdb_error("read", rc));
  OutputPart part;
  part.size = v.mv_size;
  if (offset < v.mv_size)
    part.bytes.assign(static_cast<const char*>(v.mv_data) + offset,
                      static_cast<size_t>(std::min<uint64_t>(length, v.mv_size - offset)));
  return part;
}

}  // namespace shoal::broker
