#include <boost/test/unit_test.hpp>

#include <cerrno>

#include "tests/support/print.h"
#include "wasi/errno.h"

using shoal::wasi::Errno;
using shoal::wasi::errno_name;
using shoal::wasi::from_host_errno;

BOOST_AUTO_TEST_CASE(host_errnos_map_to_their_wasi_namesakes) {
  BOOST_TEST(static_cast<int>(from_host_errno(ENOENT)) == static_cast<int>(Errno::noent));
  BOOST_TEST(static_cast<int>(from_host_errno(ELOOP)) == static_cast<int>(Errno::loop));
  BOOST_TEST(static_cast<int>(from_host_errno(ENOTDIR)) == static_cast<int>(Errno::notdir));
  BOOST_TEST(static_cast<int>(from_host_errno(EOPNOTSUPP)) == static_cast<int>(Errno::notsup));
  BOOST_TEST(static_cast<int>(from_host_errno(0)) == static_cast<int>(Errno::success));
}

BOOST_AUTO_TEST_CASE(an_unknown_host_errno_becomes_io) {
  BOOST_TEST(static_cast<int>(from_host_errno(ENOMEDIUM)) == static_cast<int>(Errno::io));
}

BOOST_AUTO_TEST_CASE(abi_values_are_the_specifications) {
  BOOST_TEST(static_cast<int>(Errno::badf) == 8);
  BOOST_TEST(static_cast<int>(Errno::fault) == 21);
  BOOST_TEST(static_cast<int>(Errno::inval) == 28);
  BOOST_TEST(static_cast<int>(Errno::noent) == 44);
  BOOST_TEST(static_cast<int>(Errno::notsock) == 57);
  BOOST_TEST(static_cast<int>(Errno::notcapable) == 76);
}

BOOST_AUTO_TEST_CASE(names_are_upper_case_without_the_e) {
  BOOST_TEST(errno_name(Errno::noent) == "NOENT");
  BOOST_TEST(errno_name(Errno::notcapable) == "NOTCAPABLE");
  BOOST_TEST(errno_name(static_cast<Errno>(999)) == "UNKNOWN");
}
