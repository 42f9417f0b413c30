// `shoal exec` as a user runs it: stdout, stderr and the exit status.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/support/process.h"

using shoal::test::run_process;
using shoal::test::TempDir;
using shoal::test::test_wasm;

namespace {
std::string shoal_bin() {
  return shoal::test::required_env("SHOAL_BIN");
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}
}  // namespace

BOOST_AUTO_TEST_CASE(hello_world_gets_arguments_and_environment) {
  auto r = run_process({shoal_bin(), "exec", "-e", "GREETING=hi", "-e",
                        "EMPTY=", test_wasm("args_env"), "one", "two words"});
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.out == "argc=3\narg[0]=" + test_wasm("args_env") +
                          "\narg[1]=one\narg[2]=two words\nenv GREETING=hi\nenv EMPTY=\n");
  BOOST_TEST(r.err == "to stderr\n");
}

BOOST_AUTO_TEST_CASE(host_environment_is_not_leaked_to_the_guest) {
  auto r = run_process({shoal_bin(), "exec", test_wasm("args_env")});
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.out.find("env ") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(arguments_after_double_dash_may_start_with_a_dash) {
  auto r = run_process({shoal_bin(), "exec", test_wasm("args_env"), "--", "-e", "--dir"});
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.out.find("arg[1]=-e\narg[2]=--dir\n") != std::string::npos);
}

// wasmtime's convention: everything after the module is the program's, flags
// of shoal's own names included; shoal's flags go before the module.
BOOST_AUTO_TEST_CASE(everything_after_the_module_belongs_to_the_program) {
  auto r = run_process({shoal_bin(), "exec", "--timeout", "30", "-e", "A=1", test_wasm("args_env"),
                        "-c", "file", "-O2", "--timeout", "-e", "B=2"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "argc=7\narg[0]=" + test_wasm("args_env") +
                          "\narg[1]=-c\narg[2]=file\narg[3]=-O2\narg[4]=--timeout\narg[5]=-e"
                          "\narg[6]=B=2\nenv A=1\n");
  // A -- right after the module is still shoal's, as before.
  auto dashed = run_process({shoal_bin(), "exec", test_wasm("args_env"), "--", "-x"});
  BOOST_TEST(dashed.out == "argc=2\narg[0]=" + test_wasm("args_env") + "\narg[1]=-x\n");
}

BOOST_AUTO_TEST_CASE(proc_exit_code_becomes_the_exit_status) {
  for (int code : {0, 1, 7, 42, 255}) {
    auto r = run_process({shoal_bin(), "exec", test_wasm("exit_code"), std::to_string(code)});
    BOOST_TEST(r.status == code);
    BOOST_TEST(r.out == "exiting with " + std::to_string(code) + "\n");
    BOOST_TEST(r.err == "");
  }
}

BOOST_AUTO_TEST_CASE(returning_from_start_is_exit_code_zero) {
  auto r = run_process({shoal_bin(), "exec", test_wasm("stdin_echo")});
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.out == "");
}

BOOST_AUTO_TEST_CASE(stdin_reaches_the_guest) {
  auto r = run_process({shoal_bin(), "exec", test_wasm("stdin_echo")}, "shoal reads stdin\n");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.out == "SHOAL READS STDIN\n");
}

BOOST_AUTO_TEST_CASE(a_trap_prints_its_message_and_exits_134) {
  auto r = run_process({shoal_bin(), "exec", test_wasm("trap")});
  BOOST_TEST(r.status == 134);
  BOOST_TEST(r.out == "before the trap\n");
  BOOST_TEST(r.err.find("unreachable") != std::string::npos, r.err);
  BOOST_TEST(r.err.starts_with("shoal: "));
}

