// Real programs (walk, sort, lzw, lisp, kv in C; wordstats in C++), each
// built natively and to wasm32-wasi from one source, give the same stdout,
// stderr, exit status and files when run on the same generated inputs,
// natively and under `shoal exec`. Besides matching each other, the outputs
// are checked against what the test knows the answer must be.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/support/process.h"

namespace fs = std::filesystem;
using shoal::test::ProcessResult;
using shoal::test::read_file;
using shoal::test::required_env;
using shoal::test::run_process;
using shoal::test::TempDir;

namespace {

// A host path and where the guest sees it.
struct Mount {
  std::string host, guest;
  bool read_only = true;
};

struct Runs {
  ProcessResult native, wasm;
};

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// Runs argv with `input` on stdin. run_process writes stdin with one
// blocking write(), which deadlocks once the program's output fills its
// pipe before the program has read all of its input (as a compressor's
// does); so the input goes through a file and the shell's redirection.
ProcessResult run_with_input(const std::vector<std::string>& argv, const std::string& input) {
  if (input.empty()) return run_process(argv);
  TempDir dir;
  const std::string file = dir.path() + "/stdin";
  write_file(file, input);
  std::vector<std::string> sh = {"/bin/sh", "-c", "exec \"$@\" < \"$0\"", file};
  sh.insert(sh.end(), argv.begin(), argv.end());
  return run_process(sh);
}

std::string program_dir() {
  return required_env("SHOAL_PROGRAMS_DIR");
}

// Runs `name` natively with `args`, and under shoal with each argument that
// starts with a mount's host path rewritten to start with its guest path.
Runs run_both(const std::string& name, const std::vector<std::string>& args,
              const std::vector<Mount>& mounts = {}, const std::string& input = "") {
  std::vector<std::string> native = {program_dir() + "/" + name + "_native"};
  native.insert(native.end(), args.begin(), args.end());
  std::vector<std::string> wasm = {required_env("SHOAL_BIN"), "exec"};
  for (const Mount& m : mounts) {
    wasm.push_back("--dir");
    wasm.push_back(m.host + "::" + m.guest + (m.read_only ? ":ro" : ""));
  }
  wasm.push_back(program_dir() + "/" + name + ".wasm");
  wasm.push_back("--");
  for (std::string a : args) {
    for (const Mount& m : mounts)
      if (a.starts_with(m.host)) a = m.guest + a.substr(m.host.size());
    wasm.push_back(a);
  }
  return {run_with_input(native, input), run_with_input(wasm, input)};
}

// Equal bytes; on a difference, says where (outputs can be megabytes).
boost::test_tools::predicate_result same(const std::string& a, const std::string& b) {
  if (a == b) return true;
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  boost::test_tools::predicate_result r(false);
  r.message() << "native " << a.size() << " bytes, wasm " << b.size()
              << " bytes, first difference at byte " << i << ": native \""
              << a.substr(i > 40 ? i - 40 : 0, 80) << "\" wasm \""
              << b.substr(i > 40 ? i - 40 : 0, 80) << "\"";
  return r;
}

void expect_same(const Runs& r, int status = 0) {
  BOOST_TEST(r.native.status == status, r.native.err);
  BOOST_TEST(r.wasm.status == status, r.wasm.err);
  BOOST_TEST(same(r.native.out, r.wasm.out));
  BOOST_TEST(same(r.native.err, r.wasm.err));
}

// A deterministic stream of numbers (a 64-bit LCG; the high bits are used).
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  uint32_t next(uint32_t bound) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>((state >> 33) % bound);
  }
};

const std::vector<std::string> kWords = {
    "the",   "quick", "brown", "fox",   "jumps",   "over",  "lazy",   "dog",  "shoal",
    "of",    "fish",  "swims", "wasm",  "module",  "runs",  "on",     "v8",   "batch",
    "job",   "a",     "and",   "to",    "sandbox", "file",  "system", "host", "guest",
    "Shoal", "Fish",  "WASM",  "zebra", "apple",   "mango", "kiwi",   "pear", "x",
};

