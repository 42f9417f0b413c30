// fetch_url against a real HTTP server (cpp-httplib) on 127.0.0.1, started
// on a free port inside the test. Nothing else on the network is contacted.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "host/fetch.h"
#include "tests/support/http_server.h"
#include "tests/support/process.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using shoal::host::fetch_url;
using shoal::host::FetchError;
using shoal::host::FetchOptions;
using shoal::host::redact_url;
using shoal::test::read_file;
using shoal::test::TempDir;

namespace {

using TestServer = shoal::test::HttpServer;

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Quick retries, so that failure paths finish in milliseconds.
shoal::host::FetchOptions fast() {
  shoal::host::FetchOptions o;
  o.backoff = 1ms;
  o.connect_timeout = 2s;
  o.timeout = 10s;
  return o;
}

// A port on 127.0.0.1 that nothing listens on: bound, then released.
int closed_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

// sha256("hello world\n")
const char* const kHelloSha = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";

}  // namespace

BOOST_AUTO_TEST_CASE(a_200_body_is_written_with_its_size_and_sha256) {
  TestServer server;
  server.http.Get("/data.txt", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("ETag", "\"v1\"");
    res.set_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT");
    res.set_content("hello world\n", "text/plain");
  });
  TempDir dir;
  std::string dest = dir.path() + "/data.txt";
  auto r = fetch_url(server.url("/data.txt"), dest, fast());
  BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().message));
  BOOST_TEST(r->path == dest);
  BOOST_TEST(read_file(dest) == "hello world\n");
  BOOST_TEST(r->size == 12u);
  BOOST_TEST(r->sha256 == kHelloSha);
  BOOST_TEST(r->http_status == 200);
  BOOST_TEST(r->etag == "\"v1\"");
  BOOST_TEST(r->last_modified == "Wed, 21 Oct 2015 07:28:00 GMT");
  BOOST_TEST(!r->not_modified);
  BOOST_TEST(r->attempts == 1);
  BOOST_TEST(names_in(dir.path()) == std::vector<std::string>{"data.txt"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(fetch_bytes_gives_the_body_and_leaves_no_temporary_file) {
  TestServer server;
  server.http.Get("/data.txt", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("hello world\n", "text/plain");
  });
  server.http.Get("/missing",
                  [](const httplib::Request&, httplib::Response& res) { res.status = 404; });
  TempDir tmp;
  ::setenv("TMPDIR", tmp.path().c_str(), 1);
  auto got = shoal::host::fetch_bytes(server.url("/data.txt"), fast());
  BOOST_TEST_REQUIRE(got.has_value(), got.error().message);
  BOOST_TEST(*got == "hello world\n");
  auto missing = shoal::host::fetch_bytes(server.url("/missing"), fast());
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST(missing.error().message == server.url("/missing") + ": HTTP 404 Not Found");
  BOOST_TEST(names_in(tmp.path()).empty());
  ::unsetenv("TMPDIR");
}

BOOST_AUTO_TEST_CASE(an_empty_body_gives_an_empty_file_and_the_empty_hash) {
  TestServer server;
  server.http.Get("/empty", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("", "text/plain");
  });
  TempDir dir;
  auto r = fetch_url(server.url("/empty"), dir.path() + "/e", fast());
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->size == 0u);
  BOOST_TEST(r->sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(fs::file_size(dir.path() + "/e") == 0u);
}

BOOST_AUTO_TEST_CASE(a_404_names_the_url_and_the_status_and_is_not_retried) {
  TestServer server;
  std::atomic<int> requests{0};
  server.http.Get("/missing", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.status = 404;
    res.set_content("no such thing", "text/plain");
  });
  TempDir dir;
  std::string url = server.url("/missing");
  auto r = fetch_url(url, dir.path() + "/x", fast());
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message == url + ": HTTP 404 Not Found");
  BOOST_TEST(static_cast<int>(r.error().kind) ==
             static_cast<int>(shoal::host::FetchError::Kind::http));
  BOOST_TEST(r.error().http_status == 404);
  BOOST_TEST(!r.error().retryable);
  BOOST_TEST(requests.load() == 1);
  BOOST_TEST(names_in(dir.path()).empty());
}

