// WebAssembly features found in the wild run under shoal: one module per
// feature (wasm_features/), each printing a result computed with the
// feature. For the C modules the disassembly must also contain the
// feature's instructions, so that a compiler falling back to plain code
// cannot make a case pass without exercising the engine.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/process.h"

using shoal::test::ProcessResult;
using shoal::test::required_env;
using shoal::test::run_process;

namespace {

std::string module(const std::string& name) {
  return required_env("SHOAL_FEATURES_DIR") + "/" + name + ".wasm";
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The disassembly of a C module (wasm2wat, made by the build).
std::string disassembly(const std::string& name) {
  return read_all(required_env("SHOAL_FEATURES_DIR") + "/" + name + ".wat");
}

ProcessResult run(const std::string& name, const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv = {required_env("SHOAL_BIN"), "exec", module(name), "--"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

}  // namespace

BOOST_AUTO_TEST_CASE(bulk_memory_copies_and_fills) {
  BOOST_TEST(disassembly("bulk_memory").find("memory.copy") != std::string::npos);
  BOOST_TEST(disassembly("bulk_memory").find("memory.fill") != std::string::npos);
  auto r = run("bulk_memory", {"1000"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "bulk memory: aab b 139070\n");
}

BOOST_AUTO_TEST_CASE(sign_extension_operators) {
  const std::string wat = disassembly("sign_ext");
  for (const char* op : {"i32.extend8_s", "i32.extend16_s", "i64.extend32_s"})
    BOOST_TEST(wat.find(op) != std::string::npos, op);
  auto r = run("sign_ext", {"255", "0x8000", "0x80000000", "-129", "4294967295"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out ==
             "255: -1 255 255\n"
             "0x8000: 0 -32768 32768\n"
             "0x80000000: 0 0 -2147483648\n"
             "-129: 127 -129 -129\n"
             "4294967295: -1 -1 -1\n");
}

BOOST_AUTO_TEST_CASE(saturating_float_to_int_conversions) {
  const std::string wat = disassembly("saturating_float");
  BOOST_TEST(wat.find("i32.trunc_sat_f64_s") != std::string::npos);
  BOOST_TEST(wat.find("i32.trunc_sat_f64_u") != std::string::npos);
  auto r = run("saturating_float", {"1e20", "-1e20", "nan", "-3.7", "4e9", "inf"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out ==
             "1e20: i32 2147483647 u32 4294967295 i64 9223372036854775807\n"
             "-1e20: i32 -2147483648 u32 0 i64 -9223372036854775808\n"
             "nan: i32 0 u32 0 i64 0\n"
             "-3.7: i32 -3 u32 0 i64 -3 cast -3\n"
             "4e9: i32 2147483647 u32 4000000000 i64 4000000000\n"
             "inf: i32 2147483647 u32 4294967295 i64 9223372036854775807\n");
}

BOOST_AUTO_TEST_CASE(multi_value_returns) {
  BOOST_TEST(disassembly("multi_value").find("(result i64 i32)") != std::string::npos);
  auto r = run("multi_value", {"100", "7", "-100", "7", "10000000000", "3"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out ==
             "100 / 7 = 14 rem 2\n"
             "-100 / 7 = -14 rem -2\n"
             "10000000000 / 3 = 3333333333 rem 1\n");
}

BOOST_AUTO_TEST_CASE(simd128) {
  const std::string wat = disassembly("simd");
  for (const char* op : {"v128.load", "i32x4.mul", "i32x4.max_s", "f32x4.add"})
    BOOST_TEST(wat.find(op) != std::string::npos, op);
  auto r = run("simd", {"5"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "simd: dot -9906 scalar -9906 max 90 90 85 87 fsum 3064.5\n");
}

BOOST_AUTO_TEST_CASE(reference_types_tables_of_funcref_and_externref) {
  auto r = run("reference_types");
  BOOST_TEST(r.status == 0, r.err);
  // null before set, not after; call_indirect; grow returns the old size;
  // the new size; grown and filled slots call $seven, then $eleven; an
  // externref slot is null; the externref table's size.
  BOOST_TEST(r.out == "refs 1 0 11 2 5 7 11 1 3\n");
}

BOOST_AUTO_TEST_CASE(exception_handling_throw_catch_and_rethrow) {
  auto r = run("exception_handling");
  BOOST_TEST(r.status == 0, r.err);
  // Caught by tag two calls deep; catch_all (11) then rethrow caught by tag;
  // another tag caught by catch_all only; a try that does not throw.
  BOOST_TEST(r.out == "caught 42 11 77 99 12\n");
}

BOOST_AUTO_TEST_CASE(an_uncaught_exception_is_a_trap) {
  auto r = run("uncaught_exception");
  BOOST_TEST(r.status == 134);
  BOOST_TEST(r.out == "before the throw\n");
  BOOST_TEST(r.err.starts_with("shoal: " + module("uncaught_exception") + ": "), r.err);
}

BOOST_AUTO_TEST_CASE(a_module_of_tens_of_megabytes_runs) {
  BOOST_TEST(std::filesystem::file_size(module("big_module")) > 16u << 20);
  auto r = run("big_module");
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == read_all(required_env("SHOAL_FEATURES_DIR") + "/big_module.expected"));
}