// `lines` lines of 1 to 12 words, with some punctuation; counts each word,
// lower-cased, into `counts` when given.
std::string text(Rng& rng, size_t lines, std::map<std::string, size_t>* counts = nullptr) {
  std::string out;
  for (size_t l = 0; l < lines; ++l) {
    size_t n = 1 + rng.next(12);
    for (size_t w = 0; w < n; ++w) {
      if (w) out += rng.next(8) == 0 ? ", " : " ";
      const std::string& word = kWords[rng.next(static_cast<uint32_t>(kWords.size()))];
      out += word;
      std::string lower = word;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (counts) ++(*counts)[lower];
    }
    out += rng.next(5) == 0 ? ".\n" : "\n";
  }
  return out;
}

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(walk_lists_a_mounted_tree_as_it_does_natively) {
  TempDir root;
  const std::string tree = root.path() + "/tree";
  Rng rng(1);
  uint64_t files = 0, dirs = 0, links = 0, bytes = 0;
  for (const char* d : {"a", "a/b", "a/b/c", "empty", "with space", "z"}) {
    fs::create_directories(tree + "/" + d);
    ++dirs;
  }
  for (const char* d : {"", "/a", "/a/b", "/a/b/c", "/with space", "/z"}) {
    for (const char* name : {"notes.txt", "data.bin", "README", "x1.txt", "Z.md"}) {
      if (rng.next(4) == 0) continue;
      std::string content(rng.next(5000), 'w');
      write_file(tree + d + "/" + name, content);
      ++files;
      bytes += content.size();
    }
  }
  fs::create_symlink("a", tree + "/link-to-a");
  fs::create_symlink("../..", tree + "/a/b/up");
  fs::create_symlink("nowhere", tree + "/dangling");
  links = 3;
  const std::vector<Mount> mounts = {{tree, "/tree"}};

  auto du = run_both("walk", {"-du", tree}, mounts);
  expect_same(du);
  const auto lines = lines_of(du.native.out);
  BOOST_TEST_REQUIRE(!lines.empty());
  BOOST_TEST(lines.back() == "files " + std::to_string(files) + " dirs " + std::to_string(dirs) +
                                 " links " + std::to_string(links) + " bytes " +
                                 std::to_string(bytes));
  BOOST_TEST(du.native.out.find("du " + std::to_string(bytes) + " .\n") != std::string::npos);
  BOOST_TEST(du.native.out.find("l - a/b/up -> ../..\n") != std::string::npos);
  BOOST_TEST(du.native.out.find("d - with space\n") != std::string::npos);

  for (std::vector<std::string> args : {std::vector<std::string>{"-name", "*.txt", "-type", "f"},
                                        {"-name", "[a-m]*", "-maxdepth", "1"},
                                        {"-type", "l"},
                                        {"-name", "*[!.]*.???"}}) {
    args.push_back(tree);
    BOOST_TEST_CONTEXT("walk " << args[0] << " " << args[1])
    expect_same(run_both("walk", args, mounts));
  }
  auto txt = run_both("walk", {"-type", "l", tree}, mounts);
  BOOST_TEST(txt.native.out.starts_with("l - a/b/up -> ../..\nl - dangling -> nowhere\n"
                                        "l - link-to-a -> a\n"),
             txt.native.out);
}

