// The command line as a new user meets it: help with no command, `help` and
// `version` as Bacalhau has them, a mistyped command named with the nearest
// one, and an unknown flag named first.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>

#include "tests/support/process.h"
#include "tests/support/shoal_home.h"

using shoal::test::run_process;
using shoal::test::shoal_bin;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(shoal_alone_and_shoal_help_print_the_commands) {
  for (auto args :
       {std::vector<std::string>{shoal_bin()}, std::vector<std::string>{shoal_bin(), "help"}}) {
    auto r = run_process(args);
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(has(r.out, "shoal runs WebAssembly (WASI) programs as batch jobs."), r.out);
    BOOST_TEST(has(r.out, "wasm"), r.out);
    BOOST_TEST(has(r.out, "job"), r.out);
    BOOST_TEST(r.err == "");
  }
}

BOOST_AUTO_TEST_CASE(help_of_a_command_is_its_own_help) {
  auto r = run_process({shoal_bin(), "help", "job", "list"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(has(r.out, "--id-filter"), r.out);
  auto job = run_process({shoal_bin(), "job"});  // a command that needs a subcommand
  BOOST_TEST(job.status == 0, job.err);
  BOOST_TEST(has(job.out, "list"), job.out);
  BOOST_TEST(has(job.out, "describe"), job.out);
}

BOOST_AUTO_TEST_CASE(version_is_a_command_too) {
  auto v = run_process({shoal_bin(), "version"});
  auto flag = run_process({shoal_bin(), "--version"});
  BOOST_TEST(v.status == 0);
  BOOST_TEST(v.out.starts_with("shoal "), v.out);
  BOOST_TEST(has(v.out, " (commit "), v.out);
  BOOST_TEST(has(v.out, ", V8 "), v.out);
  BOOST_TEST(v.out == flag.out);
}

BOOST_AUTO_TEST_CASE(a_mistyped_command_is_named_with_the_nearest_one) {
  auto r = run_process({shoal_bin(), "job", "lsit"});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.out == "");
  BOOST_TEST(r.err ==
             "shoal: unknown command 'lsit' for 'shoal job'; did you mean 'list'?\n"
             "Run 'shoal job --help' for its commands.\n");
  auto far = run_process({shoal_bin(), "frobnicate"});
  BOOST_TEST(far.status == 125);
  BOOST_TEST(far.err ==
             "shoal: unknown command 'frobnicate' for 'shoal'\nRun 'shoal --help' for its "
             "commands.\n");
}

BOOST_AUTO_TEST_CASE(an_unknown_flag_is_named_first_and_wasm_run_says_where_program_flags_go) {
  auto r = run_process({shoal_bin(), "job", "run", "-Z", "a=b", "job.yaml"});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err.starts_with("shoal: shoal job run: unknown flag -Z (see shoal job run --help)"),
             r.err);
  auto w = run_process({shoal_bin(), "wasm", "run", "prog.wasm", "-x"});
  BOOST_TEST(w.status == 125);
  BOOST_TEST(w.err ==
             "shoal: shoal wasm run: unknown flag -x (see shoal wasm run --help); arguments for "
             "the program itself that start with '-' go after --: shoal wasm run prog.wasm -e "
             "K=V -- -x\n");
}

BOOST_AUTO_TEST_CASE(
    durations_are_taken_as_bacalhau_takes_them_and_bad_ones_are_worded_for_people) {
  auto ok = run_process({shoal_bin(), "wasm", "run", "--dry-run", "--timeout", "1h30m",
                         shoal::test::required_env("SHOAL_TEST_WASM_DIR") + "/exit_code.wasm"});
  BOOST_TEST(ok.status == 0, ok.err);
  BOOST_TEST(has(ok.out, "ExecutionTimeout: 5400\n"), ok.out);
  auto negative = run_process({shoal_bin(), "wasm", "run", "--timeout", "-1", "x.wasm"});
  BOOST_TEST(negative.status == 125);
  BOOST_TEST(negative.err == "shoal: --timeout: '-1' is negative\n");
  auto unit = run_process({shoal_bin(), "wasm", "run", "--timeout", "1x", "x.wasm"});
  BOOST_TEST(unit.err == "shoal: --timeout: '1x': unknown unit 'x' (use ms, s, m, h or d)\n");
  auto tail = run_process({shoal_bin(), "job", "logs", "--tail", "j-1", "x"});
  BOOST_TEST(tail.status == 125);
  BOOST_TEST(tail.err ==
             "shoal: --tail j-1: expected a number of lines (up to 999999999), or --tail alone "
             "for the last 10\n");
}