BOOST_AUTO_TEST_CASE(a_403_is_not_retried) {
  TestServer server;
  std::atomic<int> requests{0};
  server.http.Get("/secret", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.status = 403;
  });
  TempDir dir;
  auto r = fetch_url(server.url("/secret"), dir.path() + "/x", fast());
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message == server.url("/secret") + ": HTTP 403 Forbidden");
  BOOST_TEST(requests.load() == 1);
}

BOOST_AUTO_TEST_CASE(a_500_twice_then_200_succeeds_on_the_third_attempt) {
  TestServer server;
  std::atomic<int> requests{0};
  server.http.Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    if (++requests <= 2) {
      res.status = 500;
      res.set_content("try later", "text/plain");
      return;
    }
    res.set_content("hello world\n", "text/plain");
  });
  TempDir dir;
  auto r = fetch_url(server.url("/flaky"), dir.path() + "/x", fast());
  BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().message));
  BOOST_TEST(requests.load() == 3);
  BOOST_TEST(r->attempts == 3);
  BOOST_TEST(r->sha256 == kHelloSha);
  BOOST_TEST(read_file(dir.path() + "/x") == "hello world\n");
}

BOOST_AUTO_TEST_CASE(a_429_is_retried) {
  TestServer server;
  std::atomic<int> requests{0};
  server.http.Get("/busy", [&](const httplib::Request&, httplib::Response& res) {
    if (++requests == 1) {
      res.status = 429;
      return;
    }
    res.set_content("ok", "text/plain");
  });
  TempDir dir;
  auto r = fetch_url(server.url("/busy"), dir.path() + "/x", fast());
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->attempts == 2);
}

BOOST_AUTO_TEST_CASE(a_server_error_that_persists_fails_after_every_attempt_and_says_so) {
  TestServer server;
  std::atomic<int> requests{0};
  server.http.Get("/down", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.status = 503;
  });
  TempDir dir;
  auto options = fast();
  options.retries = 2;
  auto r = fetch_url(server.url("/down"), dir.path() + "/x", options);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message ==
             server.url("/down") + ": HTTP 503 Service Unavailable after 3 attempts");
  BOOST_TEST(r.error().retryable);
  BOOST_TEST(r.error().http_status == 503);
  BOOST_TEST(requests.load() == 3);
  BOOST_TEST(names_in(dir.path()).empty());
}

BOOST_AUTO_TEST_CASE(a_failed_fetch_leaves_an_existing_destination_as_it_was) {
  TestServer server;
  server.http.Get("/gone",
                  [](const httplib::Request&, httplib::Response& res) { res.status = 410; });
  TempDir dir;
  std::string dest = dir.path() + "/x";
  std::ofstream(dest) << "previous";
  auto r = fetch_url(server.url("/gone"), dest, fast());
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(read_file(dest) == "previous");
  BOOST_TEST(names_in(dir.path()) == std::vector<std::string>{"x"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_stalled_server_times_out) {
  TestServer server;
  server.http.Get("/stall", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [&](size_t, httplib::DataSink& sink) {
      sink.write("a", 1);
      for (int i = 0; i < 1000 && !server.closing(); ++i) std::this_thread::sleep_for(10ms);
      return false;
    });
  });
  TempDir dir;
  auto options = fast();
  options.timeout = 1s;
  options.retries = 0;
  auto started = std::chrono::steady_clock::now();
  auto r = fetch_url(server.url("/stall"), dir.path() + "/x", options);
  auto took = std::chrono::steady_clock::now() - started;
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message == server.url("/stall") + ": timed out after 1 s");
  BOOST_TEST(static_cast<int>(r.error().kind) ==
             static_cast<int>(shoal::host::FetchError::Kind::timeout));
  BOOST_TEST(r.error().retryable);
  BOOST_TEST(took < 8s);  // generous: the point is that it did not wait for the server
  BOOST_TEST(names_in(dir.path()).empty());
}