BOOST_AUTO_TEST_CASE(sort_orders_lines_as_it_does_natively) {
  TempDir dir;
  Rng rng(2);
  std::string data;
  for (int i = 0; i < 3000; ++i) {
    data += kWords[rng.next(static_cast<uint32_t>(kWords.size()))] + " ";
    data += (rng.next(3) == 0 ? "-" : "") + std::to_string(rng.next(100000) / (1 + rng.next(50)));
    if (rng.next(4) == 0) data += "." + std::to_string(rng.next(1000));
    data += "," + std::to_string(rng.next(30)) + "," + kWords[rng.next(10)] + "\n";
  }
  const std::string file = dir.path() + "/data.csv";
  write_file(file, data);
  // The file reaches the guest through a single-file mount.
  const std::vector<Mount> mounts = {{file, "/in/data.csv"}};

  for (std::vector<std::string> args : {std::vector<std::string>{},
                                        {"-r"},
                                        {"-n", "-k", "2"},
                                        {"-f", "-u"},
                                        {"-rn", "-k2"},
                                        {"-t", ",", "-k", "2", "-n", "-r"},
                                        {"-s", "-f", "-k", "1"},
                                        {"-u", "-t,", "-k3"}}) {
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    args.push_back(file);
    BOOST_TEST_CONTEXT("sort " << shown) expect_same(run_both("sort", args, mounts));
  }

  // Plain sort is byte order of whole lines.
  auto plain = run_both("sort", {file}, mounts);
  auto want = lines_of(data);
  std::sort(want.begin(), want.end());
  std::string joined;
  for (const auto& l : want) joined += l + "\n";
  BOOST_TEST(same(plain.wasm.out, joined));

  // From stdin, and into a file in a writable mount.
  expect_same(run_both("sort", {"-n", "-k", "2"}, {}, data));
  TempDir out_native, out_wasm;
  auto native =
      run_process({program_dir() + "/sort_native", "-o", out_native.path() + "/out", "-r", file});
  auto wasm = run_process({required_env("SHOAL_BIN"), "exec", "--dir", file + "::/in/data.csv",
                           "--dir", out_wasm.path() + "::/out", program_dir() + "/sort.wasm", "--",
                           "-o", "/out/out", "-r", "/in/data.csv"});
  BOOST_TEST(native.status == 0);
  BOOST_TEST(wasm.status == 0, wasm.err);
  BOOST_TEST(same(read_file(out_native.path() + "/out"), read_file(out_wasm.path() + "/out")));
  BOOST_TEST(read_file(out_wasm.path() + "/out").size() == data.size());
}

BOOST_AUTO_TEST_CASE(lzw_compresses_to_the_same_bytes_and_round_trips) {
  Rng rng(3);
  std::string input = text(rng, 6000);
  for (int i = 0; i < 60000; ++i) input += static_cast<char>(rng.next(256));
  input += text(rng, 2000);

  auto compressed = run_both("lzw", {"-c", "-t"}, {}, input);
  expect_same(compressed);
  BOOST_TEST(compressed.native.out.starts_with("LZW1"));
  BOOST_TEST(compressed.native.out.size() < input.size() * 6 / 10);
  BOOST_TEST(compressed.native.err.find(" clears\n") != std::string::npos);

  // Each side decompresses what the other compressed.
  auto back = run_both("lzw", {"-d"}, {}, compressed.wasm.out);
  expect_same(back);
  BOOST_TEST(same(back.wasm.out, input));
  BOOST_TEST(same(run_both("lzw", {"-d"}, {}, compressed.native.out).wasm.out, input));

  auto empty = run_both("lzw", {"-c"}, {}, "");
  expect_same(empty);
  BOOST_TEST(same(run_both("lzw", {"-d"}, {}, empty.wasm.out).wasm.out, ""));

  auto corrupt = run_both("lzw", {"-d"}, {}, "not compressed");
  expect_same(corrupt, 1);
  BOOST_TEST(corrupt.wasm.err == "lzw: corrupt input: no LZW1 header\n");
}

BOOST_AUTO_TEST_CASE(lisp_runs_a_program_as_it_does_natively) {
  const std::string script = required_env("SHOAL_PROGRAMS_SRC") + "/lisp_demo.scm";
  auto r = run_both("lisp", {script}, {{script, "/src/lisp_demo.scm"}});
  expect_same(r);
  for (const char* line :
       {"fib 22: 17711\n", "fact 20: 2432902008176640000\n", "sum to 200000: 20000100000\n",
        "primes below 200: 46\n", "sorted is ordered: #t\n", "counters: (3 2)\n",
        "ackermann 2 3: 9\n", "longest collatz below 3000: (2919 217)\n", "6 queens: 4\n",
        "string: \"total 15 fruit\"\n", "quotient and remainder: (-3 -2)\n"})
    BOOST_TEST(r.wasm.out.find(line) != std::string::npos, line);
  BOOST_TEST(r.wasm.out.ends_with("done\n"));

  auto error = run_both("lisp", {}, {}, "(display \"before\") (newline) (car 5) (display 1)");
  expect_same(error, 1);
  BOOST_TEST(error.wasm.out == "before\nerror: car of a non-pair\n");
}

