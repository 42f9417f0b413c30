#include <boost/test/unit_test.hpp>

#include <fstream>
#include <iterator>

#include "tests/support/process.h"
#include "worker/module_info.h"

using namespace shoal::worker;

namespace {
std::vector<uint8_t> read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_wasi_command_imports_wasi_functions_and_exports_start) {
  auto info = inspect_module(read(shoal::test::test_wasm("args_env")));
  BOOST_TEST_REQUIRE(info.has_value(), (info ? "" : info.error()));
  bool fd_write = false, start = false;
  for (const auto& imp : info->imports) {
    BOOST_TEST(imp.module == "wasi_snapshot_preview1");
    if (imp.name == "fd_write") {
      fd_write = true;
      BOOST_TEST(describe(imp.type) == "(i32, i32, i32, i32) -> (i32)");
    }
  }
  for (const auto& ex : info->exports)
    if (ex.name == "_start" && ex.kind == ExternKind::function) start = true;
  BOOST_TEST(fd_write);
  BOOST_TEST(start);
}

BOOST_AUTO_TEST_CASE(bytes_that_are_not_wasm_are_named_as_such) {
  std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  BOOST_TEST(inspect_module(text).error().find("not a WebAssembly module") != std::string::npos);
  std::vector<uint8_t> v2 = {0, 'a', 's', 'm', 2, 0, 0, 0};
  BOOST_TEST(inspect_module(v2).error().find("version") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_truncated_import_section_is_an_error_not_a_crash) {
  auto bytes = read(shoal::test::test_wasm("args_env"));
  for (size_t cut = 8; cut < 200 && cut < bytes.size(); ++cut) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    auto info = inspect_module(part);
    if (info) BOOST_TEST(info->imports.size() < 9u);
  }
}

BOOST_AUTO_TEST_CASE(an_empty_module_has_no_imports_or_exports) {
  std::vector<uint8_t> empty = {0, 'a', 's', 'm', 1, 0, 0, 0};
  auto info = inspect_module(empty);
  BOOST_TEST_REQUIRE(info.has_value());
  BOOST_TEST(info->imports.empty());
  BOOST_TEST(info->exports.empty());
}
