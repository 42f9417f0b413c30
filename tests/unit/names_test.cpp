// names.h: the one place where a client's name becomes part of a host path.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "protocol/names.h"

using namespace shoal::names;

BOOST_AUTO_TEST_CASE(plain_output_names_pass_and_every_other_kind_is_refused_with_its_reason) {
  for (const char* ok : {"outputs", "results.v2", "a_b-c", "x"})
    BOOST_TEST(check_output_name(ok).has_value(), ok);
  const std::pair<std::string, std::string> bad[] = {
      {"", "an output's name is empty"},
      {"..", "the output name \"..\" is not a usable directory name"},
      {".", "the output name \".\" is not a usable directory name"},
      {"a/b", "the output name \"a/b\" may use only letters, digits, '.', '_' and '-'"},
      {"x/../../etc",
       "the output name \"x/../../etc\" may use only letters, digits, '.', '_' "
       "and '-'"},
      {std::string("a\0b", 3),
       "the output name \"a\\x00b\" may use only letters, digits, '.', "
       "'_' and '-'"},
      {"exitCode",
       "the output name \"exitCode\" is taken by the file of that name that `shoal "
       "job get` writes; choose another"},
      {std::string(256, 'a'),
       "the output name \"" + std::string(200, 'a') + "...\" is longer than 255 bytes"},
  };
  for (const auto& [name, why] : bad) {
    auto r = check_output_name(name);
    BOOST_TEST_REQUIRE(!r.has_value(), name);
    BOOST_TEST(r.error() == why);
  }
}

BOOST_AUTO_TEST_CASE(join_plain_takes_one_component_and_nothing_that_climbs) {
  BOOST_TEST(*join_plain("/s/out", "a") == "/s/out/a");
  for (const std::string& name :
       std::vector<std::string>{"", ".", "..", "a/b", "/etc", std::string("a\0", 2)})
    BOOST_TEST(!join_plain("/s/out", name).has_value(), name);
}

BOOST_AUTO_TEST_CASE(join_relative_takes_plain_components_only) {
  BOOST_TEST(*join_relative("/s", "a/b/c.txt") == "/s/a/b/c.txt");
  for (const std::string& path : std::vector<std::string>{"", "/a", "a//b", "a/./b", "a/../b", "..",
                                                          "a/", std::string("a\0", 2)})
    BOOST_TEST(!join_relative("/s", path).has_value(), path);
}

BOOST_AUTO_TEST_CASE(printable_escapes_control_bytes_and_shortens) {
  BOOST_TEST(printable("a\nb\x7f") == "a\\x0ab\\x7f");
  BOOST_TEST(printable(std::string(300, 'z')) == std::string(200, 'z') + "...");
}
