// The queue that carries a guest's output from the thread running the job
// to the threads that send it: chunks, order, and a full queue.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "worker/log_queue.h"

using shoal::worker::LogQueue;

namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

BOOST_AUTO_TEST_CASE(writes_to_one_stream_share_a_chunk_and_streams_keep_their_order) {
  LogQueue q([] {});
  q.append("e1", 1, bytes("line 1\n"));
  q.append("e1", 1, bytes("line 2\n"));
  q.append("e1", 2, bytes("oops\n"));
  q.append("e1", 1, bytes("line 3\n"));
  auto logs = q.take();
  BOOST_TEST_REQUIRE(logs.size() == 3u);
  BOOST_TEST(logs[0].stream == 1);
  BOOST_TEST(logs[0].data == "line 1\nline 2\n");
  BOOST_TEST(logs[1].stream == 2);
  BOOST_TEST(logs[1].data == "oops\n");
  BOOST_TEST(logs[2].data == "line 3\n");
  BOOST_TEST(logs[2].exec_id == "e1");
  BOOST_TEST(q.take().empty());
}

BOOST_AUTO_TEST_CASE(a_chunk_holds_at_most_kMaxChunk_bytes) {
  LogQueue q([] {});
  std::string big(LogQueue::kMaxChunk * 2 + 10, 'x');
  q.append("e1", 1, bytes("ab"));
  q.append("e1", 1, bytes(big));
  auto logs = q.take();
  BOOST_TEST_REQUIRE(logs.size() == 3u);
  BOOST_TEST(logs[0].data.size() == LogQueue::kMaxChunk);
  BOOST_TEST(logs[1].data.size() == LogQueue::kMaxChunk);
  BOOST_TEST(logs[2].data.size() == 12u);
  BOOST_TEST(logs[0].data.substr(0, 3) == "abx");
}

BOOST_AUTO_TEST_CASE(runs_do_not_share_a_chunk) {
  LogQueue q([] {});
  q.append("e1", 1, bytes("a"));
  q.append("e2", 1, bytes("b"));
  auto logs = q.take();
  BOOST_TEST_REQUIRE(logs.size() == 2u);
  BOOST_TEST(logs[1].exec_id == "e2");
}

BOOST_AUTO_TEST_CASE(a_full_queue_nudges_the_taker_and_waits_for_it) {
  std::atomic<int> nudges{0};
  LogQueue q([&] { ++nudges; }, /*max_held=*/100);
  std::atomic<bool> finished{false};
  std::thread writer([&] {
    for (int i = 0; i < 30; ++i) q.append("e1", 1, bytes(std::string(10, char('a' + i % 26))));
    finished = true;
  });
  // 100 bytes fit; the eleventh write waits until they are taken.
  while (nudges.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(!finished.load());
  std::string all;
  while (!finished.load() || all.size() < 300) {
    for (const auto& log : q.take()) all += log.data;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  writer.join();
  for (const auto& log : q.take()) all += log.data;
  BOOST_TEST(all.size() == 300u);
  BOOST_TEST(all.substr(0, 20) == std::string(10, 'a') + std::string(10, 'b'));
  BOOST_TEST(all.substr(290) == std::string(10, 'd'));  // the 30th write: 'a' + 29 % 26
  BOOST_TEST(nudges.load() >= 2);
}
