#include <boost/test/unit_test.hpp>

#include <set>

#include "wasi/functions.h"

using shoal::wasi::find_function;
using shoal::wasi::preview1_functions;

BOOST_AUTO_TEST_CASE(all_46_functions_are_there_once_and_sorted) {
  auto fs = preview1_functions();
  BOOST_TEST(fs.size() == 46u);
  std::set<std::string_view> names;
  for (size_t i = 0; i < fs.size(); ++i) {
    names.insert(fs[i].name);
    if (i) BOOST_TEST((fs[i - 1].name < fs[i].name), fs[i - 1].name << " < " << fs[i].name);
  }
  BOOST_TEST(names.size() == 46u);
}

BOOST_AUTO_TEST_CASE(every_function_is_found_by_name) {
  for (const auto& f : preview1_functions()) BOOST_TEST(find_function(f.name) == &f);
  BOOST_TEST(find_function("fd_frobnicate") == nullptr);
}

BOOST_AUTO_TEST_CASE(signatures_match_the_specification) {
  BOOST_TEST((find_function("fd_write")->params == "iiii"));
  BOOST_TEST((find_function("fd_seek")->params == "iIii"));
  BOOST_TEST((find_function("path_open")->params == "iiiiiIIii"));
  BOOST_TEST((find_function("clock_time_get")->params == "iIi"));
  BOOST_TEST(!find_function("proc_exit")->returns_errno);
  BOOST_TEST(find_function("proc_raise")->returns_errno);
}