BOOST_AUTO_TEST_CASE(kv_writes_byte_identical_files_across_sessions) {
  TempDir native_dir, wasm_dir;
  const std::string native_db = native_dir.path() + "/db", wasm_db = wasm_dir.path() + "/db";
  Rng rng(4);
  std::map<std::string, std::string> model;
  std::string session1;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "user:" + std::to_string(rng.next(400));
    const uint32_t op = rng.next(10);
    if (op < 6) {
      const std::string value = "value " + std::to_string(i) + " " + kWords[rng.next(20)];
      session1 += "put " + key + " " + value + "\n";
      model[key] = value;
    } else if (op < 8) {
      session1 += "get " + key + "\n";
    } else {
      session1 += "del " + key + "\n";
      model.erase(key);
    }
  }
  session1 += "count\nstats\nsync\n";
  const std::string session2 = "get user:7\nscan user:1\ncompact\nstats\ncount\nscan\n";

  for (const std::string& commands : {session1, session2}) {
    auto native = run_with_input({program_dir() + "/kv_native", native_db}, commands);
    auto wasm = run_with_input({required_env("SHOAL_BIN"), "exec", "--dir",
                                wasm_dir.path() + "::/db", program_dir() + "/kv.wasm", "/db/db"},
                               commands);
    BOOST_TEST(native.status == 0, native.err);
    BOOST_TEST(wasm.status == 0, wasm.err);
    BOOST_TEST(same(native.out, wasm.out));
    BOOST_TEST(same(read_file(native_db), read_file(wasm_db)));
    BOOST_TEST(wasm.out.find("count: " + std::to_string(model.size()) + "\n") != std::string::npos,
               wasm.out.substr(wasm.out.size() > 300 ? wasm.out.size() - 300 : 0));
    if (&commands == &session2) {
      // The final scan lists exactly the model, in key order.
      std::string want;
      for (const auto& [k, v] : model) want += k + "=" + v + "\n";
      want += "scan: " + std::to_string(model.size()) + " keys\n";
      BOOST_TEST(same(wasm.out.substr(wasm.out.size() - want.size()), want));
      BOOST_TEST(wasm.out.find(" 0 dead bytes") != std::string::npos);
    }
  }
  // The rebuilds renamed their temporary file over the database.
  BOOST_TEST((entries(wasm_dir.path()) == std::set<std::string>{"db"}));
}

BOOST_AUTO_TEST_CASE(wordstats_in_cxx_through_libcxx_matches_libstdcxx) {
  Rng rng(5);
  std::map<std::string, size_t> counts;
  const std::string input = text(rng, 4000, &counts);
  auto r = run_both("wordstats", {"-n", "12"}, {}, input);
  expect_same(r);
  size_t words = 0;
  for (const auto& c : counts) words += c.second;
  BOOST_TEST(r.wasm.out.starts_with("lines 4000 words " + std::to_string(words) + " chars " +
                                    std::to_string(input.size()) + " distinct " +
                                    std::to_string(counts.size()) + "\n"),
             r.wasm.out.substr(0, 80));
  // The most frequent word (ties in byte order) heads the table.
  auto top = std::min_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::string row = "\ntop words\n  " + top->first;
  row += std::string(16 - top->first.size(), ' ');
  const std::string count = std::to_string(top->second);
  row += std::string(7 - count.size(), ' ') + count;
  BOOST_TEST(r.wasm.out.find(row) != std::string::npos, row);

  auto usage = run_both("wordstats", {"-n", "zero"});
  expect_same(usage, 2);
  BOOST_TEST(usage.wasm.err == "usage: wordstats [-n TOP] < text\n");
}