BOOST_AUTO_TEST_CASE(a_trickle_below_the_low_speed_limit_times_out) {
  TestServer server;
  server.http.Get("/trickle", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [&](size_t, httplib::DataSink& sink) {
      if (server.closing() || !sink.write("a", 1)) return false;
      std::this_thread::sleep_for(100ms);
      return true;
    });
  });
  TempDir dir;
  auto options = fast();
  options.low_speed_bytes = 1024;
  options.low_speed_time = 1s;
  options.retries = 0;
  auto r = fetch_url(server.url("/trickle"), dir.path() + "/x", options);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message ==
             server.url("/trickle") + ": timed out: less than 1.0 KiB/s for 1 s");
  BOOST_TEST(names_in(dir.path()).empty());
}

BOOST_AUTO_TEST_CASE(an_announced_body_over_the_cap_is_refused_before_it_is_read) {
  TestServer server;
  server.http.Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(4096, 'x'), "application/octet-stream");
  });
  TempDir dir;
  auto options = fast();
  options.max_bytes = 1000;
  auto r = fetch_url(server.url("/big"), dir.path() + "/x", options);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message == server.url("/big") +
                                      ": larger than the 1000 B input limit (the server "
                                      "announced 4.0 KiB)");
  BOOST_TEST(static_cast<int>(r.error().kind) ==
             static_cast<int>(shoal::host::FetchError::Kind::too_large));
  BOOST_TEST(!r.error().retryable);
  BOOST_TEST(names_in(dir.path()).empty());
}

BOOST_AUTO_TEST_CASE(a_streamed_body_that_grows_over_the_cap_is_cut_off_and_leaves_no_file) {
  TestServer server;
  std::atomic<size_t> sent{0};
  server.http.Get("/endless", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [&](size_t, httplib::DataSink& sink) {
      if (server.closing() || sent > (64u << 20)) return false;
      std::string chunk(16384, 'y');
      sent += chunk.size();
      return sink.write(chunk.data(), chunk.size());
    });
  });
  TempDir dir;
  auto options = fast();
  options.max_bytes = 100000;
  auto r = fetch_url(server.url("/endless"), dir.path() + "/x", options);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message ==
             server.url("/endless") + ": larger than the 97.7 KiB input limit");
  BOOST_TEST(names_in(dir.path()).empty());
  BOOST_TEST(sent.load() < (64u << 20));  // it stopped reading, not the server sending
}

BOOST_AUTO_TEST_CASE(an_etag_revalidation_gets_304_and_keeps_the_file) {
  TestServer server;
  std::atomic<size_t> bytes_served{0};
  std::atomic<int> conditional{0};
  server.http.Get("/tagged", [&](const httplib::Request& req, httplib::Response& res) {
    res.set_header("ETag", "\"v1\"");
    if (req.get_header_value("If-None-Match") == "\"v1\"") {
      ++conditional;
      res.status = 304;
      return;
    }
    bytes_served += 12;
    res.set_content("hello world\n", "text/plain");
  });
  TempDir dir;
  std::string dest = dir.path() + "/x";
  auto first = fetch_url(server.url("/tagged"), dest, fast());
  BOOST_TEST_REQUIRE(first.has_value());
  BOOST_TEST(bytes_served.load() == 12u);

  auto options = fast();
  options.if_none_match = first->etag;
  auto second = fetch_url(server.url("/tagged"), dest, options);
  BOOST_TEST_REQUIRE(second.has_value(), (second ? "" : second.error().message));
  BOOST_TEST(second->not_modified);
  BOOST_TEST(second->http_status == 304);
  BOOST_TEST(second->etag == "\"v1\"");
  BOOST_TEST(second->path == dest);
  BOOST_TEST(conditional.load() == 1);
  BOOST_TEST(bytes_served.load() == 12u);
  BOOST_TEST(read_file(dest) == "hello world\n");
  BOOST_TEST(names_in(dir.path()) == std::vector<std::string>{"x"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_last_modified_revalidation_gets_304) {
  TestServer server;
  const std::string stamp = "Wed, 21 Oct 2015 07:28:00 GMT";
  server.http.Get("/dated", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("If-Modified-Since") == stamp) {
      res.status = 304;
      return;
    }
    res.set_header("Last-Modified", stamp);
    res.set_content("hello world\n", "text/plain");
  });
  TempDir dir;
  auto options = fast();
  options.if_modified_since = stamp;
  auto r = fetch_url(server.url("/dated"), dir.path() + "/x", options);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->not_modified);
  BOOST_TEST(r->last_modified == stamp);
}

