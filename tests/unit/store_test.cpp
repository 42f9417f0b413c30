// The LMDB job store, on a real LMDB environment in a temporary directory.
#include <boost/test/unit_test.hpp>

#include <lmdb.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "broker/lmdb_guard.h"
#include "broker/record.h"
#include "broker/store.h"
#include "protocol/checked_archive.h"
#include "protocol/sha256.h"
#include "protocol/worker_protocol.h"
#include "tests/support/process.h"
#include "tests/support/tmpfs.h"

using namespace shoal;
using broker::Batch;
using broker::Store;
using broker::Stream;

namespace {

jobs::Job make_job(int64_t created, std::string name = "") {
  jobs::Job j;
  j.id = jobs::new_job_id();
  j.created_ns = created;
  j.modified_ns = created;
  j.spec.name = std::move(name);
  j.spec.module_hash = "abc";
  return j;
}

std::unique_ptr<Store> open_store(const std::string& dir) {
  auto s = Store::open(dir);
  BOOST_TEST_REQUIRE(s.has_value(), (s ? "" : s.error()));
  return std::move(*s);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_committed_job_reads_back_after_reopening) {
  test::TempDir d;
  jobs::Job j = make_job(100, "first");
  j.spec.args = {"a", "b"};
  j.exit_code = 3;
  {
    auto s = open_store(d.path());
    Batch b;
    b.put_job(j);
    BOOST_TEST(s->commit(b).has_value());
  }
  auto s = open_store(d.path());
  auto got = s->get_job(j.id);
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST_REQUIRE(got->has_value());
  BOOST_TEST((*got)->spec.name == "first");
  BOOST_TEST(((*got)->spec.args == std::vector<std::string>{"a", "b"}));
  BOOST_TEST(*(*got)->exit_code == 3);
  BOOST_TEST(!s->get_job("j-missing")->has_value());
}

BOOST_AUTO_TEST_CASE(an_uncommitted_batch_changes_nothing) {
  test::TempDir d;
  auto s = open_store(d.path());
  jobs::Job j = make_job(1);
  {
    Batch b;
    b.put_job(j);
  }
  BOOST_TEST(!s->get_job(j.id)->has_value());
}

BOOST_AUTO_TEST_CASE(a_batch_answers_for_the_blobs_it_holds_until_they_are_dropped) {
  Batch b;
  BOOST_TEST(b.blob("h1") == nullptr);
  b.put_job(make_job(1));
  b.put_blob("h1", "module one");
  b.put_blob("h2", "module two");
  BOOST_TEST_REQUIRE(b.blob("h1") != nullptr);
  BOOST_TEST(*b.blob("h1") == "module one");
  BOOST_TEST(*b.blob("h2") == "module two");
  BOOST_TEST(b.blob("h3") == nullptr);
  // A retry keeps job records only: its blobs are gone with the failed commit.
  Batch retry = b.job_records_except({}, "disk full");
  BOOST_TEST(retry.blob("h1") == nullptr);
  BOOST_TEST(retry.size() == 1u);
}

BOOST_AUTO_TEST_CASE(ids_resolve_from_any_unique_prefix) {
  test::TempDir d;
  auto s = open_store(d.path());
  Batch b;
  jobs::Job a = make_job(1), c = make_job(2);
  a.id = "j-aaaa1111";
  c.id = "j-aaaa2222";
  b.put_job(a);
  b.put_job(c);
  BOOST_TEST_REQUIRE(s->commit(b).has_value());
  BOOST_TEST(*s->resolve_id("j-aaaa1") == "j-aaaa1111");
  BOOST_TEST(*s->resolve_id("j-aaaa2222") == "j-aaaa2222");
  BOOST_TEST(s->resolve_id("j-aaaa").error().find("matches several jobs") != std::string::npos);
  BOOST_TEST(s->resolve_id("j-b").error() == "no job matches 'j-b'");
}

BOOST_AUTO_TEST_CASE(list_orders_by_creation_and_filters_labels_and_prefix) {
  test::TempDir d;
  auto s = open_store(d.path());
  Batch b;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    jobs::Job j = make_job(1000 + i, "job" + std::to_string(i));
    if (i % 2) j.spec.labels["team"] = "blue";
    ids.push_back(j.id);
    b.put_job(j);
  }
  BOOST_TEST_REQUIRE(s->commit(b).has_value());
  broker::ListQuery q;
  q.limit = 2;
  auto newest = s->list_jobs(q)->jobs;
  BOOST_TEST_REQUIRE(newest.size() == 2u);
  BOOST_TEST(newest[0].spec.name == "job4");
  BOOST_TEST(newest[1].spec.name == "job3");
  q.newest_first = false;
  BOOST_TEST(s->list_jobs(q)->jobs.front().spec.name == "job0");
  q.limit = 10;
  q.labels = {{"team", "blue"}};
  BOOST_TEST(s->list_jobs(q)->jobs.size() == 2u);
  q.labels.clear();
  q.id_prefix = ids[2];
  BOOST_TEST(s->list_jobs(q)->jobs.size() == 1u);
}

