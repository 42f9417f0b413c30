// UrlCache against a real HTTP server (cpp-httplib) on 127.0.0.1, started
// on a free port inside the test. Nothing else on the network is contacted.
#include <boost/test/unit_test.hpp>

#include <httplib.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "host/url_cache.h"
#include "tests/support/http_server.h"
#include "tests/support/process.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using shoal::host::CachedUrl;
using shoal::host::FetchError;
using shoal::host::FetchOptions;
using shoal::host::UrlCache;
using shoal::test::read_file;
using shoal::test::TempDir;

namespace {

using TestServer = shoal::test::HttpServer;

// A URL whose body and ETag the test changes, counting what it serves.
struct Resource {
  std::mutex mu;
  std::string body = "hello world\n";
  std::string etag = "\"v1\"";  // empty: no validators at all
  int status = 200;
  std::atomic<int> requests{0};
  std::atomic<int> conditional{0};
  std::atomic<size_t> bytes_served{0};

  void serve(TestServer& server, const std::string& path) {
    server.http.Get(path, [this](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      std::lock_guard lock(mu);
      if (req.has_header("If-None-Match")) ++conditional;
      if (status != 200) {
        res.status = status;
        return;
      }
      if (!etag.empty()) {
        res.set_header("ETag", etag);
        if (req.get_header_value("If-None-Match") == etag) {
          res.status = 304;
          return;
        }
      }
      bytes_served += body.size();
      res.set_content(body, "text/plain");
    });
  }
};

// The cache's one entry file (the tests use one URL per cache).
fs::path only_entry(const fs::path& dir) {
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(dir / "entries"))
    if (e.path().extension() == ".json") entries.push_back(e.path());
  BOOST_TEST_REQUIRE(entries.size() == 1u);
  return entries[0];
}

shoal::host::FetchOptions fast() {
  shoal::host::FetchOptions o;
  o.backoff = 1ms;
  o.retries = 0;
  o.timeout = 10s;
  return o;
}

int source(const shoal::host::CachedUrl& c) {
  return static_cast<int>(c.source);
}
const int network = static_cast<int>(shoal::host::CachedUrl::Source::network);
const int revalidated = static_cast<int>(shoal::host::CachedUrl::Source::revalidated);
const int cached = static_cast<int>(shoal::host::CachedUrl::Source::cache);

const char* const kHelloSha = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";

}  // namespace