// A trap shows the wasm frames, innermost first, named from the module's
// name section.
BOOST_AUTO_TEST_CASE(a_trap_shows_its_backtrace_with_function_names) {
  auto r = run_process({shoal_bin(), "exec", test_wasm("trap_deep")});
  BOOST_TEST(r.status == 134);
  const size_t inner = r.err.find("\n    at innermost_frame (wasm-function[");
  const size_t middle = r.err.find("\n    at middle_frame (wasm-function[");
  BOOST_TEST(inner != std::string::npos, r.err);
  BOOST_TEST(middle != std::string::npos, r.err);
  BOOST_TEST(inner < middle, r.err);
  BOOST_TEST(r.err.find("wasm://") == std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(missing_module_file_is_named) {
  auto r = run_process({shoal_bin(), "exec", "/nonexistent/prog.wasm"});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.out == "");
  BOOST_TEST(r.err == "shoal: cannot read /nonexistent/prog.wasm: No such file or directory\n");
}

BOOST_AUTO_TEST_CASE(a_directory_is_not_a_module) {
  TempDir dir;
  auto r = run_process({shoal_bin(), "exec", dir.path()});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err == "shoal: cannot read " + dir.path() + ": is a directory\n");
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_wasm_is_refused_in_one_line) {
  TempDir dir;
  std::string path = dir.path() + "/notes.wasm";
  write_file(path, "this is text, not wasm\n");
  auto r = run_process({shoal_bin(), "exec", path});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err == "shoal: " + path +
                          ": not a WebAssembly module (it does not start with the bytes \\0asm)\n");
}