namespace {

// Every job of `q`'s listing, page by page through JobList::next, with
// `between(page)` called after each page (to add jobs meanwhile).
std::vector<std::string> all_pages(Store& s, broker::ListQuery q,
                                   const std::function<void(int)>& between = {}) {
  std::vector<std::string> seen;
  for (int page = 0;; ++page) {
    auto got = s.list_jobs(q);
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST_REQUIRE(got->jobs.size() <= q.limit);
    for (const auto& j : got->jobs) seen.push_back(j.id);
    if (got->next.empty()) return seen;
    BOOST_TEST_REQUIRE(page < 1000);
    q.after = got->next;
    if (between) between(page);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(pages_miss_and_repeat_no_job_while_jobs_are_added) {
  test::TempDir d;
  auto s = open_store(d.path());
  std::vector<std::string> before;  // in creation order
  Batch b;
  for (int i = 0; i < 95; ++i) {
    jobs::Job j = make_job(1000 + i / 3);  // equal creation times: ordered by id
    before.push_back(j.id);
    b.put_job(j);
  }
  BOOST_TEST_REQUIRE(s->commit(b).has_value());
  auto sorted = before;
  std::stable_sort(sorted.begin(), sorted.end(), [&](const std::string& x, const std::string& y) {
    auto ix = std::find(before.begin(), before.end(), x) - before.begin();
    auto iy = std::find(before.begin(), before.end(), y) - before.begin();
    return std::make_pair(ix / 3, x) < std::make_pair(iy / 3, y);
  });
  std::vector<std::string> added;
  int64_t t = 5000;
  auto add_two = [&](int) {
    Batch more;
    for (int i = 0; i < 2; ++i) {
      jobs::Job j = make_job(t++);
      added.push_back(j.id);
      more.put_job(j);
    }
    BOOST_TEST_REQUIRE(s->commit(more).has_value());
  };
  broker::ListQuery q;
  q.limit = 10;
  q.newest_first = false;
  // Oldest first: every job once, those added meanwhile at the end.
  auto seen = all_pages(*s, q, add_two);
  auto expected = sorted;
  expected.insert(expected.end(), added.begin(), added.end());
  BOOST_TEST(seen == expected, boost::test_tools::per_element());
  // Newest first: every job that was there when paging began, once, in
  // reverse; jobs added meanwhile come before the cursor and are not shown.
  std::vector<std::string> there(expected.rbegin(), expected.rend());
  added.clear();
  seen = all_pages(
      *s,
      [] {
        broker::ListQuery n;
        n.limit = 7;
        return n;
      }(),
      add_two);
  BOOST_TEST(seen == there, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_page_reads_a_bounded_number_of_records_and_says_where_to_go_on) {
  test::TempDir d;
  auto s = open_store(d.path());
  Batch b;
  std::vector<std::string> blue;
  for (int i = 0; i < 50; ++i) {
    jobs::Job j = make_job(1000 + i, i % 10 == 0 ? "blue-" + std::to_string(i) : "grey");
    if (i % 10 == 0) blue.push_back(j.id);
    b.put_job(j);
  }
  BOOST_TEST_REQUIRE(s->commit(b).has_value());
  broker::ListQuery q;
  q.limit = 100;
  q.newest_first = false;
  q.name = "blue";
  q.max_reads = 4;
  // 4 records a call: the pages are short or empty, and together exact.
  auto first = s->list_jobs(q);
  BOOST_TEST_REQUIRE(first.has_value());
  BOOST_TEST(first->jobs.size() == 1u);
  BOOST_TEST(!first->next.empty());
  BOOST_TEST(all_pages(*s, q) == blue, boost::test_tools::per_element());
  // The cursor of the last job is not handed out when nothing follows it.
  q.max_reads = SIZE_MAX;
  q.name.clear();
  q.limit = 50;
  BOOST_TEST(s->list_jobs(q)->next.empty());
  q.limit = 49;
  BOOST_TEST(!s->list_jobs(q)->next.empty());
}

BOOST_AUTO_TEST_CASE(a_state_filter_pages_through_unfinished_and_finished_jobs) {
  test::TempDir d;
  auto s = open_store(d.path());
  Batch b;
  std::vector<std::string> running, completed;
  for (int i = 0; i < 30; ++i) {
    jobs::Job j = make_job(1000 + i);
    j.state = i % 3 == 0 ? jobs::JobState::running : jobs::JobState::completed;
    (i % 3 == 0 ? running : completed).push_back(j.id);
    b.put_job(j);
  }
  BOOST_TEST_REQUIRE(s->commit(b).has_value());
  broker::ListQuery q;
  q.limit = 3;
  q.newest_first = false;
  q.states = {jobs::JobState::running, jobs::JobState::queued};
  BOOST_TEST(all_pages(*s, q) == running, boost::test_tools::per_element());
  q.states = {jobs::JobState::completed};
  BOOST_TEST(all_pages(*s, q) == completed, boost::test_tools::per_element());
  q.newest_first = true;
  q.states = {jobs::JobState::running};
  std::vector<std::string> newest(running.rbegin(), running.rend());
  BOOST_TEST(all_pages(*s, q) == newest, boost::test_tools::per_element());
  // An id prefix pages too.
  q.states.clear();
  q.id_prefix = "j-";
  q.limit = 4;
  BOOST_TEST(all_pages(*s, q).size() == 30u);
}

BOOST_AUTO_TEST_CASE(updating_a_job_keeps_one_entry_in_the_listing) {
  test::TempDir d;
  auto s = open_store(d.path());
  jobs::Job j = make_job(5);
  for (int i = 0; i < 3; ++i) {
    Batch b;
    j.revision = static_cast<uint64_t>(i);
    b.put_job(j);
    BOOST_TEST_REQUIRE(s->commit(b).has_value());
  }
  BOOST_TEST(s->list_jobs({})->jobs.size() == 1u);
  BOOST_TEST((*s->get_job(j.id))->revision == 2u);
}

BOOST_AUTO_TEST_CASE(logs_append_in_order_and_read_from_a_sequence_number) {
  test::TempDir d;
  auto s = open_store(d.path());
  Batch b;
  b.append_log("j-1", 1, Stream::stdout_, "one\n");
  b.append_log("j-1", 1, Stream::stderr_, "err\n");
  b.append_log("j-2", 1, Stream::stdout_, "other job\n");
  BOOST_TEST_REQUIRE(s->commit(b).has_value());
  Batch b2;
  b2.append_log("j-1", 2, Stream::stdout_, "two\n");
  BOOST_TEST_REQUIRE(s->commit(b2).has_value());
  auto logs = *s->read_logs("j-1");
  BOOST_TEST_REQUIRE(logs.size() == 3u);
  BOOST_TEST(logs[0].data == "one\n");
  BOOST_TEST((logs[1].stream == Stream::stderr_));
  BOOST_TEST(logs[2].data == "two\n");
  BOOST_TEST(logs[2].attempt == 2u);
  BOOST_TEST(logs[2].seq == 3u);
  auto later = *s->read_logs("j-1", 2);
  BOOST_TEST_REQUIRE(later.size() == 1u);
  BOOST_TEST(later[0].data == "two\n");
}

BOOST_AUTO_TEST_CASE(delete_removes_the_job_its_logs_and_outputs_but_not_blobs) {
  test::TempDir d;
  auto s = open_store(d.path());
  jobs::Job j = make_job(9);
  Batch b;
  b.put_job(j);
  const std::string hash = sha256_hex("module bytes");
  b.put_blob(hash, "module bytes");
  b.append_log(j.id, 1, Stream::stdout_, "x");
  b.put_output(j.id, "outputs", "a/b.txt", "data");
  BOOST_TEST_REQUIRE(s->commit(b).has_value());
  BOOST_TEST(**s->get_output(j.id, "outputs", "a/b.txt") == "data");
  Batch del;
  del.delete_job(j.id);
  BOOST_TEST_REQUIRE(s->commit(del).has_value());
  BOOST_TEST(!s->get_job(j.id)->has_value());
  BOOST_TEST(s->read_logs(j.id)->empty());
  BOOST_TEST(!s->get_output(j.id, "outputs", "a/b.txt")->has_value());
  BOOST_TEST(s->list_jobs({})->jobs.empty());
  BOOST_TEST(**s->get_blob(hash) == "module bytes");
}

BOOST_AUTO_TEST_CASE(a_full_map_grows_instead_of_failing) {
  test::TempDir d;
  auto s = open_store(d.path());
  uint64_t before = s->map_size();
  // 1.5 GiB of distinct blobs in a few commits outgrows the initial 1 GiB map.
  std::string chunk(64 << 20, 'x');
  for (int i = 0; i < 24; ++i) {
    Batch b;
    chunk[0] = static_cast<char>('a' + i);
    b.put_blob(sha256_hex(chunk), chunk);
    auto r = s->commit(b);
    BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error()));
  }
  BOOST_TEST(s->map_size() > before);
  BOOST_TEST((**s->get_blob(sha256_hex(chunk)))[0] == 'a' + 23);
}

BOOST_AUTO_TEST_CASE(a_foreign_file_in_the_store_directory_is_reported) {
  test::TempDir d;
  std::ofstream(d.path() + "/data.mdb") << std::string(8192, 'z');
  auto s = Store::open(d.path());
  BOOST_TEST_REQUIRE(!s.has_value());
  BOOST_TEST(s.error().find("is not a shoal store") != std::string::npos, s.error());
}

BOOST_AUTO_TEST_CASE(unfinished_and_old_finished_jobs_are_found) {
  test::TempDir d;
  auto s = open_store(d.path());
  Batch b;
  jobs::Job queued = make_job(1), done = make_job(2), running = make_job(3);
  queued.state = jobs::JobState::queued;
  done.state = jobs::JobState::completed;
  done.modified_ns = 50;
  running.state = jobs::JobState::running;
  for (auto* j : {&queued, &done, &running}) b.put_job(*j);
  BOOST_TEST_REQUIRE(s->commit(b).has_value());
  auto unfinished = s->unfinished_jobs()->jobs;
  BOOST_TEST_REQUIRE(unfinished.size() == 2u);
  BOOST_TEST(unfinished[0].id == queued.id);
  BOOST_TEST(unfinished[1].id == running.id);
  BOOST_TEST(*s->finished_before(100) == std::vector<std::string>{done.id});
  BOOST_TEST(s->finished_before(10)->empty());
}

// What a full disk, a damaged or foreign file, or a damaged record does to
// the store: each is a clear error, never a crash, and what was stored
// before stays readable.
namespace {

// Writes raw bytes under `key` in the named database of the store in `dir`,
// bypassing Store (as a damaged disk or another program would).
// What a commit that found the disk of `dir` full says: what frees space.
std::string no_space(const std::string& dir) {
  return "store: no space left on the disk of " + dir +
         " (No space left on device); nothing was written; free some space on that disk and "
         "try again (the store's file does not shrink when jobs are removed: `shoal job prune` "
         "makes room inside it for new jobs, and `shoal compact`, with the broker stopped, "
         "gives that room back to the disk)";
}

void put_raw(const std::string& dir, const char* db, const std::string& key,
             const std::string& value) {
  MDB_env* env;
  MDB_txn* txn;
  MDB_dbi dbi;
  BOOST_TEST_REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 8);
  BOOST_TEST_REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
  BOOST_TEST_REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
  BOOST_TEST_REQUIRE(mdb_dbi_open(txn, db, MDB_CREATE, &dbi) == 0);
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v{value.size(), const_cast<char*>(value.data())};
  BOOST_TEST_REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
  BOOST_TEST_REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_full_disk_fails_a_commit_clearly_and_the_store_goes_on_once_space_is_freed,
                     *boost::unit_test::precondition(test::can_mount_tmpfs)) {
  test::Tmpfs disk("8m");
  const std::string dir = disk.path() + "/store";
  auto s = open_store(dir);
  jobs::Job first = make_job(1);
  Batch b;
  b.put_job(first);
  b.append_log(first.id, 1, Stream::stdout_, "kept\n");
  BOOST_TEST_REQUIRE(s->commit(b).has_value());

  disk.fill("filler");
  // Commits of distinct 256 KiB logs until one fails: LMDB reuses free
  // pages first, so the first few may still fit.
  std::string error;
  int committed = 0;
  for (int i = 0; i < 64 && error.empty(); ++i) {
    Batch more;
    jobs::Job j = make_job(100 + i);
    more.put_job(j);
    more.append_log(j.id, 1, Stream::stdout_, std::string(256 << 10, char('a' + i % 26)));
    auto r = s->commit(more);
    if (r)
      ++committed;
    else
      error = r.error();
  }
  BOOST_TEST_MESSAGE("commits before the disk was full: " << committed);
  BOOST_TEST(error == no_space(dir));
  // Everything committed before is still there.
  BOOST_TEST((*s->get_job(first.id))->id == first.id);
  BOOST_TEST(s->read_logs(first.id)->at(0).data == "kept\n");
  broker::ListQuery all;
  all.limit = 1000;
  BOOST_TEST(s->list_jobs(all)->jobs.size() == size_t(committed + 1));

  std::filesystem::remove(disk.path() + "/filler");
  Batch after;
  jobs::Job later = make_job(1000);
  after.put_job(later);
  auto r = s->commit(after);
  BOOST_TEST(r.has_value(), (r ? "" : r.error()));
  BOOST_TEST(s->get_job(later.id)->has_value());
}

BOOST_AUTO_TEST_CASE(a_foreign_lmdb_database_is_refused_and_left_untouched) {
  test::TempDir d;
  put_raw(d.path(), nullptr, "someone_else", "their data");
  auto before = std::filesystem::file_size(d.path() + "/data.mdb");
  auto s = Store::open(d.path());
  BOOST_TEST_REQUIRE(!s.has_value());
  BOOST_TEST(s.error() == "store: " + d.path() +
                              "/data.mdb is an LMDB database of another program (it has no shoal "
                              "format record); move it away or set SHOAL_HOME");
  BOOST_TEST(std::filesystem::file_size(d.path() + "/data.mdb") == before);
}

BOOST_AUTO_TEST_CASE(a_directory_in_place_of_the_data_file_is_named) {
  test::TempDir d;
  std::filesystem::create_directory(d.path() + "/data.mdb");
  auto s = Store::open(d.path());
  BOOST_TEST_REQUIRE(!s.has_value());
  BOOST_TEST(s.error() == "store: " + d.path() + "/data.mdb is not a regular file, so " + d.path() +
                              " is not a shoal store; move it away or set SHOAL_HOME to another "
                              "directory");
}

BOOST_AUTO_TEST_CASE(a_truncated_data_file_is_reported_not_crashed_on) {
  test::TempDir d;
  {
    auto s = open_store(d.path());
    Batch b;
    b.put_job(make_job(1));
    BOOST_TEST_REQUIRE(s->commit(b).has_value());
  }
  std::filesystem::resize_file(d.path() + "/data.mdb", 100);
  auto s = Store::open(d.path());
  BOOST_TEST_REQUIRE(!s.has_value());
  BOOST_TEST(s.error().find("data.mdb is not a shoal store") != std::string::npos, s.error());
}

BOOST_AUTO_TEST_CASE(garbage_in_the_lock_file_is_harmless) {
  test::TempDir d;
  jobs::Job j = make_job(1);
  {
    auto s = open_store(d.path());
    Batch b;
    b.put_job(j);
    BOOST_TEST_REQUIRE(s->commit(b).has_value());
  }
  std::ofstream(d.path() + "/lock.mdb", std::ios::trunc) << std::string(8192, 'z');
  auto s = open_store(d.path());
  BOOST_TEST((*s->get_job(j.id))->id == j.id);
}

// Regression: one_corrupt_record_stopped_recovery_of_every_job. A job
// record that did not decode made unfinished_jobs (the broker's recovery)
// and list_jobs fail as a whole.
BOOST_AUTO_TEST_CASE(one_corrupt_record_stopped_recovery_of_every_job) {
  test::TempDir d;
  jobs::Job queued = make_job(1);
  queued.state = jobs::JobState::queued;
  {
    auto s = open_store(d.path());
    Batch b;
    b.put_job(queued);
    BOOST_TEST_REQUIRE(s->commit(b).has_value());
  }
  put_raw(d.path(), "jobs", "j-damaged", "\x01\x02 not a job record");
  auto s = open_store(d.path());
  auto unfinished = s->unfinished_jobs();
  BOOST_TEST_REQUIRE(unfinished.has_value());
  BOOST_TEST_REQUIRE(unfinished->jobs.size() == 1u);
  BOOST_TEST(unfinished->jobs.at(0).id == queued.id);
  BOOST_TEST(s->list_jobs({})->jobs.size() == 1u);
  auto bad = s->get_job("j-damaged");
  BOOST_TEST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error() == "store: corrupt record jobs/j-damaged in " + d.path() +
                                ": no record header (the bytes were overwritten); `shoal doctor` "
                                "lists the damage and `shoal doctor --repair` removes it");
}

// LMDB maps the file: pages past the end of a truncated file would be
// SIGBUS on first read, so the store checks the length against the header.
BOOST_AUTO_TEST_CASE(a_data_file_truncated_after_its_header_is_refused_not_crashed_on) {
  test::TempDir d;
  {
    auto s = open_store(d.path());
    for (int i = 0; i < 20; ++i) {
      Batch b;
      b.put_blob("blob" + std::to_string(i), std::string(64 << 10, 'b'));
      BOOST_TEST_REQUIRE(s->commit(b).has_value());
    }
  }
  std::filesystem::resize_file(d.path() + "/data.mdb", 3 * 4096);
  auto s = Store::open(d.path());
  BOOST_TEST_REQUIRE(!s.has_value());
  BOOST_TEST(s.error().starts_with("store: " + d.path() +
                                   "/data.mdb is damaged: it is 12288 bytes long but its header "
                                   "uses "),
             s.error());
}

BOOST_AUTO_TEST_CASE(a_failed_batch_keeps_the_job_records_to_try_again_but_not_the_refused) {
  test::TempDir d;
  auto s = open_store(d.path());
  jobs::Job ended = make_job(1), refused = make_job(2);
  Batch failed;
  failed.put_job(ended);
  failed.put_job(refused);
  failed.append_log(ended.id, 1, Stream::stdout_, "dropped\n");
  failed.put_blob("module", "bytes");
  Batch retry = failed.job_records_except({refused.id}, "disk full");
  BOOST_TEST(retry.size() == 1u);
  BOOST_TEST_REQUIRE(s->commit(retry).has_value());
  BOOST_TEST(s->get_job(ended.id)->has_value());
  BOOST_TEST(!s->get_job(refused.id)->has_value());
  BOOST_TEST(s->read_logs(ended.id)->empty());
  BOOST_TEST(!*s->has_blob("module"));
}

BOOST_AUTO_TEST_CASE(a_later_batch_loses_the_refused_jobs_and_follows_the_retried_records) {
  test::TempDir d;
  auto s = open_store(d.path());
  jobs::Job kept = make_job(1), refused = make_job(2);
  Batch failed;
  failed.put_job(kept);
  failed.put_job(refused);
  // Meanwhile, the next batch: both jobs ran and ended, and a module came.
  kept.state = refused.state = jobs::JobState::completed;
  Batch later;
  later.put_job(kept);
  later.put_job(refused);
  later.append_log(kept.id, 1, Stream::stdout_, "kept\n");
  later.append_log(refused.id, 1, Stream::stdout_, "refused\n");
  later.put_output(refused.id, "outputs", "a.txt", "x");
  later.put_blob("module", "bytes");
  Batch again = failed.job_records_except({refused.id}, "disk full");
  again.append(later.without_jobs({refused.id}));
  BOOST_TEST(again.size() == 3u);  // kept once (its later record), its log, the blob
  BOOST_TEST_REQUIRE(again.blob("module") != nullptr);
  BOOST_TEST(*again.blob("module") == "bytes");
  BOOST_TEST_REQUIRE(s->commit(again).has_value());
  auto k = s->get_job(kept.id);
  BOOST_TEST_REQUIRE((k && *k));
  BOOST_TEST(((**k).state == jobs::JobState::completed));  // the later record wins
  BOOST_TEST(!s->get_job(refused.id)->has_value());
  BOOST_TEST(s->read_logs(kept.id)->size() == 1u);
  BOOST_TEST(s->read_logs(refused.id)->empty());
  BOOST_TEST(!s->get_output(refused.id, "outputs", "a.txt")->has_value());
  BOOST_TEST(*s->has_blob("module"));
}

// A job queued, run and ended within one batch is written once, in its
// latest state; a job deleted and then put again in one batch is put again.
BOOST_AUTO_TEST_CASE(a_job_put_several_times_in_a_batch_is_written_once_in_its_latest_state) {
  test::TempDir d;
  auto s = open_store(d.path());
  jobs::Job j = make_job(1), other = make_job(2);
  Batch b;
  b.put_job(j);
  b.put_job(other);
  j.state = jobs::JobState::running;
  b.put_job(j);
  b.append_log(j.id, 1, Stream::stdout_, "out\n");
  j.state = jobs::JobState::completed;
  b.put_job(j);
  BOOST_TEST(b.size() == 3u);  // j once, other, the log
  BOOST_TEST_REQUIRE(s->commit(b).has_value());
  auto got = s->get_job(j.id);
  BOOST_TEST_REQUIRE((got && *got));
  BOOST_TEST(((**got).state == jobs::JobState::completed));
  auto unfinished = s->unfinished_jobs();
  BOOST_TEST_REQUIRE(unfinished.has_value());
  BOOST_TEST(unfinished->jobs.size() == 1u);  // `other` only: j ended
  Batch again;
  again.put_job(j);
  again.delete_job(j.id);
  again.put_job(j);
  BOOST_TEST(again.size() == 3u);
  BOOST_TEST_REQUIRE(s->commit(again).has_value());
  BOOST_TEST(s->get_job(j.id)->has_value());
}

// LMDB reports a write cut short by the full disk as EIO.
BOOST_AUTO_TEST_CASE(a_write_cut_short_by_a_full_disk_is_named_as_no_space,
                     *boost::unit_test::precondition(test::can_mount_tmpfs)) {
  test::Tmpfs disk("8m");
  const std::string dir = disk.path() + "/store";
  auto s = open_store(dir);
  // Room that ends inside one of its writes (LMDB writes up to 256 KiB at once).
  std::ofstream(disk.path() + "/room") << std::string(100 << 10, 'r');
  disk.fill("filler");
  std::filesystem::remove(disk.path() + "/room");
  Batch b;
  b.put_blob("big", std::string(2 << 20, 'b'));
  auto r = s->commit(b);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error() == no_space(dir), r.error());
  BOOST_TEST(!*s->has_blob("big"));
}

