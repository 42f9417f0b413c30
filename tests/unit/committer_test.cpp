// The committer: batches committed on a thread of its own while the
// calling thread goes on reading the same store, on a real LMDB
// environment.
#include <boost/test/unit_test.hpp>

#include <poll.h>

#include <atomic>
#include <string>

#include "broker/committer.h"
#include "protocol/sha256.h"
#include "tests/support/process.h"
#include "tests/support/tmpfs.h"

using namespace shoal;
using broker::Batch;
using broker::Committer;
using broker::Store;

namespace {

std::unique_ptr<Store> open_store(const std::string& dir) {
  auto s = Store::open(dir);
  BOOST_TEST_REQUIRE(s.has_value(), (s ? "" : s.error()));
  return std::move(*s);
}

jobs::Job make_job(int64_t created) {
  jobs::Job j;
  j.id = jobs::new_job_id();
  j.created_ns = j.modified_ns = created;
  j.spec.module_hash = "abc";
  return j;
}

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_commit_signals_its_end_and_hands_its_batch_back) {
  test::TempDir d;
  auto s = open_store(d.path());
  Committer c(*s);
  BOOST_TEST(!c.busy());
  BOOST_TEST(c.batch() == nullptr);
  BOOST_TEST(!readable(c.fd(), 0));

  jobs::Job j = make_job(1);
  Batch b;
  b.put_job(j);
  b.put_blob("module", "bytes");
  c.start(std::move(b));
  BOOST_TEST(c.busy());
  // The batch stays readable while it is committed (a module it holds).
  BOOST_TEST_REQUIRE(c.batch() != nullptr);
  BOOST_TEST_REQUIRE(c.batch()->blob("module") != nullptr);
  BOOST_TEST(*c.batch()->blob("module") == "bytes");

  BOOST_TEST_REQUIRE(readable(c.fd(), 10000));
  BOOST_TEST(c.done());
  auto r = c.wait();
  BOOST_TEST(r.status.has_value(), (r.status ? "" : r.status.error()));
  BOOST_TEST(r.batch.size() == 2u);
  BOOST_TEST(!c.busy());
  BOOST_TEST(!c.done());
  BOOST_TEST(!readable(c.fd(), 0));  // consumed
  BOOST_TEST(s->get_job(j.id)->has_value());
  BOOST_TEST(*s->has_blob("module"));
}

BOOST_AUTO_TEST_CASE(a_failed_commit_returns_its_reason_and_its_batch,
                     *boost::unit_test::precondition(test::can_mount_tmpfs)) {
  test::Tmpfs disk("8m");
  auto s = open_store(disk.path() + "/store");
  disk.fill("filler");
  Committer c(*s);
  Batch b;
  b.put_blob("big", std::string(4 << 20, 'b'));
  c.start(std::move(b));
  auto r = c.wait();
  BOOST_TEST_REQUIRE(!r.status.has_value());
  BOOST_TEST(r.status.error().starts_with("store: no space left on the disk of "),
             r.status.error());
  BOOST_TEST(r.batch.size() == 1u);
  BOOST_TEST(!*s->has_blob("big"));
}

// Growing the map (past the first 1 GiB) must wait for reads under way on
// the other thread: LMDB unmaps the old map.
BOOST_AUTO_TEST_CASE(the_map_grows_under_commits_while_another_thread_reads) {
  test::TempDir d;
  auto s = open_store(d.path());
  const uint64_t before = s->map_size();
  Batch seed;
  jobs::Job j = make_job(1);
  seed.put_job(j);
  BOOST_TEST_REQUIRE(s->commit(seed).has_value());

  Committer c(*s);
  std::string chunk(64 << 20, 'x');
  size_t reads = 0;
  for (int i = 0; i < 24; ++i) {
    Batch b;
    chunk[0] = static_cast<char>('a' + i);
    b.put_blob(sha256_hex(chunk), chunk);  // blobs are read back checked against their key
    c.start(std::move(b));
    while (!c.done()) {
      auto got = s->get_job(j.id);
      BOOST_TEST_REQUIRE((got && *got));
      BOOST_TEST_REQUIRE((**got).id == j.id);
      ++reads;
    }
    auto r = c.wait();
    BOOST_TEST_REQUIRE(r.status.has_value(), (r.status ? "" : r.status.error()));
  }
  BOOST_TEST_MESSAGE("reads during the commits: " << reads);
  BOOST_TEST(s->map_size() > before);
  BOOST_TEST((**s->get_blob(sha256_hex(chunk)))[0] == 'a' + 23);
}