// Bacalhau's list flags on executions and history, and stop --quiet.
BOOST_AUTO_TEST_CASE(executions_and_history_take_bacalhaus_list_flags_and_stop_can_be_quiet) {
  shoal::test::PrivateHome h;
  const std::string wasm = shoal::test::required_env("SHOAL_TEST_WASM_DIR");
  auto run = h.shoal({"wasm", "run", "--id-only", wasm + "/exit_code.wasm", "0"});
  BOOST_TEST_REQUIRE(run.status == 0, run.err);
  const std::string id = shoal::test::trim(run.out);
  auto events = h.shoal({"job", "history", id, "--output", "csv", "--hide-header"});
  BOOST_TEST(events.status == 0, events.err);
  BOOST_TEST(!has(events.out, "TIME,TOPIC,EVENT"), events.out);
  const auto lines = std::count(events.out.begin(), events.out.end(), '\n');
  BOOST_TEST(lines >= 3, events.out);
  auto limited = h.shoal({"job", "history", id, "--limit", "2", "--no-style", "--wide"});
  BOOST_TEST(limited.status == 0, limited.err);
  BOOST_TEST(std::count(limited.out.begin(), limited.out.end(), '\n') == 3, limited.out);
  BOOST_TEST(limited.err == "shoal: showing 2 of " + std::to_string(lines) +
                                " events (--limit; --limit 0 shows all)\n");
  auto execs = h.shoal({"job", "executions", id, "--hide-header", "--limit", "5"});
  BOOST_TEST(execs.status == 0, execs.err);
  BOOST_TEST(!has(execs.out, "ATTEMPT"), execs.out);
  BOOST_TEST(execs.err == "");
  auto spin = h.shoal({"wasm", "run", "--id-only", "--wait=false", wasm + "/spin.wasm"});
  auto quiet = h.shoal({"job", "stop", "--quiet", shoal::test::trim(spin.out)});
  BOOST_TEST(quiet.status == 0, quiet.err);
  BOOST_TEST(quiet.out == "");
  auto missing = h.shoal({"job", "stop", "-q", "j-00000000-none"});
  BOOST_TEST(missing.status == 125);
  BOOST_TEST(!missing.err.empty());
}

// A Z85 key may begin with '-', which reads as an option on a command line:
// such a key is taken as the key, with or without `--`, and shoal never
// makes one (a public key it prints is typed into other commands).
BOOST_AUTO_TEST_CASE(a_key_that_begins_with_a_dash_is_a_key_and_shoal_makes_none) {
  shoal::test::PrivateHome h;
  const std::string dashed = "-abcdefghij0123456789abcdefghij012345678";
  auto bare = h.shoal({"keys", "add-client", dashed, "--name", "bare"});
  BOOST_TEST(bare.status == 0, bare.err);
  auto after = h.shoal({"keys", "add-worker", "--", dashed});
  BOOST_TEST(after.status == 0, after.err);
  auto listed = h.shoal({"keys", "list"});
  BOOST_TEST(listed.out == "client  bare                 " + dashed +
                               "\nworker  abcdefgh             " + dashed + "\n",
             listed.out);
  auto none = h.shoal({"keys", "add-client"});
  BOOST_TEST(none.status == 125);
  BOOST_TEST(none.err == "shoal: add-client: the public key is required\n", none.err);
  auto typo = h.shoal({"keys", "add-client", "--nmae", "x", dashed});
  BOOST_TEST(typo.status == 125);
  BOOST_TEST(has(typo.err, "unexpected argument --nmae"), typo.err);
  auto removed = h.shoal({"keys", "remove", "bare"});
  BOOST_TEST(removed.status == 0, removed.err);
  for (int i = 0; i < 200; ++i) {  // one key in 85 would begin with '-'
    shoal::test::PrivateHome other;
    auto made = other.shoal({"keys", "generate"});
    BOOST_TEST_REQUIRE(made.status == 0, made.err);
    BOOST_TEST_REQUIRE(made.out.size() == 41u, made.out);
    BOOST_TEST_REQUIRE(made.out[0] != '-', made.out);
  }
}