// The index of unfinished jobs, which recovery reads instead of every job.
namespace {

std::vector<std::string> unfinished_ids(Store& s) {
  auto jobs = s.unfinished_jobs();
  BOOST_TEST_REQUIRE(jobs.has_value(), (jobs ? "" : jobs.error()));
  std::vector<std::string> ids;
  for (const jobs::Job& j : jobs->jobs) ids.push_back(j.id);
  return ids;
}

broker::ListQuery query(size_t limit, std::string id_prefix = "",
                        std::map<std::string, std::string> labels = {}, bool newest_first = true) {
  broker::ListQuery q;
  q.limit = limit;
  q.id_prefix = std::move(id_prefix);
  q.labels = std::move(labels);
  q.newest_first = newest_first;
  return q;
}

// Counts the entries of a database of the store in `dir` (no Store open).
size_t raw_entries(const std::string& dir, const char* db) {
  MDB_env* env;
  MDB_txn* txn;
  MDB_dbi dbi;
  MDB_stat st{};
  BOOST_TEST_REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 8);
  BOOST_TEST_REQUIRE(mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0600) == 0);
  BOOST_TEST_REQUIRE(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0);
  BOOST_TEST_REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
  BOOST_TEST_REQUIRE(mdb_stat(txn, dbi, &st) == 0);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return st.ms_entries;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_unfinished_index_follows_each_state_change_and_deletion) {
  test::TempDir d;
  jobs::Job a = make_job(10), b = make_job(20), c = make_job(30);
  a.state = jobs::JobState::queued;
  b.state = jobs::JobState::pending;
  c.state = jobs::JobState::completed;
  {
    auto s = open_store(d.path());
    Batch batch;
    for (auto* j : {&c, &b, &a}) batch.put_job(*j);
    BOOST_TEST_REQUIRE(s->commit(batch).has_value());
    BOOST_TEST(unfinished_ids(*s) == (std::vector<std::string>{a.id, b.id}));

    a.state = jobs::JobState::running;
    b.state = jobs::JobState::failed;
    batch = Batch();
    batch.put_job(a);
    batch.put_job(b);
    BOOST_TEST_REQUIRE(s->commit(batch).has_value());
    BOOST_TEST(unfinished_ids(*s) == std::vector<std::string>{a.id});

    // A finished job submitted again (a retry keeps its id) is unfinished again.
    c.state = jobs::JobState::queued;
    batch = Batch();
    batch.put_job(c);
    BOOST_TEST_REQUIRE(s->commit(batch).has_value());
    BOOST_TEST(unfinished_ids(*s) == (std::vector<std::string>{a.id, c.id}));

    batch = Batch();
    batch.delete_job(c.id);
    BOOST_TEST_REQUIRE(s->commit(batch).has_value());
    BOOST_TEST(unfinished_ids(*s) == std::vector<std::string>{a.id});
  }
  // The index holds exactly the unfinished ids: nothing stale is left behind.
  BOOST_TEST(raw_entries(d.path(), "unfinished") == 1u);
  BOOST_TEST(raw_entries(d.path(), "jobs") == 2u);
}