BOOST_AUTO_TEST_CASE(a_304_to_a_request_that_was_not_conditional_is_an_error) {
  TestServer server;
  server.http.Get("/odd",
                  [](const httplib::Request&, httplib::Response& res) { res.status = 304; });
  TempDir dir;
  auto r = fetch_url(server.url("/odd"), dir.path() + "/x", fast());
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message == server.url("/odd") + ": HTTP 304 Not Modified");
}

BOOST_AUTO_TEST_CASE(redirects_are_followed_to_the_body) {
  TestServer server;
  server.http.Get("/old", [&](const httplib::Request&, httplib::Response& res) {
    res.set_redirect(server.url("/new"), 302);
  });
  server.http.Get("/new", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("hello world\n", "text/plain");
  });
  TempDir dir;
  auto r = fetch_url(server.url("/old"), dir.path() + "/x", fast());
  BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().message));
  BOOST_TEST(r->http_status == 200);
  BOOST_TEST(r->sha256 == kHelloSha);
  BOOST_TEST(read_file(dir.path() + "/x") == "hello world\n");
}

BOOST_AUTO_TEST_CASE(a_redirect_loop_stops_at_the_limit) {
  TestServer server;
  std::atomic<int> requests{0};
  server.http.Get("/loop", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.set_redirect(server.url("/loop"), 302);
  });
  TempDir dir;
  auto options = fast();
  options.max_redirects = 3;
  auto r = fetch_url(server.url("/loop"), dir.path() + "/x", options);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message == server.url("/loop") + ": more than 3 redirects");
  BOOST_TEST(static_cast<int>(r.error().kind) ==
             static_cast<int>(shoal::host::FetchError::Kind::redirects));
  BOOST_TEST(requests.load() == 4);
}

BOOST_AUTO_TEST_CASE(progress_is_reported_a_few_times_a_second_and_ends_at_the_size) {
  TestServer server;
  const size_t chunk = 4096, chunks = 40;  // 160 KiB over about 0.8 s
  server.http.Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content_provider(chunk * chunks, "application/octet-stream",
                             [&](size_t offset, size_t, httplib::DataSink& sink) {
                               std::this_thread::sleep_for(20ms);
                               std::string data(chunk,
                                                static_cast<char>('a' + offset / chunk % 26));
                               return sink.write(data.data(), data.size());
                             });
  });
  TempDir dir;
  std::vector<std::pair<uint64_t, std::optional<uint64_t>>> calls;
  auto options = fast();
  options.progress = [&](uint64_t done, std::optional<uint64_t> total) {
    calls.emplace_back(done, total);
  };
  auto started = std::chrono::steady_clock::now();
  auto r = fetch_url(server.url("/slow"), dir.path() + "/x", options);
  auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count();
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST_REQUIRE(calls.size() >= 2u);
  BOOST_TEST(calls.back().first == chunk * chunks);
  BOOST_TEST((calls.back().second == std::optional<uint64_t>(chunk * chunks)));
  for (size_t i = 1; i < calls.size(); ++i) BOOST_TEST(calls[i].first >= calls[i - 1].first);
  // Some call in the middle saw the announced total and a partial count.
  bool partial = false;
  for (auto& [done, total] : calls)
    partial = partial || (done > 0 && done < chunk * chunks && total == chunk * chunks);
  BOOST_TEST(partial);
  // At most about ten a second, plus the final one; the bound is loose.
  BOOST_TEST(static_cast<long>(calls.size()) <= took_ms / 100 + 3);
}

BOOST_AUTO_TEST_CASE(cancelling_stops_a_transfer_and_leaves_no_file) {
  TestServer server;
  server.http.Get("/forever", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("text/plain", [&](size_t, httplib::DataSink& sink) {
      if (server.closing()) return false;
      std::this_thread::sleep_for(20ms);
      return sink.write("0123456789abcdef", 16);
    });
  });
  TempDir dir;
  std::atomic<bool> cancel{false};
  auto options = fast();
  options.cancel = &cancel;
  options.progress = [&](uint64_t done, std::optional<uint64_t>) {
    if (done > 0) cancel = true;
  };
  auto r = fetch_url(server.url("/forever"), dir.path() + "/x", options);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message == server.url("/forever") + ": cancelled");
  BOOST_TEST(static_cast<int>(r.error().kind) ==
             static_cast<int>(shoal::host::FetchError::Kind::cancelled));
  BOOST_TEST(!r.error().retryable);
  BOOST_TEST(names_in(dir.path()).empty());
}

