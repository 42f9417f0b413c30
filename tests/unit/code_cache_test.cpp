// The code cache: entries round-trip, a damaged entry is reported as corrupt,
// a full cache is emptied once, and code that V8 refuses (an entry with a
// valid checksum but bytes V8 did not write) is removed while the module
// still runs.
#include <lmdb.h>
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "tests/support/process.h"
#include "worker/code_cache.h"

using shoal::test::run_process;
using shoal::test::TempDir;
using shoal::test::test_wasm;
using shoal::worker::CodeCache;

namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Every key in the cache, read with LMDB directly.
std::vector<std::string> keys(const std::string& dir) {
  std::vector<std::string> out;
  MDB_env* env;
  mdb_env_create(&env);
  BOOST_REQUIRE(mdb_env_open(env, dir.c_str(), MDB_RDONLY, 0600) == 0);
  MDB_txn* txn;
  mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  MDB_dbi dbi;
  mdb_dbi_open(txn, nullptr, 0, &dbi);
  MDB_cursor* c;
  mdb_cursor_open(txn, dbi, &c);
  MDB_val k, v;
  while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
    out.emplace_back(static_cast<const char*>(k.mv_data), k.mv_size);
  mdb_cursor_close(c);
  mdb_txn_abort(txn);
  mdb_env_close(env);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_entry_reads_back_as_written) {
  TempDir dir;
  auto cache = CodeCache::open(dir.path());
  BOOST_REQUIRE(cache.has_value());
  BOOST_TEST(((*cache)->find("k").error() == CodeCache::Miss::absent));
  BOOST_TEST((*cache)->put("k", bytes("compiled code")).has_value());
  {
    auto e = (*cache)->find("k");
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(text(e->bytes()) == "compiled code");
  }
  (*cache)->remove("k");
  BOOST_TEST(((*cache)->find("k").error() == CodeCache::Miss::absent));
}

BOOST_AUTO_TEST_CASE(an_entry_whose_bytes_changed_is_corrupt) {
  TempDir dir;
  {
    auto cache = CodeCache::open(dir.path());
    BOOST_REQUIRE(cache.has_value());
    BOOST_TEST((*cache)->put("k", bytes("compiled code")).has_value());
  }
  // Change one byte of the stored code behind the cache's back.
  MDB_env* env;
  mdb_env_create(&env);
  BOOST_REQUIRE(mdb_env_open(env, dir.path().c_str(), 0, 0600) == 0);
  MDB_txn* txn;
  mdb_txn_begin(env, nullptr, 0, &txn);
  MDB_dbi dbi;
  mdb_dbi_open(txn, nullptr, 0, &dbi);
  MDB_val k{1, const_cast<char*>("k")}, v;
  BOOST_REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
  std::string changed(static_cast<const char*>(v.mv_data), v.mv_size);
  changed.back() ^= 1;
  MDB_val nv{changed.size(), changed.data()};
  BOOST_REQUIRE(mdb_put(txn, dbi, &k, &nv, 0) == 0);
  BOOST_REQUIRE(mdb_txn_commit(txn) == 0);
  mdb_env_close(env);

  auto cache = CodeCache::open(dir.path());
  BOOST_REQUIRE(cache.has_value());
  BOOST_TEST(((*cache)->find("k").error() == CodeCache::Miss::corrupt));
}

BOOST_AUTO_TEST_CASE(a_full_cache_is_emptied_and_code_larger_than_it_is_refused) {
  TempDir dir;
  auto cache = CodeCache::open(dir.path(), 1 << 20);  // 1 MiB
  BOOST_REQUIRE(cache.has_value());
  const std::string block(300 << 10, 'x');
  for (int i = 0; i < 8; ++i)
    BOOST_TEST((*cache)->put("k" + std::to_string(i), bytes(block)).has_value());
  // The newest entry is always there; the oldest went when it filled up.
  BOOST_TEST((*cache)->find("k7").has_value());
  BOOST_TEST(((*cache)->find("k0").error() == CodeCache::Miss::absent));

  const std::string huge(2 << 20, 'y');
  auto r = (*cache)->put("huge", bytes(huge));
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().find("do not fit") != std::string::npos, r.error());
  BOOST_TEST(((*cache)->find("huge").error() == CodeCache::Miss::absent));
}

BOOST_AUTO_TEST_CASE(code_that_v8_refuses_is_removed_and_the_module_still_runs) {
  TempDir dir;
  const std::string shoal = shoal::test::required_env("SHOAL_BIN");
  std::vector<std::string> cmd = {shoal,          "exec",     "--verbose",
                                  "--code-cache", dir.path(), test_wasm("counter")};
  auto first = run_process(cmd);
  BOOST_TEST(first.status == 0);
  BOOST_TEST(first.err.find("code cache: miss, compiled\n") != std::string::npos, first.err);
  auto stored = keys(dir.path());
  BOOST_REQUIRE(stored.size() == 1u);
  {
    // A well-formed entry (its checksum matches) that V8 never wrote.
    auto cache = CodeCache::open(dir.path());
    BOOST_REQUIRE(cache.has_value());
    BOOST_REQUIRE((*cache)->put(stored[0], bytes(std::string(4096, '\x5a'))).has_value());
  }
  auto second = run_process(cmd);
  BOOST_TEST(second.status == 0);
  BOOST_TEST(second.out == "1\n");
  BOOST_TEST(second.err.find("code cache: miss, compiled (V8 ") != std::string::npos, second.err);
  BOOST_TEST(second.err.find("removed it") != std::string::npos, second.err);
  // Compiled again and stored again: the third start deserializes.
  auto third = run_process(cmd);
  BOOST_TEST(third.out == "1\n");
  BOOST_TEST(third.err.find("code cache: hit\n") != std::string::npos, third.err);
}