BOOST_AUTO_TEST_CASE(pruning_finished_jobs_leaves_the_unfinished_index_exact) {
  test::TempDir d;
  auto s = open_store(d.path());
  Batch batch;
  std::vector<std::string> running;
  for (int i = 0; i < 20; ++i) {
    jobs::Job j = make_job(100 + i);
    j.state = i % 4 == 0 ? jobs::JobState::running : jobs::JobState::completed;
    j.modified_ns = 100 + i;
    if (j.state == jobs::JobState::running) running.push_back(j.id);
    batch.put_job(j);
  }
  BOOST_TEST_REQUIRE(s->commit(batch).has_value());
  auto old = s->finished_before(1000);
  BOOST_TEST_REQUIRE(old.has_value());
  BOOST_TEST(old->size() == 15u);
  batch = Batch();
  for (const std::string& id : *old) batch.delete_job(id);
  BOOST_TEST_REQUIRE(s->commit(batch).has_value());
  BOOST_TEST(unfinished_ids(*s) == running);
  BOOST_TEST(s->list_jobs(query(100))->jobs.size() == 5u);
}

BOOST_AUTO_TEST_CASE(jobs_running_when_the_broker_died_are_found_after_reopening) {
  test::TempDir d;
  jobs::Job running = make_job(1), done = make_job(2);
  running.state = jobs::JobState::running;
  done.state = jobs::JobState::completed;
  {
    // A broker killed mid-work: this child commits, then dies without closing
    // the store.
    pid_t pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
      auto s = Store::open(d.path());
      if (!s) ::_exit(1);
      Batch batch;
      batch.put_job(running);
      batch.put_job(done);
      if (!(*s)->commit(batch)) ::_exit(2);
      ::kill(::getpid(), SIGKILL);
      ::_exit(3);
    }
    int status = 0;
    BOOST_TEST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST_REQUIRE(WIFSIGNALED(status));
    BOOST_TEST(WTERMSIG(status) == SIGKILL);
  }
  auto s = open_store(d.path());
  auto unfinished = s->unfinished_jobs();
  BOOST_TEST_REQUIRE(unfinished.has_value());
  BOOST_TEST_REQUIRE(unfinished->jobs.size() == 1u);
  BOOST_TEST(unfinished->jobs.at(0).id == running.id);
  BOOST_TEST((unfinished->jobs.at(0).state == jobs::JobState::running));
}