BOOST_AUTO_TEST_CASE(a_miss_fetches_and_stores_the_body_under_its_sha256) {
  TestServer server;
  Resource r;
  r.serve(server, "/data.txt");
  TempDir dir;
  shoal::host::UrlCache cache(fs::path(dir.path()) / "cache" / "urls");

  auto got = cache.get_or_fetch(server.url("/data.txt"), fast());
  BOOST_TEST_REQUIRE(got.has_value(), (got ? "" : got.error().message));
  BOOST_TEST(source(*got) == network);
  BOOST_TEST(got->sha256 == kHelloSha);
  BOOST_TEST(got->size == 12u);
  BOOST_TEST(got->path == dir.path() + "/cache/urls/blobs/" + kHelloSha);
  BOOST_TEST(read_file(got->path) == "hello world\n");
  BOOST_TEST(got->etag == "\"v1\"");
  BOOST_TEST(got->url == server.url("/data.txt"));

  struct stat st;
  BOOST_TEST_REQUIRE(::stat(got->path.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0444u);

  auto entry = nlohmann::json::parse(read_file(only_entry(cache.dir()).string()));
  BOOST_TEST(entry.at("url").get<std::string>() == server.url("/data.txt"));
  BOOST_TEST(entry.at("sha256").get<std::string>() == kHelloSha);
  BOOST_TEST(entry.at("etag").get<std::string>() == "\"v1\"");
  BOOST_TEST(entry.at("size").get<uint64_t>() == 12u);

  auto seen = cache.lookup(server.url("/data.txt"));
  BOOST_TEST_REQUIRE(seen.has_value());
  BOOST_TEST(seen->sha256 == kHelloSha);
  BOOST_TEST(source(*seen) == cached);
  BOOST_TEST(!cache.lookup(server.url("/other")).has_value());
  BOOST_TEST(fs::is_empty(cache.dir() / "incoming"));
}

BOOST_AUTO_TEST_CASE(a_second_get_revalidates_with_the_etag_and_reuses_the_blob) {
  TestServer server;
  Resource r;
  r.serve(server, "/data.txt");
  TempDir dir;
  shoal::host::UrlCache cache(dir.path());

  auto first = cache.get_or_fetch(server.url("/data.txt"), fast());
  BOOST_TEST_REQUIRE(first.has_value());
  auto second = cache.get_or_fetch(server.url("/data.txt"), fast());
  BOOST_TEST_REQUIRE(second.has_value(), (second ? "" : second.error().message));
  BOOST_TEST(source(*second) == revalidated);
  BOOST_TEST(second->path == first->path);
  BOOST_TEST(second->sha256 == kHelloSha);
  BOOST_TEST(r.requests.load() == 2);
  BOOST_TEST(r.conditional.load() == 1);
  BOOST_TEST(r.bytes_served.load() == 12u);
  BOOST_TEST(read_file(second->path) == "hello world\n");
}

// Regression (found by worker_faults in CI): a second URL serving the same
// bytes renamed its download over the shared blob, and a worker linking the
// old one into a job at that moment failed with ENOENT. The blob in place
// is kept: same inode, and no download is left behind.
BOOST_AUTO_TEST_CASE(urls_serving_the_same_bytes_share_the_blob_already_in_place) {
  TestServer server;
  Resource a, b;
  a.serve(server, "/a.txt");
  b.serve(server, "/b.txt");
  TempDir dir;
  shoal::host::UrlCache cache(dir.path());

  auto first = cache.get_or_fetch(server.url("/a.txt"), fast());
  BOOST_TEST_REQUIRE(first.has_value(), (first ? "" : first.error().message));
  struct stat before;
  BOOST_TEST_REQUIRE(::stat(first->path.c_str(), &before) == 0);
  auto second = cache.get_or_fetch(server.url("/b.txt"), fast());
  BOOST_TEST_REQUIRE(second.has_value(), (second ? "" : second.error().message));
  BOOST_TEST(source(*second) == network);
  BOOST_TEST(second->path == first->path);
  struct stat after;
  BOOST_TEST_REQUIRE(::stat(second->path.c_str(), &after) == 0);
  BOOST_TEST(after.st_ino == before.st_ino);
  BOOST_TEST(read_file(second->path) == "hello world\n");
  BOOST_TEST(fs::is_empty(cache.dir() / "incoming"));
  BOOST_TEST(cache.lookup(server.url("/b.txt")).has_value());
}

BOOST_AUTO_TEST_CASE(a_changed_body_is_downloaded_and_replaces_the_entry) {
  TestServer server;
  Resource r;
  r.serve(server, "/data.txt");
  TempDir dir;
  shoal::host::UrlCache cache(dir.path());

  auto first = cache.get_or_fetch(server.url("/data.txt"), fast());
  BOOST_TEST_REQUIRE(first.has_value());
  {
    std::lock_guard lock(r.mu);
    r.body = "goodbye\n";
    r.etag = "\"v2\"";
  }
  auto second = cache.get_or_fetch(server.url("/data.txt"), fast());
  BOOST_TEST_REQUIRE(second.has_value());
  BOOST_TEST(source(*second) == network);
  BOOST_TEST(second->etag == "\"v2\"");
  BOOST_TEST(second->sha256 != first->sha256);
  BOOST_TEST(read_file(second->path) == "goodbye\n");
  BOOST_TEST(cache.lookup(server.url("/data.txt"))->sha256 == second->sha256);
  // The old blob stays: another URL, or a running job, may be using it.
  BOOST_TEST(read_file(first->path) == "hello world\n");
}

BOOST_AUTO_TEST_CASE(without_validators_every_get_downloads_again) {
  TestServer server;
  Resource r;
  r.etag.clear();
  r.serve(server, "/plain");
  TempDir dir;
  shoal::host::UrlCache cache(dir.path());

  BOOST_TEST_REQUIRE(cache.get_or_fetch(server.url("/plain"), fast()).has_value());
  auto second = cache.get_or_fetch(server.url("/plain"), fast());
  BOOST_TEST_REQUIRE(second.has_value());
  BOOST_TEST(source(*second) == network);
  BOOST_TEST(r.conditional.load() == 0);
  BOOST_TEST(r.bytes_served.load() == 24u);
}

BOOST_AUTO_TEST_CASE(within_fresh_for_the_server_is_not_asked) {
  TestServer server;
  Resource r;
  r.serve(server, "/data.txt");
  TempDir dir;
  shoal::host::UrlCache cache(dir.path(), std::chrono::hours(1));

  BOOST_TEST_REQUIRE(cache.get_or_fetch(server.url("/data.txt"), fast()).has_value());
  auto second = cache.get_or_fetch(server.url("/data.txt"), fast());
  BOOST_TEST_REQUIRE(second.has_value());
  BOOST_TEST(source(*second) == cached);
  BOOST_TEST(r.requests.load() == 1);
}

BOOST_AUTO_TEST_CASE(a_corrupt_entry_is_a_miss_not_a_crash) {
  TestServer server;
  Resource r;
  r.serve(server, "/data.txt");
  TempDir dir;
  shoal::host::UrlCache cache(dir.path());
  BOOST_TEST_REQUIRE(cache.get_or_fetch(server.url("/data.txt"), fast()).has_value());
  auto entry = only_entry(cache.dir());
  auto good = nlohmann::json::parse(read_file(entry.string()));

  auto bad_sha = good;
  bad_sha["sha256"] = "../../../etc/passwd";
  auto bad_size = good;
  bad_size["size"] = 13;
  auto wrong_type = good;
  wrong_type["size"] = "twelve";
  auto missing_field = good;
  missing_field.erase("etag");
  const std::vector<std::string> corruptions = {
      "{not json",         "", "[]", "null", bad_sha.dump(), bad_size.dump(), wrong_type.dump(),
      missing_field.dump()};
  int expected_requests = 1;
  for (const auto& text : corruptions) {
    BOOST_TEST_CONTEXT("entry: " << text) {
      std::ofstream(entry, std::ios::trunc) << text;
      BOOST_TEST(!cache.lookup(server.url("/data.txt")).has_value());
      int conditional_before = r.conditional.load();
      auto got = cache.get_or_fetch(server.url("/data.txt"), fast());
      ++expected_requests;
      BOOST_TEST_REQUIRE(got.has_value());
      BOOST_TEST(source(*got) == network);
      BOOST_TEST(r.conditional.load() == conditional_before);  // a miss asks unconditionally
      BOOST_TEST(read_file(got->path) == "hello world\n");
      BOOST_TEST(r.requests.load() == expected_requests);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_missing_blob_is_a_miss) {
  TestServer server;
  Resource r;
  r.serve(server, "/data.txt");
  TempDir dir;
  shoal::host::UrlCache cache(dir.path());
  auto first = cache.get_or_fetch(server.url("/data.txt"), fast());
  BOOST_TEST_REQUIRE(first.has_value());
  fs::remove(first->path);
  auto second = cache.get_or_fetch(server.url("/data.txt"), fast());
  BOOST_TEST_REQUIRE(second.has_value());
  BOOST_TEST(source(*second) == network);
  BOOST_TEST(read_file(second->path) == "hello world\n");
}

BOOST_AUTO_TEST_CASE(a_failed_fetch_fails_and_leaves_the_entry_as_it_was) {
  TestServer server;
  Resource r;
  r.serve(server, "/data.txt");
  TempDir dir;
  shoal::host::UrlCache cache(dir.path());
  BOOST_TEST_REQUIRE(cache.get_or_fetch(server.url("/data.txt"), fast()).has_value());
  {
    std::lock_guard lock(r.mu);
    r.status = 500;
  }
  auto got = cache.get_or_fetch(server.url("/data.txt"), fast());
  BOOST_TEST_REQUIRE(!got.has_value());
  BOOST_TEST(got.error().message == server.url("/data.txt") + ": HTTP 500 Internal Server Error");
  auto still = cache.lookup(server.url("/data.txt"));
  BOOST_TEST_REQUIRE(still.has_value());
  BOOST_TEST(still->sha256 == kHelloSha);
}

BOOST_AUTO_TEST_CASE(a_404_is_reported_and_nothing_is_cached) {
  TestServer server;
  Resource r;
  r.status = 404;
  r.serve(server, "/missing");
  TempDir dir;
  shoal::host::UrlCache cache(dir.path());
  auto got = cache.get_or_fetch(server.url("/missing"), fast());
  BOOST_TEST_REQUIRE(!got.has_value());
  BOOST_TEST(got.error().message == server.url("/missing") + ": HTTP 404 Not Found");
  BOOST_TEST(!cache.lookup(server.url("/missing")).has_value());
  BOOST_TEST(fs::is_empty(cache.dir() / "blobs"));
  BOOST_TEST(fs::is_empty(cache.dir() / "incoming"));
}

BOOST_AUTO_TEST_CASE(concurrent_gets_of_one_url_share_one_download) {
  TestServer server;
  std::atomic<int> requests{0};
  std::atomic<bool> release{false};
  server.http.Get("/shared", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    while (!release && !server.closing()) std::this_thread::sleep_for(5ms);
    res.set_content("hello world\n", "text/plain");  // no validators: a late get would refetch
  });
  TempDir dir;
  shoal::host::UrlCache cache(dir.path());
  const int n = 8;
  std::atomic<int> started{0};
  std::vector<std::optional<std::expected<shoal::host::CachedUrl, shoal::host::FetchError>>> results(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      ++started;
      results[static_cast<size_t>(i)] = cache.get_or_fetch(server.url("/shared"), fast());
    });
  while (started < n) std::this_thread::sleep_for(1ms);
  // Every thread is now in get_or_fetch, all but one waiting on the first.
  std::this_thread::sleep_for(300ms);
  release = true;
  for (auto& t : threads) t.join();
  BOOST_TEST(requests.load() == 1);
  for (auto& r : results) {
    BOOST_TEST_REQUIRE(r->has_value());
    BOOST_TEST((*r)->sha256 == kHelloSha);
  }
}

BOOST_AUTO_TEST_CASE(a_waiters_cancel_flag_ends_its_own_wait) {
  TestServer server;
  std::atomic<int> requests{0};
  std::atomic<bool> release{false};
  server.http.Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    while (!release && !server.closing()) std::this_thread::sleep_for(5ms);
    res.set_content("hello world\n", "text/plain");
  });
  TempDir dir;
  shoal::host::UrlCache cache(dir.path());
  std::optional<std::expected<shoal::host::CachedUrl, shoal::host::FetchError>> leader;
  std::thread t([&] { leader = cache.get_or_fetch(server.url("/slow"), fast()); });
  while (requests.load() == 0) std::this_thread::sleep_for(1ms);

  std::atomic<bool> cancel{true};
  auto options = fast();
  options.cancel = &cancel;
  auto waiter = cache.get_or_fetch(server.url("/slow"), options);
  BOOST_TEST_REQUIRE(!waiter.has_value());
  BOOST_TEST(waiter.error().message == server.url("/slow") + ": cancelled");

  release = true;
  t.join();
  BOOST_TEST_REQUIRE(leader->has_value());
  BOOST_TEST(requests.load() == 1);
}

BOOST_AUTO_TEST_CASE(an_unusable_cache_directory_is_an_io_error) {
  TestServer server;
  Resource r;
  r.serve(server, "/data.txt");
  TempDir dir;
  std::string file = dir.path() + "/not-a-dir";
  std::ofstream(file) << "x";
  shoal::host::UrlCache cache(file);
  auto got = cache.get_or_fetch(server.url("/data.txt"), fast());
  BOOST_TEST_REQUIRE(!got.has_value());
  BOOST_TEST(static_cast<int>(got.error().kind) == static_cast<int>(shoal::host::FetchError::Kind::io));
  BOOST_TEST(got.error().message.starts_with(server.url("/data.txt") + ": URL cache: " + file),
             got.error().message);
  BOOST_TEST(r.requests.load() == 0);
}