BOOST_AUTO_TEST_CASE(a_truncated_module_is_refused_in_one_line) {
  TempDir dir;
  std::ifstream in(test_wasm("args_env"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string path = dir.path() + "/cut.wasm";
  write_file(path, bytes.substr(0, bytes.size() / 2));
  auto r = run_process({shoal_bin(), "exec", path});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err.starts_with("shoal: " + path + ": "));
  BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
}

BOOST_AUTO_TEST_CASE(a_module_without_start_is_refused) {
  auto r = run_process({shoal_bin(), "exec", test_wasm("reactor")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err.find("exports no function '_start'") != std::string::npos, r.err);
  BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') == 1, r.err);
}

BOOST_AUTO_TEST_CASE(an_unknown_import_is_named) {
  auto r = run_process({shoal_bin(), "exec", test_wasm("unknown_import")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err == "shoal: " + test_wasm("unknown_import") +
                          ": the module imports env.launch_missiles (function), which shoal "
                          "does not provide\n");
}

BOOST_AUTO_TEST_CASE(a_bad_env_flag_is_refused) {
  auto r = run_process({shoal_bin(), "exec", "-e", "NOEQUALS", test_wasm("args_env")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err == "shoal: -e NOEQUALS: expected KEY=VALUE\n");
}

BOOST_AUTO_TEST_CASE(a_missing_dir_is_named) {
  auto r = run_process({shoal_bin(), "exec", "--dir", "/nonexistent::/data", test_wasm("files")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err == "shoal: mount /nonexistent at /data: No such file or directory\n");
}

BOOST_AUTO_TEST_CASE(files_in_a_mounted_directory_round_trip) {
  TempDir dir;
  auto r = run_process({shoal_bin(), "exec", "--dir", dir.path() + "::/data", test_wasm("files")});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out ==
             "read 18 bytes: line one\nline two\nsize 18\nfound moved.txt\nentries 3\n"
             "unlink 0\nrmdir 0\n");
  BOOST_TEST(std::filesystem::is_empty(dir.path()));
}

BOOST_AUTO_TEST_CASE(a_read_only_mount_refuses_writes) {
  TempDir dir;
  auto r =
      run_process({shoal_bin(), "exec", "--dir", dir.path() + "::/data:ro", test_wasm("files")});
  BOOST_TEST(r.status == 2);
  BOOST_TEST(r.err == "fopen /data/out.txt: Read-only file system\n");
  BOOST_TEST(std::filesystem::is_empty(dir.path()));
}

BOOST_AUTO_TEST_CASE(paths_outside_the_mount_are_refused) {
  TempDir dir;
  std::filesystem::create_directory(dir.path() + "/inside");
  write_file(dir.path() + "/secret.txt", "secret");
  std::filesystem::create_symlink("../secret.txt", dir.path() + "/inside/link");
  std::filesystem::create_symlink("/etc/passwd", dir.path() + "/inside/abs");
  for (std::string path : {"/data/../secret.txt", "/data/link", "/data/abs", "/etc/passwd",
                           "/data/./../inside/../secret.txt"}) {
    auto r = run_process({shoal_bin(), "exec", "--dir", dir.path() + "/inside::/data",
                          test_wasm("files"), "open", path});
    BOOST_TEST(r.status == 0, path + ": " + r.out);
    BOOST_TEST(r.out.starts_with("refused " + path), r.out);
  }
}

BOOST_AUTO_TEST_CASE(help_is_printed_and_exits_zero) {
  auto r = run_process({shoal_bin(), "exec", "--help"});
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.out.find("--dir") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(version_names_shoal_its_commit_and_v8) {
  auto r = run_process({shoal_bin(), "--version"});
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.out.starts_with("shoal 0.1.0 (commit "), r.out);
  BOOST_TEST(r.out.find(", V8 10.2.") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(timeout_stops_a_tight_loop_and_exits_124) {
  auto r = run_process({shoal_bin(), "exec", "--timeout", "0.2", test_wasm("spin")});
  BOOST_TEST(r.status == 124);
  BOOST_TEST(r.out == "spinning\n");
  BOOST_TEST(r.err ==
             "shoal: " + test_wasm("spin") + ": the program timed out after 0.2 s (--timeout)\n");
}

BOOST_AUTO_TEST_CASE(memory_limit_makes_malloc_fail_inside_the_guest) {
  auto r = run_process({shoal_bin(), "exec", "--memory", "32MiB", test_wasm("memory_hog"), "100"});
  BOOST_TEST(r.status == 0, r.err);
  // The program's own data and stack take a little of the 32 MiB.
  BOOST_TEST(r.out.starts_with("allocated 3"), r.out);
  int got = std::stoi(r.out.substr(10));
  BOOST_TEST(got >= 28);
  BOOST_TEST(got < 32);
}

BOOST_AUTO_TEST_CASE(a_program_that_aborts_at_the_memory_limit_is_told_why) {
  auto r = run_process(
      {shoal_bin(), "exec", "--memory", "32MiB", test_wasm("memory_hog"), "100", "abort"});
  BOOST_TEST(r.status == 134);
  BOOST_TEST(r.err.find("of its 32.0 MiB limit: the program probably ran out of memory") !=
                 std::string::npos,
             r.err);
}

BOOST_AUTO_TEST_CASE(a_module_too_big_for_the_memory_limit_is_refused_before_it_runs) {
  auto r = run_process({shoal_bin(), "exec", "--memory", "16MiB", test_wasm("big_start")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.out == "");
  BOOST_TEST(r.err.find("more than the memory limit of 16.0 MiB") != std::string::npos, r.err);
  auto fits = run_process({shoal_bin(), "exec", "--memory", "128MiB", test_wasm("big_start")});
  BOOST_TEST(fits.status == 0);
  BOOST_TEST(fits.out == "1\n");
}

BOOST_AUTO_TEST_CASE(a_bad_size_is_named) {
  auto r = run_process({shoal_bin(), "exec", "--memory", "12X", test_wasm("spew")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err == "shoal: --memory: '12X': unknown unit 'x' (use KiB, MiB or GiB)\n");
}

BOOST_AUTO_TEST_CASE(runaway_recursion_traps_cleanly) {
  auto r = run_process({shoal_bin(), "exec", test_wasm("recurse")});
  BOOST_TEST(r.status == 134);
  BOOST_TEST(r.out == "");
  // The trap, the frame that recursed once with its count, and the first
  // call: no flood of frames.
  BOOST_TEST(std::count(r.err.begin(), r.err.end(), '\n') <= 5, r.err);
  BOOST_TEST(r.err.find("\n    ... the same frame ") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(stdout_past_its_limit_is_dropped_and_reported) {
  auto r =
      run_process({shoal_bin(), "exec", "--stdout-limit", "1KiB", test_wasm("spew"), "100000"});
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.out == std::string(1024, 'x'));
  BOOST_TEST(r.err ==
             "done\nshoal: stdout truncated: 98976 bytes past --stdout-limit were dropped\n");
}

BOOST_AUTO_TEST_CASE(the_fd_cap_is_a_flag) {
  auto r = run_process({shoal_bin(), "exec", "--max-fds", "2", test_wasm("args_env")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err.find("--max-fds") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(a_second_process_starts_from_the_code_cache) {
  TempDir cache;
  std::vector<std::string> cmd = {shoal_bin(),    "exec",       "--verbose",
                                  "--code-cache", cache.path(), test_wasm("counter")};
  auto first = run_process(cmd);
  BOOST_TEST(first.status == 0);
  BOOST_TEST(first.out == "1\n");
  BOOST_TEST(first.err.find("shoal: code cache: miss, compiled\n") != std::string::npos, first.err);
  auto second = run_process(cmd);
  BOOST_TEST(second.status == 0);
  BOOST_TEST(second.out == "1\n");
  BOOST_TEST(second.err.find("shoal: code cache: hit\n") != std::string::npos, second.err);
  // Without --verbose the cache says nothing.
  cmd.erase(cmd.begin() + 2);
  auto quiet = run_process(cmd);
  BOOST_TEST(quiet.out == "1\n");
  BOOST_TEST(quiet.err == "");
}

BOOST_AUTO_TEST_CASE(a_run_that_calls_more_functions_grows_the_code_cache_entry) {
  // V8 compiles lazily: an entry holds the functions the runs so far
  // called, and a run that called others stores it again, larger.
  TempDir cache;
  auto run = [&](const std::string& path) {
    return run_process({shoal_bin(), "exec", "--verbose", "--code-cache", cache.path(),
                        test_wasm("two_paths"), path});
  };
  auto first = run("a");
  BOOST_TEST(first.out == "a 2470\n");
  BOOST_TEST(first.err.find("code cache: miss, compiled\n") != std::string::npos, first.err);
  BOOST_TEST(first.err.find("code cache: stored ") != std::string::npos, first.err);
  BOOST_TEST(first.err.find("grown from") == std::string::npos, first.err);
  auto same = run("a");
  BOOST_TEST(same.err.find("code cache: hit\n") != std::string::npos, same.err);
  BOOST_TEST(same.err.find("code cache: stored") == std::string::npos, same.err);
  auto other = run("b");
  BOOST_TEST(other.out == "b 99\n");
  BOOST_TEST(other.err.find("code cache: hit\n") != std::string::npos, other.err);
  BOOST_TEST(other.err.find("code cache: stored ") != std::string::npos, other.err);
  BOOST_TEST(other.err.find("(grown from ") != std::string::npos, other.err);
  auto again = run("b");
  BOOST_TEST(again.out == "b 99\n");
  BOOST_TEST(again.err.find("code cache: stored") == std::string::npos, again.err);
}

BOOST_AUTO_TEST_CASE(an_invalid_function_nothing_calls_is_refused_at_compile) {
  // V8 compiles each function on its first call, but validates them all
  // before the program starts.
  auto r = run_process({shoal_bin(), "exec", "--no-code-cache", test_wasm("invalid_uncalled")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err.find("Compiling function #0 failed") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(a_corrupt_code_cache_entry_is_removed_and_the_module_compiled) {
  TempDir cache;
  std::vector<std::string> cmd = {shoal_bin(),    "exec",       "--verbose",
                                  "--code-cache", cache.path(), test_wasm("counter")};
  BOOST_REQUIRE(run_process(cmd).status == 0);
  // Flip a byte of the stored code in the LMDB file (an entry starts with
  // the magic "shoalcc1", 8 bytes of flags and 8 of checksum).
  const std::string file = cache.path() + "/data.mdb";
  std::string data;
  {
    std::ifstream in(file, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto at = data.find("shoalcc1");
  BOOST_REQUIRE(at != std::string::npos);
  BOOST_REQUIRE(at + 24 + 100 < data.size());
  data[at + 24 + 100] ^= 0x40;
  {
    std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(at + 24 + 100));
    out.put(data[at + 24 + 100]);
  }
  auto r = run_process(cmd);
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.out == "1\n");
  BOOST_TEST(r.err.find("code cache: miss, compiled (the cached code is corrupt (checksum "
                        "mismatch))\n") != std::string::npos,
             r.err);
  auto again = run_process(cmd);
  BOOST_TEST(again.out == "1\n");
  BOOST_TEST(again.err.find("code cache: hit\n") != std::string::npos, again.err);
}

BOOST_AUTO_TEST_CASE(output_is_buffered_as_a_native_program_buffers_it) {
  // Piped: not a terminal, so wasi-libc writes stdout by block, not by line.
  auto piped = run_process({shoal_bin(), "exec", test_wasm("buffering")});
  BOOST_TEST(piped.status == 0, piped.err);
  BOOST_TEST(piped.out == "stdout is not a terminal\nstderr is not a terminal\n");
  auto to_null = run_process(
      {"/bin/sh", "-c", "\"$0\" exec \"$1\" 2>/dev/null", shoal_bin(), test_wasm("buffering")});
  BOOST_TEST(to_null.out == "stdout is not a terminal\nstderr is not a terminal\n");
  // On a terminal (script(1) gives it one): by line, as natively.
  auto tty =
      run_process({"script", "-qec", shoal_bin() + " exec " + test_wasm("buffering"), "/dev/null"});
  BOOST_TEST(tty.status == 0, tty.err);
  BOOST_TEST(tty.out == "stdout is a terminal\r\nstderr is a terminal\r\n");
}