BOOST_AUTO_TEST_CASE(a_store_of_the_previous_format_is_upgraded_with_its_unfinished_jobs) {
  test::TempDir d;
  jobs::Job queued = make_job(1), done = make_job(2);
  queued.state = jobs::JobState::queued;
  done.state = jobs::JobState::completed;
  {
    auto s = open_store(d.path());
    Batch batch;
    batch.put_job(queued);
    batch.put_job(done);
    BOOST_TEST_REQUIRE(s->commit(batch).has_value());
  }
  // What the previous format looked like: no index, its format string.
  put_raw(d.path(), "meta", "format", "shoal-store 2");
  {
    MDB_env* env;
    MDB_txn* txn;
    MDB_dbi dbi;
    BOOST_TEST_REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 8);
    BOOST_TEST_REQUIRE(mdb_env_open(env, d.path().c_str(), 0, 0600) == 0);
    BOOST_TEST_REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    BOOST_TEST_REQUIRE(mdb_dbi_open(txn, "unfinished", 0, &dbi) == 0);
    BOOST_TEST_REQUIRE(mdb_drop(txn, dbi, 1) == 0);
    BOOST_TEST_REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
  }
  auto s = open_store(d.path());
  BOOST_TEST(unfinished_ids(*s) == std::vector<std::string>{queued.id});
}

