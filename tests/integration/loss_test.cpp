// Nothing dropped without a word: output past a limit, output files past
// the broker's caps, mounts that cannot all be given, and data piped into
// `shoal wasm run` without --stdin are each said to the user, by every
// command that shows the result.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/process.h"
#include "tests/support/shoal_home.h"

namespace fs = std::filesystem;
using nlohmann::json;
using shoal::test::TempDir;
using shoal::test::test_wasm;
using shoal::test::trim;

namespace {

using Home = shoal::test::PrivateHome;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

BOOST_AUTO_TEST_CASE(stdout_past_its_limit_is_said_by_run_logs_get_and_describe) {
  Home h;
  TempDir d;
  const std::string cut = "stdout was cut at 1.0 KiB (--stdout-limit); 98976 bytes dropped";
  auto run = h.shoal({"wasm", "run", "--stdout-limit", "1KiB", test_wasm("spew"), "100000"});
  BOOST_TEST(run.status == 0, run.err);  // Completed, with a warning
  BOOST_TEST(run.out.size() == 1024u);
  BOOST_TEST(has(run.err, "done\n"), run.err);
  BOOST_TEST(has(run.err, ": " + cut + "\n"), run.err);

  auto sub =
      h.shoal({"wasm", "run", "--no-wait", "--stdout-limit", "1KiB", test_wasm("spew"), "100000"});
  BOOST_TEST_REQUIRE(sub.status == 0, sub.err);
  const std::string id = trim(sub.out);
  BOOST_TEST(h.shoal({"job", "wait", id}).status == 0);
  const std::string line = "shoal: job " + id + ": " + cut + "\n";
  auto logs = h.shoal({"job", "logs", id});
  BOOST_TEST(logs.out.size() == 1024u);
  BOOST_TEST(logs.err == "done\n" + line);
  auto get = h.shoal({"job", "get", id, "--output-dir", d.path() + "/got"});
  BOOST_TEST(get.status == 0, get.err);
  BOOST_TEST(get.err == line);
  BOOST_TEST(fs::file_size(d.path() + "/got/stdout") == 1024u);
  auto desc = h.shoal({"job", "describe", id});
  BOOST_TEST(has(desc.out, "Output Limits\n  " + cut + "\n"), desc.out);
  json j = h.job(id);
  BOOST_TEST(j["spec"]["stdout_limit"] == 1024);
  BOOST_TEST(j["executions"][0]["stdout_dropped"] == 98976);
}

// Past the old 64 MiB cap: kept whole, nothing said.
BOOST_AUTO_TEST_CASE(the_default_keeps_more_than_sixty_four_mib) {
  Home h;
  const uint64_t bytes = 70ull << 20;
  auto run = h.shoal({"wasm", "run", test_wasm("spew"), std::to_string(bytes)});
  BOOST_TEST(run.status == 0, run.err);
  BOOST_TEST(run.out.size() == bytes);
  BOOST_TEST(run.err == "done\n");
}

BOOST_AUTO_TEST_CASE(output_files_past_the_cap_are_said_by_run_get_and_describe) {
  Home h;
  TempDir d;
  auto run = h.shoal({"wasm", "run", test_wasm("flood_files"), "files", "/outputs", "10005"});
  BOOST_TEST(run.status == 0, run.err);
  const std::string cut =
      "output files were cut: outputs truncated: 10000 files (9.8 KiB) were kept; the "
      "collection stopped at the cap of 10000 files per job\n";
  BOOST_TEST(has(run.err, cut), run.err);
  auto list = h.shoal({"job", "list", "--output", "json", "--wide"});
  BOOST_TEST_REQUIRE(list.status == 0, list.err);
  const std::string id = json::parse(list.out).at(0)["ID"];
  auto get = h.shoal({"job", "get", id, "--output-dir", d.path() + "/got"});
  BOOST_TEST(get.status == 0, get.err);
  BOOST_TEST(get.err == "shoal: job " + id + ": " + cut, get.err);
  auto desc = h.shoal({"job", "describe", id});
  BOOST_TEST(has(desc.out, "outputs truncated: 10000 files (9.8 KiB) were kept"), desc.out);
}

BOOST_AUTO_TEST_CASE(mounts_that_claim_one_guest_directory_are_refused_at_submission) {
  Home h;
  TempDir d;
  write_file(d.path() + "/f.txt", "hi\n");
  auto r = shoal::test::run_process(
      {"/bin/sh", "-c",
       "cd \"$1\" && exec \"$2\" wasm run -o a:/inputs -i ./f.txt:/inputs/f.txt \"$3\"", "sh",
       d.path(), shoal::test::shoal_bin(), test_wasm("exit_code")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err ==
             "shoal: --output a:/inputs and --input ./f.txt:/inputs/f.txt both claim /inputs\n");
  // The same spec through the protocol (a Bacalhau spec): the broker's
  // check refuses it, in the guest's terms.
  fs::copy_file(test_wasm("exit_code"), d.path() + "/main.wasm");
  write_file(d.path() + "/job.yaml",
             "Type: batch\n"
             "Tasks:\n"
             "  - Engine: {Type: wasm, Params: {EntryModule: " +
                 d.path() +
                 "/main.wasm}}\n"
                 "    ResultPaths: [{Name: a, Path: /inputs}]\n"
                 "    InputSources:\n"
                 "      - Target: /inputs/f.txt\n"
                 "        Source: {Type: local, Params: {SourcePath: " +
                 d.path() + "/f.txt}}\n");
  auto spec = h.shoal({"job", "run", d.path() + "/job.yaml"});
  BOOST_TEST(spec.status != 0);
  BOOST_TEST(has(spec.err, "output a:/inputs and input " + d.path() +
                               "/f.txt:/inputs/f.txt both claim /inputs"),
             spec.err);
}

// A conflict only the worker can see (a directory input and a file input
// in it, kinds the broker does not look at) fails the job with a message
// that names guest paths, never the broker's scratch directory.
BOOST_AUTO_TEST_CASE(a_mount_conflict_seen_by_the_worker_shows_no_host_path) {
  Home h;
  TempDir d;
  fs::create_directory(d.path() + "/in");
  write_file(d.path() + "/f.txt", "hi\n");
  fs::copy_file(test_wasm("exit_code"), d.path() + "/main.wasm");
  write_file(d.path() + "/job.yaml",
             "Type: batch\n"
             "Tasks:\n"
             "  - Engine: {Type: wasm, Params: {EntryModule: " +
                 d.path() +
                 "/main.wasm}}\n"
                 "    InputSources:\n"
                 "      - Target: /in\n"
                 "        Source: {Type: local, Params: {SourcePath: " +
                 d.path() +
                 "/in}}\n"
                 "      - Target: /in/f.txt\n"
                 "        Source: {Type: local, Params: {SourcePath: " +
                 d.path() + "/f.txt}}\n");
  auto r = h.shoal({"job", "run", d.path() + "/job.yaml"});
  BOOST_TEST(r.status != 0);
  BOOST_TEST(has(r.err,
                 "the mount at /in and the mount at /in/f.txt both claim the guest "
                 "directory /in"),
             r.err);
  BOOST_TEST(!has(r.err, "scratch"), r.err);
  BOOST_TEST(!has(r.err, h.path), r.err);
}

BOOST_AUTO_TEST_CASE(data_piped_in_without_stdin_is_said_not_sent) {
  Home h;
  auto r = h.shoal({"wasm", "run", test_wasm("stdin_echo")}, "hello\n");
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "");
  BOOST_TEST(r.err ==
             "shoal: stdin is a pipe holding data, which was not sent to the job: the program's "
             "stdin is empty unless --stdin is given (--stdin - sends this stdin, --stdin FILE a "
             "file)\n");
  auto sent = h.shoal({"wasm", "run", "--stdin", "-", test_wasm("stdin_echo")}, "hello\n");
  BOOST_TEST(sent.status == 0, sent.err);
  BOOST_TEST(sent.out == "HELLO\n");
  BOOST_TEST(sent.err == "");
  auto none = h.shoal({"wasm", "run", test_wasm("stdin_echo")});
  BOOST_TEST(none.err == "");
}