BOOST_AUTO_TEST_CASE(a_cancel_flag_already_set_sends_no_request) {
  TestServer server;
  std::atomic<int> requests{0};
  server.http.Get("/x", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.set_content("x", "text/plain");
  });
  TempDir dir;
  std::atomic<bool> cancel{true};
  auto options = fast();
  options.cancel = &cancel;
  auto r = fetch_url(server.url("/x"), dir.path() + "/x", options);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message == server.url("/x") + ": cancelled");
  BOOST_TEST(requests.load() == 0);
}

BOOST_AUTO_TEST_CASE(cancelling_during_the_backoff_does_not_wait_it_out) {
  TestServer server;
  server.http.Get("/down",
                  [](const httplib::Request&, httplib::Response& res) { res.status = 500; });
  TempDir dir;
  std::atomic<bool> cancel{false};
  auto options = fast();
  options.backoff = 60s;
  options.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    cancel = true;
  });
  auto started = std::chrono::steady_clock::now();
  auto r = fetch_url(server.url("/down"), dir.path() + "/x", options);
  auto took = std::chrono::steady_clock::now() - started;
  canceller.join();
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message == server.url("/down") + ": cancelled");
  BOOST_TEST(took < 30s);
}

BOOST_AUTO_TEST_CASE(a_closed_port_fails_to_connect_with_a_clear_message) {
  std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/data.txt";
  TempDir dir;
  auto options = fast();
  options.retries = 1;
  auto r = fetch_url(url, dir.path() + "/x", options);
  BOOST_TEST_REQUIRE(!r.has_value());
  const auto& m = r.error().message;
  BOOST_TEST(m.starts_with(url + ": could not connect ("), m);
  BOOST_TEST(m.ends_with(") after 2 attempts"), m);
  BOOST_TEST(static_cast<int>(r.error().kind) ==
             static_cast<int>(shoal::host::FetchError::Kind::connect));
  BOOST_TEST(r.error().retryable);
  BOOST_TEST(names_in(dir.path()).empty());
}

BOOST_AUTO_TEST_CASE(only_http_and_https_urls_are_fetched) {
  TempDir dir;
  auto r = fetch_url("ftp://127.0.0.1/x", dir.path() + "/x", fast());
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message == "ftp://127.0.0.1/x: not an http or https URL");
  BOOST_TEST(static_cast<int>(r.error().kind) ==
             static_cast<int>(shoal::host::FetchError::Kind::bad_url));
}

BOOST_AUTO_TEST_CASE(a_missing_destination_directory_is_an_io_error) {
  TestServer server;
  TempDir dir;
  auto r = fetch_url(server.url("/x"), dir.path() + "/no/such/dir/x", fast());
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(static_cast<int>(r.error().kind) ==
             static_cast<int>(shoal::host::FetchError::Kind::io));
  BOOST_TEST(r.error().message.starts_with(server.url("/x") + ": cannot create " + dir.path() +
                                           "/no/such/dir/x.part-"),
             r.error().message);
}

BOOST_AUTO_TEST_CASE(credentials_never_appear_in_messages) {
  BOOST_TEST(redact_url("https://user:pw@host:8443/x?y=1") == "https://***@host:8443/x?y=1");
  BOOST_TEST(redact_url("https://host/a@b") == "https://host/a@b");
  BOOST_TEST(redact_url("http://127.0.0.1:80/x") == "http://127.0.0.1:80/x");

  TestServer server;
  server.http.Get("/private",
                  [](const httplib::Request&, httplib::Response& res) { res.status = 401; });
  TempDir dir;
  std::string url = server.url("/private");
  url.insert(url.find("//") + 2, "alice:s3cret@");
  auto r = fetch_url(url, dir.path() + "/x", fast());
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message == redact_url(url) + ": HTTP 401 Unauthorized");
  BOOST_TEST(r.error().message.find("s3cret") == std::string::npos);
}