namespace {

// What Store::open says of a store whose format record reads `format`.
std::string refusal_of_format(const test::TempDir& d, const std::string& format) {
  { open_store(d.path()); }
  put_raw(d.path(), "meta", "format", format);
  auto s = Store::open(d.path());
  BOOST_TEST_REQUIRE(!s.has_value());
  return s.error();
}

// How every such refusal ends.
std::string what_to_do(const test::TempDir& d) {
  return ". Move " + d.path() +
         " away, or set SHOAL_HOME to another directory, to start a new store";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_store_of_an_unknown_format_is_refused) {
  test::TempDir d;
  BOOST_TEST(refusal_of_format(d, "shoal-store 1") ==
             "store: " + d.path() +
                 " holds 'shoal-store 1'; this shoal reads 'shoal-store 7' and upgrades "
                 "'shoal-store 2' to 'shoal-store 6' only: an older shoal wrote it, and this one "
                 "cannot read its "
                 "jobs" +
                 what_to_do(d));
}

BOOST_AUTO_TEST_CASE(a_store_of_a_newer_format_says_which_shoal_to_run) {
  test::TempDir d;
  BOOST_TEST(refusal_of_format(d, "shoal-store 9") ==
             "store: " + d.path() +
                 " holds 'shoal-store 9'; this shoal reads 'shoal-store 7': a newer shoal wrote "
                 "it; run that version" +
                 what_to_do(d));
}

BOOST_AUTO_TEST_CASE(a_store_of_a_foreign_format_record_is_refused) {
  test::TempDir d;
  BOOST_TEST(refusal_of_format(d, "kv 7") ==
             "store: " + d.path() +
                 " holds 'kv 7'; this shoal reads 'shoal-store 7' (a store from another version "
                 "of shoal?)" +
                 what_to_do(d));
}

BOOST_AUTO_TEST_CASE(a_damaged_record_named_by_the_unfinished_index_is_skipped) {
  test::TempDir d;
  jobs::Job queued = make_job(1);
  queued.state = jobs::JobState::queued;
  {
    auto s = open_store(d.path());
    Batch b;
    b.put_job(queued);
    BOOST_TEST_REQUIRE(s->commit(b).has_value());
  }
  put_raw(d.path(), "jobs", "j-damaged", "\x01\x02 not a job record");
  put_raw(d.path(), "unfinished", "j-damaged", "");
  put_raw(d.path(), "unfinished", "j-gone", "");
  auto s = open_store(d.path());
  BOOST_TEST(unfinished_ids(*s) == std::vector<std::string>{queued.id});
}

BOOST_AUTO_TEST_CASE(an_id_prefix_lists_its_matches_in_creation_order_either_way) {
  test::TempDir d;
  auto s = open_store(d.path());
  Batch b;
  // Ids that sort the other way round from their creation times.
  std::vector<std::string> ids = {"j-ab3", "j-ab2", "j-ab1", "j-cd1"};
  for (size_t i = 0; i < ids.size(); ++i) {
    jobs::Job j = make_job(static_cast<int64_t>(100 + i), "job" + std::to_string(i));
    j.id = ids[i];
    if (i == 1) j.spec.labels["team"] = "blue";
    b.put_job(j);
  }
  BOOST_TEST_REQUIRE(s->commit(b).has_value());
  auto names = [&](broker::ListQuery q) {
    std::vector<std::string> out;
    auto jobs = s->list_jobs(q);
    BOOST_TEST_REQUIRE(jobs.has_value());
    for (const jobs::Job& j : jobs->jobs) out.push_back(j.spec.name);
    return out;
  };
  BOOST_TEST(names(query(10, "j-ab")) == (std::vector<std::string>{"job2", "job1", "job0"}));
  BOOST_TEST(names(query(2, "j-ab", {}, false)) == (std::vector<std::string>{"job0", "job1"}));
  BOOST_TEST(names(query(10, "j-ab", {{"team", ""}})) == std::vector<std::string>{"job1"});
  BOOST_TEST(names(query(10, "j-x")).empty());
}

BOOST_AUTO_TEST_CASE(an_id_prefix_matching_many_jobs_lists_the_newest) {
  test::TempDir d;
  auto s = open_store(d.path());
  Batch b;
  std::vector<std::string> ids;
  for (int i = 0; i < 600; ++i) {
    jobs::Job j = make_job(1000 + i);
    ids.push_back(j.id);
    b.put_job(j);
  }
  BOOST_TEST_REQUIRE(s->commit(b).has_value());
  auto got = s->list_jobs(query(3, "j-"));
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST_REQUIRE(got->jobs.size() == 3u);
  BOOST_TEST(got->jobs.at(0).id == ids[599]);
  BOOST_TEST(got->jobs.at(1).id == ids[598]);
  BOOST_TEST(got->jobs.at(2).id == ids[597]);
}

// Damage: the bounded decoder, the record frame, and what the store says.
namespace {

// The value of `key` in table `db` of the store in `dir` (no Store open).
std::string get_raw(const std::string& dir, const char* db, const std::string& key) {
  MDB_env* env;
  MDB_txn* txn;
  MDB_dbi dbi;
  BOOST_TEST_REQUIRE(mdb_env_create(&env) == 0);
  mdb_env_set_maxdbs(env, 8);
  BOOST_TEST_REQUIRE(mdb_env_open(env, dir.c_str(), 0, 0600) == 0);
  BOOST_TEST_REQUIRE(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0);
  BOOST_TEST_REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v;
  BOOST_TEST_REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
  std::string out(static_cast<const char*>(v.mv_data), v.mv_size);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return out;
}

// Flips one bit of the value of `key`, `from_end` bytes before its end.
void flip(const std::string& dir, const char* db, const std::string& key, size_t from_end = 1) {
  std::string v = get_raw(dir, db, key);
  v[v.size() - from_end] ^= 0x10;
  put_raw(dir, db, key, v);
}

std::string doctor_advice() {
  return "; `shoal doctor` lists the damage and `shoal doctor --repair` removes it";
}

jobs::Job job_with_execution(int64_t created) {
  jobs::Job j = make_job(created, "named");
  j.state = jobs::JobState::completed;
  j.executions.push_back({});
  j.executions.back().id = "e-1";
  j.executions.back().state = jobs::JobState::completed;
  j.history.push_back({created, "Submission", "job submitted"});
  return j;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_length_larger_than_the_bytes_left_is_an_error_not_an_allocation) {
  jobs::Job j = job_with_execution(1);
  std::string bytes = wire::encode(j);
  // The executions' length follows the fields before it; find it by
  // encoding a job with a recognisable count instead.
  j.executions.resize(3);
  std::string three = wire::encode(j);
  const std::string count_of_3("\x03\0\0\0\0\0\0\0", 8);
  // The count, then the first execution's id, "e-1", with its length.
  size_t at = three.find(count_of_3 + count_of_3 + "e-1");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  // 112,968,880 elements: what a flipped bit once made cereal allocate.
  uint64_t huge = 112'968'880;
  std::memcpy(three.data() + at, &huge, 8);
  auto got = wire::decode_exact<jobs::Job>(three);
  BOOST_TEST_REQUIRE(!got.has_value());
  BOOST_TEST(got.error() == "a length of 112968880 at offset " + std::to_string(at) +
                                " exceeds the " + std::to_string(three.size() - at - 8) +
                                " bytes left");
  // A string's length too.
  std::string id_len = bytes;
  id_len[0] = '\x7f';
  id_len[5] = '\x01';
  BOOST_TEST(!wire::decode_exact<jobs::Job>(id_len).has_value());
}

BOOST_AUTO_TEST_CASE(every_truncation_and_any_extra_byte_of_a_record_is_refused) {
  jobs::Job job = job_with_execution(1);
  job.spec.meta = {{"owner", "ana"}};
  job.spec.stdout_limit = 1024;
  const std::string bytes = wire::encode(job);
  // Where records of store formats 4 and 5 end: the fields added since
  // follow (jobs::Job), and a record that ends there is read as one of that
  // format (in the store, a record's frame catches a truncation: record.h).
  const size_t format_5_end = bytes.size() - 2 * sizeof(uint64_t);
  const size_t format_4_end = format_5_end - wire::encode(job.spec.meta).size();
  for (size_t n = 0; n < bytes.size(); ++n)
    if (n != format_4_end && n != format_5_end)
      BOOST_TEST(!wire::decode_exact<jobs::Job>(std::string_view(bytes).substr(0, n)).has_value());
  auto longer = wire::decode_exact<jobs::Job>(bytes + "x");
  BOOST_TEST_REQUIRE(!longer.has_value());
  // The extra byte is where format 7's fields would begin: too short for them.
  BOOST_TEST(longer.error() ==
             "needs 8 bytes at offset " + std::to_string(bytes.size()) + ", 1 left");
  auto exact = wire::decode_exact<jobs::Job>(bytes);
  BOOST_TEST_REQUIRE(exact.has_value());
  BOOST_TEST(exact->executions.at(0).id == "e-1");
  BOOST_TEST(exact->spec.stdout_limit == 1024u);
  // Limits without meta: meta is written (empty) before them.
  job.spec.meta.clear();
  auto limits_only = wire::decode_exact<jobs::Job>(wire::encode(job));
  BOOST_TEST_REQUIRE(limits_only.has_value());
  BOOST_TEST(limits_only->spec.stdout_limit == 1024u);
  BOOST_TEST(limits_only->spec.meta.empty());
  // The wire's decode reads a prefix and checks lengths the same way.
  BOOST_TEST(!wire::decode<jobs::Job>(bytes.data(), bytes.size() - 1).has_value());
}

// Format 7: which inputs are read-write, after the limits (written, empty,
// when only an input is read-write); a record that ends before reads them
// all read-only.
BOOST_AUTO_TEST_CASE(read_write_inputs_are_kept_at_the_end_of_a_record) {
  jobs::Job job = job_with_execution(1);
  job.spec.inputs = {{"/data/a", "/inputs/a"}, {"/data/b", "/"}};
  const std::string read_only = wire::encode(job);
  job.spec.inputs[1].read_write = true;
  const std::string bytes = wire::encode(job);
  BOOST_TEST(bytes.size() > read_only.size());
  auto got = wire::decode_exact<jobs::Job>(bytes);
  BOOST_TEST_REQUIRE(got.has_value(), got.error());
  BOOST_TEST_REQUIRE(got->spec.inputs.size() == 2u);
  BOOST_TEST(!got->spec.inputs[0].read_write);
  BOOST_TEST(got->spec.inputs[1].read_write);
  BOOST_TEST(got->spec.meta.empty());
  BOOST_TEST(got->spec.stdout_limit == 0u);
  auto old = wire::decode_exact<jobs::Job>(read_only);
  BOOST_TEST_REQUIRE(old.has_value());
  BOOST_TEST(!old->spec.inputs[1].read_write);
}

BOOST_AUTO_TEST_CASE(a_job_record_of_store_format_4_loads_with_the_fields_added_since_empty) {
  jobs::Job job = job_with_execution(1);
  job.spec.meta = {{"owner", "ana"}};
  const std::string bytes = wire::encode(job);
  const std::string format_4 = bytes.substr(0, bytes.size() - wire::encode(job.spec.meta).size());
  auto old = wire::decode_exact<jobs::Job>(format_4);
  BOOST_TEST_REQUIRE(old.has_value(), old.error());
  BOOST_TEST(old->spec.meta.empty());
  BOOST_TEST(old->executions.at(0).id == "e-1");
  // A job that sets none of the fields added since is written as format 4
  // wrote it, so that an older shoal reads it.
  jobs::Job plain = job;
  plain.spec.meta.clear();
  BOOST_TEST(wire::encode(plain) == format_4);
  auto now = wire::decode_exact<jobs::Job>(bytes);
  BOOST_TEST_REQUIRE(now.has_value(), now.error());
  BOOST_TEST(now->spec.meta.at("owner") == "ana");
}

BOOST_AUTO_TEST_CASE(a_record_frame_catches_any_flipped_bit_and_a_moved_value) {
  const std::string key = "j-key", payload = "some payload bytes";
  const std::string sealed = broker::record::seal(key, payload);
  BOOST_TEST(sealed.size() == broker::record::kHeader + payload.size());
  auto opened = broker::record::open(key, sealed, false);
  BOOST_TEST_REQUIRE(opened.has_value());
  BOOST_TEST(opened->payload == payload);
  BOOST_TEST(!opened->legacy);
  for (size_t i = 0; i < sealed.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = sealed;
      damaged[i] ^= static_cast<char>(1 << bit);
      BOOST_TEST(!broker::record::open(key, damaged, false).has_value());
    }
  auto moved = broker::record::open("j-kez", sealed, false);
  BOOST_TEST_REQUIRE(!moved.has_value());
  BOOST_TEST(moved.error() == "checksum mismatch (the bytes changed after they were written)");
  // A value without the mark: a record of an older shoal, or overwritten bytes.
  auto old = broker::record::open(key, payload, true);
  BOOST_TEST_REQUIRE(old.has_value());
  BOOST_TEST(old->legacy);
  BOOST_TEST(broker::record::open(key, payload, false).error() ==
             "no record header (the bytes were overwritten)");
}

BOOST_AUTO_TEST_CASE(a_damaged_job_record_is_named_by_get_list_and_check_and_removed_by_repair) {
  test::TempDir d;
  jobs::Job good = job_with_execution(1), bad = job_with_execution(2);
  {
    auto s = open_store(d.path());
    Batch b;
    b.put_job(good);
    b.put_job(bad);
    b.append_log(bad.id, 1, Stream::stdout_, "bad's output\n");
    b.put_output(bad.id, "outputs", "a.txt", "x");
    BOOST_TEST_REQUIRE(s->commit(b).has_value());
  }
  flip(d.path(), "jobs", bad.id);
  auto s = open_store(d.path());
  const std::string why = "checksum mismatch (the bytes changed after they were written)";
  auto got = s->get_job(bad.id);
  BOOST_TEST_REQUIRE(!got.has_value());
  BOOST_TEST(got.error() == "store: corrupt record jobs/" + bad.id + " in " + d.path() + ": " +
                                why + doctor_advice());
  auto list = s->list_jobs(query(10));
  BOOST_TEST_REQUIRE(list.has_value());
  BOOST_TEST_REQUIRE(list->jobs.size() == 1u);
  BOOST_TEST(list->jobs[0].id == good.id);
  BOOST_TEST_REQUIRE(list->skipped.size() == 1u);
  BOOST_TEST(list->skipped[0].key == "jobs/" + bad.id);
  BOOST_TEST(list->skipped[0].why == why);

  auto report = s->check();
  BOOST_TEST_REQUIRE(report.has_value());
  BOOST_TEST_REQUIRE(report->damage.size() == 1u);
  BOOST_TEST(report->damage[0].key == "jobs/" + bad.id);
  BOOST_TEST(report->records.at("jobs") == 2u);
  BOOST_TEST(report->records.at("logs") == 1u);

  s.reset();
  auto repaired = Store::repair(d.path());
  BOOST_TEST_REQUIRE(repaired.has_value(), (repaired ? "" : repaired.error()));
  BOOST_TEST(repaired->damage.size() == 1u);
  BOOST_TEST(!std::filesystem::exists(d.path() + "/repair.tmp"));
  s = open_store(d.path());
  BOOST_TEST(s->check()->damage.empty());
  BOOST_TEST(s->check()->records.at("logs") == 0u);
  BOOST_TEST(s->check()->records.at("outputs") == 0u);
  BOOST_TEST(s->check()->records.at("created") == 1u);
  list = s->list_jobs(query(10));
  BOOST_TEST(list->jobs.size() == 1u);
  BOOST_TEST(list->skipped.empty());
}

BOOST_AUTO_TEST_CASE(a_damaged_blob_is_named_by_its_hash_and_never_returned) {
  test::TempDir d;
  const std::string module("\0asm\1\0\0\0 module bytes", 21);
  const std::string hash = sha256_hex(module);
  {
    auto s = open_store(d.path());
    Batch b;
    b.put_blob(hash, module);
    BOOST_TEST_REQUIRE(s->commit(b).has_value());
  }
  BOOST_TEST_REQUIRE(**open_store(d.path())->get_blob(hash) == module);
  flip(d.path(), "blobs", hash, 3);
  auto s = open_store(d.path());
  auto got = s->get_blob(hash);
  BOOST_TEST_REQUIRE(!got.has_value());
  BOOST_TEST(got.error() ==
             "store: the module or input with SHA-256 " + hash +
                 " is damaged: corrupt record blobs/" + hash + " in " + d.path() +
                 ": its bytes do not match their SHA-256; `shoal doctor --repair` removes it, and "
                 "sending the module again stores it afresh");
  auto report = s->check();
  BOOST_TEST_REQUIRE(report->damage.size() == 1u);
  BOOST_TEST(report->damage[0].key == "blobs/" + hash);
  s.reset();
  BOOST_TEST(Store::repair(d.path()).has_value());
  s = open_store(d.path());
  BOOST_TEST(!*s->has_blob(hash));
}

BOOST_AUTO_TEST_CASE(a_damaged_log_chunk_or_output_file_is_an_error_naming_it) {
  test::TempDir d;
  jobs::Job j = job_with_execution(1);
  j.output_files.push_back({"outputs", "a.txt", 5});
  {
    auto s = open_store(d.path());
    Batch b;
    b.put_job(j);
    b.append_log(j.id, 1, Stream::stdout_, "line\n");
    b.put_output(j.id, "outputs", "a.txt", "hello");
    BOOST_TEST_REQUIRE(s->commit(b).has_value());
  }
  std::string log_key = j.id + '\0';
  log_key += std::string("\0\0\0\0\0\0\0\1", 8);
  flip(d.path(), "logs", log_key);
  flip(d.path(), "outputs", j.id + '\0' + "outputs" + '\0' + "a.txt");
  auto s = open_store(d.path());
  const std::string why = ": checksum mismatch (the bytes changed after they were written)";
  BOOST_TEST(s->read_logs(j.id).error() ==
             "store: corrupt record logs/" + j.id + "/1 in " + d.path() + why + doctor_advice());
  BOOST_TEST(s->get_output(j.id, "outputs", "a.txt").error() ==
             "store: corrupt record outputs/" + j.id + "/outputs/a.txt in " + d.path() + why +
                 doctor_advice());
  BOOST_TEST(s->check()->damage.size() == 2u);
  s.reset();
  BOOST_TEST(Store::repair(d.path()).has_value());
  s = open_store(d.path());
  // The job stays, and says which output the repair removed.
  auto after = s->get_job(j.id);
  BOOST_TEST_REQUIRE((after && *after));
  BOOST_TEST((**after).output_files.empty());
  BOOST_TEST(
      (**after).outputs_message ==
      "output outputs/a.txt was damaged in the store and removed by `shoal doctor --repair`");
  BOOST_TEST(s->read_logs(j.id)->empty());
  BOOST_TEST(s->check()->damage.empty());
}

// A store of format 4 is the same store without the fields added since: it
// is marked format 5 on open, and its records stay checked by their frame.
BOOST_AUTO_TEST_CASE(a_store_of_format_4_opens_as_format_7_with_its_records_still_checked) {
  test::TempDir d;
  jobs::Job j = job_with_execution(1);
  {
    auto s = open_store(d.path());
    Batch b;
    b.put_job(j);
    BOOST_TEST_REQUIRE(s->commit(b).has_value());
  }
  put_raw(d.path(), "meta", "format", "shoal-store 4");
  auto s = open_store(d.path());
  BOOST_TEST(get_raw(d.path(), "meta", "format") == "shoal-store 7");
  auto got = s->get_job(j.id);
  BOOST_TEST_REQUIRE((got && *got));
  BOOST_TEST((**got).spec.name == "named");
  auto report = s->check();
  BOOST_TEST(report->damage.empty());
  BOOST_TEST(report->legacy == 0u);
}

// Stores written before records had a frame: read as they are, framed when
// written again; a store created framed accepts no unframed record.
BOOST_AUTO_TEST_CASE(records_of_a_store_of_the_previous_format_are_read_without_a_checksum) {
  test::TempDir d;
  jobs::Job old = job_with_execution(1);
  { open_store(d.path()); }
  put_raw(d.path(), "meta", "format", "shoal-store 3");
  put_raw(d.path(), "jobs", old.id, wire::encode(old));
  put_raw(d.path(), "created", std::string(8, '\0') + old.id, "");
  {
    auto s = open_store(d.path());
    auto got = s->get_job(old.id);
    BOOST_TEST_REQUIRE((got && *got));
    BOOST_TEST((**got).spec.name == "named");
    auto report = s->check();
    BOOST_TEST(report->damage.empty());
    BOOST_TEST(report->legacy == 1u);
    Batch b;
    b.put_job(**got);
    BOOST_TEST_REQUIRE(s->commit(b).has_value());
    BOOST_TEST(s->check()->legacy == 0u);
  }
  BOOST_TEST(get_raw(d.path(), "meta", "format") == "shoal-store 7");
  // The same unframed record in a store that never held one is damage.
  test::TempDir fresh;
  { open_store(fresh.path()); }
  put_raw(fresh.path(), "jobs", old.id, wire::encode(old));
  auto s = open_store(fresh.path());
  BOOST_TEST(s->get_job(old.id).error() ==
             "store: corrupt record jobs/" + old.id + " in " + fresh.path() +
                 ": no record header (the bytes were overwritten)" + doctor_advice());
}

// Regression: a_full_disk_left_a_job_listing_an_output_the_store_lacks. The
// retry of a failed commit kept the job's record, listing its output files,
// but not the files.
BOOST_AUTO_TEST_CASE(a_retried_record_whose_outputs_were_dropped_says_they_were_lost) {
  test::TempDir d;
  auto s = open_store(d.path());
  jobs::Job j = job_with_execution(1);
  j.output_files.push_back({"outputs", "a.txt", 3});
  Batch failed;
  failed.put_job(j);
  failed.put_output(j.id, "outputs", "a.txt", "abc");
  failed.append_log(j.id, 1, Stream::stdout_, "out\n");
  BOOST_TEST_REQUIRE(s->commit(failed.job_records_except({}, "no space")).has_value());
  auto got = s->get_job(j.id);
  BOOST_TEST_REQUIRE((got && *got));
  BOOST_TEST((**got).output_files.empty());
  const std::string lost =
      "the job's 1 output files (3 bytes) were lost: they could not be stored (no space)";
  BOOST_TEST((**got).outputs_message == lost);
  BOOST_TEST_REQUIRE((**got).history.size() == 3u);
  BOOST_TEST((**got).history[1].message == lost);
  BOOST_TEST((**got).history[2].message ==
             "1 chunks of the job's stdout/stderr were lost: they could not be stored (no space)");
}

BOOST_AUTO_TEST_CASE(compact_gives_the_room_of_removed_jobs_back_to_the_disk) {
  test::TempDir d;
  jobs::Job kept = job_with_execution(1);
  {
    auto s = open_store(d.path());
    Batch b;
    b.put_job(kept);
    std::vector<std::string> removed;
    for (int i = 0; i < 20; ++i) {
      jobs::Job j = job_with_execution(2 + i);
      b.put_job(j);
      b.put_output(j.id, "outputs", "big", std::string(256 << 10, 'o'));
      removed.push_back(j.id);
    }
    BOOST_TEST_REQUIRE(s->commit(b).has_value());
    Batch del;
    for (const auto& id : removed) del.delete_job(id);
    BOOST_TEST_REQUIRE(s->commit(del).has_value());
  }
  auto sizes = Store::compact(d.path());
  BOOST_TEST_REQUIRE(sizes.has_value(), (sizes ? "" : sizes.error()));
  BOOST_TEST(sizes->before ==
             std::filesystem::file_size(d.path() + "/data.mdb") + (sizes->before - sizes->after));
  BOOST_TEST(sizes->after < sizes->before / 4, sizes->after << " of " << sizes->before);
  BOOST_TEST(!std::filesystem::exists(d.path() + "/compact.tmp"));
  auto s = open_store(d.path());
  BOOST_TEST((*s->get_job(kept.id))->id == kept.id);
  BOOST_TEST(s->check()->damage.empty());
}

// The guard around LMDB calls: a fault or a failed assertion inside a
// guarded call is MDB_CORRUPTED, and the process goes on.
BOOST_AUTO_TEST_CASE(a_fault_or_an_lmdb_assertion_inside_a_guarded_call_is_mdb_corrupted) {
  broker::lmdb_guard::install();
  void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  BOOST_TEST_REQUIRE(page != MAP_FAILED);
  const unsigned before = broker::lmdb_guard::state().faults;
  int rc = broker::lmdb_guard::guarded([&] { return *static_cast<volatile int*>(page); });
  BOOST_TEST(rc == MDB_CORRUPTED);
  rc = broker::lmdb_guard::guarded([] {
    broker::lmdb_guard::on_assert(nullptr, "IS_LEAF(mp)");
    return 0;
  });
  BOOST_TEST(rc == MDB_CORRUPTED);
  BOOST_TEST(broker::lmdb_guard::state().faults == before + 2);
  // Outside a fault, the call's own status.
  BOOST_TEST(broker::lmdb_guard::guarded([] { return MDB_NOTFOUND; }) == MDB_NOTFOUND);
  ::munmap(page, 4096);
}
