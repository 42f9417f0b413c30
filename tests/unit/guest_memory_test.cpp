#include <boost/test/unit_test.hpp>

#include <vector>

#include "tests/support/print.h"
#include "wasi/guest_memory.h"

using shoal::wasi::Errno;
using shoal::wasi::GuestMemory;

namespace {
struct Mem {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(64);
  GuestMemory mem{bytes.data(), bytes.size()};
};
bool is_fault(Errno e) {
  return e == Errno::fault;
}
}  // namespace

BOOST_AUTO_TEST_CASE(bytes_inside_are_returned) {
  Mem m;
  auto b = m.mem.bytes(60, 4);
  BOOST_TEST(b.has_value());
  BOOST_TEST(b->data() == m.bytes.data() + 60);
}

BOOST_AUTO_TEST_CASE(one_byte_past_the_end_is_a_fault) {
  Mem m;
  BOOST_TEST(is_fault(m.mem.bytes(61, 4).error()));
  BOOST_TEST(is_fault(m.mem.bytes(64, 1).error()));
  BOOST_TEST(m.mem.bytes(64, 0).has_value());
}

BOOST_AUTO_TEST_CASE(pointer_plus_length_does_not_wrap) {
  Mem m;
  BOOST_TEST(is_fault(m.mem.bytes(0xFFFFFFFFu, 2).error()));
  BOOST_TEST(is_fault(m.mem.bytes(2, 0xFFFFFFFFu).error()));
}

BOOST_AUTO_TEST_CASE(loads_and_stores_are_little_endian_and_checked) {
  Mem m;
  BOOST_TEST(m.mem.store<uint32_t>(8, 0x11223344u) == Errno::success);
  BOOST_TEST(m.bytes[8] == 0x44);
  BOOST_TEST(*m.mem.load<uint32_t>(8) == 0x11223344u);
  BOOST_TEST(is_fault(m.mem.store<uint64_t>(60, 1)));
  BOOST_TEST(is_fault(m.mem.load<uint16_t>(63).error()));
}

BOOST_AUTO_TEST_CASE(iovecs_check_every_buffer) {
  Mem m;
  uint32_t iov[4] = {40, 8, 56, 8};  // two buffers, both inside
  std::memcpy(m.bytes.data(), iov, sizeof iov);
  auto ok = m.mem.iovecs(0, 2);
  BOOST_TEST(ok.has_value());
  BOOST_TEST(ok->size() == 2u);
  uint32_t bad[2] = {60, 8};  // runs past the end
  std::memcpy(m.bytes.data() + 16, bad, sizeof bad);
  BOOST_TEST(is_fault(m.mem.iovecs(8, 2).error()));
  BOOST_TEST(is_fault(m.mem.iovecs(0, 0x20000000u).error()));
}

BOOST_AUTO_TEST_CASE(copy_in_refuses_what_does_not_fit) {
  Mem m;
  uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  BOOST_TEST(m.mem.copy_in(56, data) == Errno::success);
  BOOST_TEST(is_fault(m.mem.copy_in(57, data)));
}

BOOST_AUTO_TEST_CASE(more_iovecs_than_are_held_inline_keep_their_order) {
  // Six entries: past the four held without an allocation.
  std::vector<uint8_t> bytes(256);
  GuestMemory mem{bytes.data(), bytes.size()};
  for (uint32_t i = 0; i < 6; ++i) {
    uint32_t entry[2] = {100 + 20 * i, i + 1};
    std::memcpy(bytes.data() + 8 * i, entry, sizeof entry);
  }
  auto v = mem.iovecs(0, 6);
  BOOST_TEST_REQUIRE(v.has_value());
  BOOST_TEST_REQUIRE(v->size() == 6u);
  for (uint32_t i = 0; i < 6; ++i) {
    BOOST_TEST((*v)[i].data() == bytes.data() + 100 + 20 * i);
    BOOST_TEST((*v)[i].size() == i + 1);
  }
}
