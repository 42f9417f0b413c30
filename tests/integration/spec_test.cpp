// Bacalhau job specs and import modules as a user drives them: `shoal job
// run`, `shoal job validate`, `shoal wasm run --dry-run` and `-I`, against a
// real broker (auto-started in a private state directory) and real workers.
#include <unistd.h>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "tests/support/http_server.h"
#include "tests/support/process.h"
#include "tests/support/shoal_home.h"

namespace fs = std::filesystem;
using nlohmann::json;
using shoal::test::ProcessResult;
using shoal::test::run_process;
using shoal::test::shoal_bin;
using shoal::test::TempDir;
using shoal::test::test_wasm;
using shoal::test::trim;

namespace {

// Every test case gets its own state directory, hence its own broker, which
// is shut down at the end.
using Home = shoal::test::PrivateHome;

struct Server : shoal::test::HttpServer {
  Server() { http.set_mount_point("/wasm", shoal::test::required_env("SHOAL_TEST_WASM_DIR")); }
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

BOOST_AUTO_TEST_CASE(job_run_runs_a_yaml_spec_with_paths_relative_to_its_directory) {
  Home h;
  TempDir d;
  fs::copy_file(test_wasm("args_env"), d.path() + "/prog.wasm");
  write_file(d.path() + "/job.yaml",
             "Name: greeter\n"
             "Type: batch\n"
             "Tasks:\n"
             "  - Name: main\n"
             "    Engine:\n"
             "      Type: wasm\n"
             "      Params:\n"
             "        EntryModule: prog.wasm\n"
             "        Parameters: [one, two]\n"
             "    Env: {VAR1: value1}\n");
  auto r = h.shoal({"job", "run", d.path() + "/job.yaml"});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "argc=3\narg[0]=prog.wasm\narg[1]=one\narg[2]=two\nenv VAR1=value1\n");
  BOOST_TEST(r.err == "to stderr\n");
}

BOOST_AUTO_TEST_CASE(job_run_reads_json_on_stdin_with_url_local_and_inline_sources) {
  Home h;
  Server server;
  TempDir d;
  write_file(d.path() + "/local.txt", "from a local file\n");
  std::string spec =
      json{
          {"Type", "batch"},
          {"Tasks",
           {{{"Engine",
              {{"Type", "wasm"},
               {"Params",
                {{"EntryModule", "/app/cat.wasm"},
                 {"Parameters", {"/inputs/inline.txt", "/inputs/local.txt", "/app/cat.wasm"}}}}}},
             {"InputSources",
              {{{"Target", "/app/cat.wasm"},
                {"Source",
                 {{"Type", "urlDownload"},
                  {"Params", {{"URL", server.url("/wasm/cat_files.wasm")}}}}}},
               {{"Target", "/inputs/inline.txt"},
                {"Source", {{"Type", "inline"}, {"Params", {{"URL", "data:,inline%20bytes%0A"}}}}}},
               {{"Target", "/inputs/local.txt"},
                {"Source",
                 {{"Type", "local"}, {"Params", {{"SourcePath", d.path() + "/local.txt"}}}}}}}}}}}}
          .dump();
  auto r = h.shoal({"job", "run", "-"}, spec);
  // The module's own input source is the module, not also a mounted file.
  BOOST_TEST(r.status == 1, r.err);
  BOOST_TEST(r.out ==
             "== /inputs/inline.txt ==\ninline bytes\n"
             "== /inputs/local.txt ==\nfrom a local file\n"
             "== /app/cat.wasm ==\ncannot open: Capabilities insufficient\n");
}

BOOST_AUTO_TEST_CASE(a_downloaded_or_inline_file_at_the_root_is_refused_naming_it) {
  Home h;
  Server server;
  auto spec_with = [&](const json& source) {
    return json{
        {"Type", "batch"},
        {"Tasks",
         {{{"Engine",
            {{"Type", "wasm"}, {"Params", {{"EntryModule", server.url("/wasm/args_env.wasm")}}}}},
           {"InputSources", {{{"Target", "/"}, {"Source", source}}}}}}}}
        .dump();
  };
  auto url = h.shoal({"job", "run", "-"},
                     spec_with({{"Type", "urlDownload"},
                                {"Params", {{"URL", server.url("/wasm/cat_files.wasm")}}}}));
  BOOST_TEST(url.status != 0);
  BOOST_TEST(url.err.find(":/: only a directory can be mounted at /") != std::string::npos,
             url.err);
  BOOST_TEST(url.err.find("cat_files.wasm") != std::string::npos, url.err);
  auto inl = h.shoal({"job", "run", "-"},
                     spec_with({{"Type", "inline"}, {"Params", {{"URL", "data:,bytes"}}}}));
  BOOST_TEST(inl.status != 0);
  BOOST_TEST(
      inl.err.find("inline input /: only a directory can be mounted at /") != std::string::npos,
      inl.err);
  BOOST_TEST(h.shoal({"job", "list", "--output", "json"}).out == "[]\n");
}

BOOST_AUTO_TEST_CASE(job_validate_says_valid_or_lists_every_problem) {
  Home h;
  TempDir d;
  fs::copy_file(test_wasm("args_env"), d.path() + "/prog.wasm");
  write_file(d.path() + "/good.yaml",
             "Type: batch\nTasks:\n  - Engine: {Type: wasm, Params: {EntryModule: prog.wasm}}\n");
  auto good = h.shoal({"job", "validate", d.path() + "/good.yaml"});
  BOOST_TEST(good.status == 0, good.err);
  BOOST_TEST(good.out == "valid\n");

  auto bad = h.shoal({"job", "validate", "-"},
                     "Type: batch\n"
                     "Tasks:\n"
                     "  - Engine: {Type: wasm, Params: {EntryModule: prog.wasm}}\n"
                     "    Network: {Type: Host}\n"
                     "    Resources: {Memory: lots}\n");
  BOOST_TEST(bad.status == 125);
  BOOST_TEST(bad.out == "");
  std::string cwd = fs::current_path().string();
  BOOST_TEST(bad.err ==
             "shoal: the job spec on stdin is not valid:\n"
             "  Tasks[0].Engine.Params.EntryModule: 'prog.wasm' is neither an InputSources "
             "Target nor a file (" +
                 cwd +
                 "/prog.wasm: no such file or directory)\n"
                 "  Tasks[0].Resources.Memory: 'lots' is not a size (try 512MiB or 2GiB)\n"
                 "  Tasks[0].Network.Type: 'Host' is not supported by shoal (jobs have no "
                 "network)\n");
  auto missing = h.shoal({"job", "run", d.path() + "/nope.yaml"});
  BOOST_TEST(missing.status == 125);
  BOOST_TEST(missing.err == "shoal: cannot read the job spec " + d.path() +
                                "/nope.yaml: No such file or directory\n");
  // Nothing was submitted.
  auto list = h.shoal({"job", "list", "--output", "json"});
  BOOST_TEST(json::parse(list.out).empty());
}

BOOST_AUTO_TEST_CASE(a_dry_run_spec_gives_the_same_job_through_job_run) {
  Home h;
  TempDir d;
  write_file(d.path() + "/in.txt", "input\n");
  std::vector<std::string> flags = {"--name",
                                    "trip",
                                    "-l",
                                    "team=blue",
                                    "-e",
                                    "B=2",
                                    "-e",
                                    "A=1",
                                    "-i",
                                    d.path() + "/in.txt:/inputs/in.txt",
                                    "-o",
                                    "res:/res",
                                    "--memory",
                                    "64MiB",
                                    "--timeout",
                                    "30",
                                    "--entry-point",
                                    "_start",
                                    test_wasm("args_env"),
                                    "x",
                                    "007"};
  std::vector<std::string> dry = {"wasm", "run", "--dry-run"};
  dry.insert(dry.end(), flags.begin(), flags.end());
  auto spec = h.shoal(dry);
  BOOST_TEST_REQUIRE(spec.status == 0, spec.err);
  BOOST_TEST(spec.out.find("EntryModule: /app/args_env.wasm\n") != std::string::npos, spec.out);
  BOOST_TEST(spec.out.find("URL: data:application/wasm;base64,AGFzbQ") != std::string::npos);
  BOOST_TEST(spec.out.find("Memory: 64Mb\n") != std::string::npos);

  auto valid = h.shoal({"job", "validate", "-"}, spec.out);
  BOOST_TEST(valid.status == 0, valid.err);
  BOOST_TEST(valid.out == "valid\n");

  auto via_spec = h.shoal({"job", "run", "--id-only", "-"}, spec.out);
  BOOST_TEST_REQUIRE(via_spec.status == 0, via_spec.err);
  std::vector<std::string> direct_args = {"wasm", "run", "--id-only"};
  direct_args.insert(direct_args.end(), flags.begin(), flags.end());
  auto direct = h.shoal(direct_args);
  BOOST_TEST_REQUIRE(direct.status == 0, direct.err);
  std::string via_id = trim(via_spec.out), direct_id = trim(direct.out);
  auto via_logs = h.shoal({"job", "logs", via_id});
  BOOST_TEST(via_logs.out ==
             "argc=3\narg[0]=args_env.wasm\narg[1]=x\narg[2]=007\nenv B=2\nenv A=1\n");
  BOOST_TEST(h.shoal({"job", "logs", direct_id}).out == via_logs.out);

  json a = h.job(via_id)["spec"];
  json b = h.job(direct_id)["spec"];
  // The module's display name is where the spec put it; its file name (the
  // program's argv[0]) and bytes are the same.
  BOOST_TEST(a["module"] == "/app/args_env.wasm");
  BOOST_TEST(b["module"] == test_wasm("args_env"));
  a.erase("module");
  b.erase("module");
  // The spec names the default output among its ResultPaths; wasm run has
  // it by default_output: the same mounts either way.
  BOOST_TEST(a["default_output"] == false);
  BOOST_TEST(b["default_output"] == true);
  BOOST_TEST(a["outputs"][0] == json({{"name", "outputs"}, {"path", "/outputs"}}));
  a["outputs"].erase(0);
  a.erase("default_output");
  b.erase("default_output");
  BOOST_TEST(a == b, a.dump() + "\n" + b.dump());
  BOOST_TEST(a["args"] == json({"x", "007"}));
  BOOST_TEST(a["env"] == json({"B=2", "A=1"}));
}

BOOST_AUTO_TEST_CASE(import_modules_satisfy_the_main_modules_imports) {
  Home h;
  auto r = h.shoal({"wasm", "run", "-I", test_wasm("mylib"), test_wasm("uses_mylib")});
  BOOST_TEST(r.status == 0, r.err);
  BOOST_TEST(r.out == "hello from mylib (initialized)\n2 + 3 = 5\n");
  BOOST_TEST(r.err == "");
}

BOOST_AUTO_TEST_CASE(import_modules_in_a_spec_are_named_by_their_target) {
  Home h;
  TempDir d;
  fs::copy_file(test_wasm("uses_mylib"), d.path() + "/main.wasm");
  fs::create_directory(d.path() + "/lib");
  fs::copy_file(test_wasm("mylib"), d.path() + "/lib/mylib.wasm");
  write_file(d.path() + "/job.yaml",
             "Type: batch\n"
             "Tasks:\n"
             "  - Engine:\n"
             "      Type: wasm\n"
             "      Params:\n"
             "        EntryModule: main.wasm\n"
             "        ImportModules: [/modules/mylib.wasm]\n"
             "    InputSources:\n"
             "      - Target: /modules/mylib.wasm\n"
             "        Source: {Type: local, Params: {SourcePath: lib/mylib.wasm}}\n");
  auto r = h.shoal({"job", "run", d.path() + "/job.yaml"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(r.out == "hello from mylib (initialized)\n2 + 3 = 5\n");
  auto list = h.shoal({"job", "list", "--output", "json"});
  BOOST_TEST_REQUIRE(list.status == 0, list.err);
  json spec = h.job(json::parse(list.out).at(0)["ID"])["spec"];
  BOOST_TEST_REQUIRE(spec["import_modules"].size() == 1u);
  BOOST_TEST(spec["import_modules"][0]["name"] == "mylib");
  BOOST_TEST(spec["import_modules"][0]["source"] == "/modules/mylib.wasm");
  BOOST_TEST(spec["import_modules"][0]["sha256"].get<std::string>().size() == 64u);
  BOOST_TEST(spec["inputs"].empty());
}

BOOST_AUTO_TEST_CASE(an_import_that_no_module_provides_is_named) {
  Home h;
  auto none = h.shoal({"wasm", "run", test_wasm("uses_mylib")});
  BOOST_TEST(none.status == 126);
  BOOST_TEST(none.err.find(": the module imports mylib.greet (function), which shoal does not "
                           "provide\n") != std::string::npos,
             none.err);
  auto other = h.shoal({"wasm", "run", "-I", test_wasm("mylib"), test_wasm("unknown_import")});
  BOOST_TEST(other.status == 126);
  BOOST_TEST(other.err.find(": the module imports env.launch_missiles (function), which shoal "
                            "does not provide (no import module is named 'env'; the import "
                            "modules are mylib)\n") != std::string::npos,
             other.err);
}

BOOST_AUTO_TEST_CASE(an_import_module_that_traps_while_starting_fails_the_job) {
  Home h;
  TempDir d;
  fs::copy_file(test_wasm("trapping_lib"), d.path() + "/mylib.wasm");
  auto r = h.shoal({"wasm", "run", "-I", d.path() + "/mylib.wasm", test_wasm("uses_mylib")});
  BOOST_TEST(r.status == 126);
  BOOST_TEST(r.out == "");
  BOOST_TEST(r.err.find(": import module mylib trapped while starting: RuntimeError: "
                        "unreachable\n") != std::string::npos,
             r.err);
}

BOOST_AUTO_TEST_CASE(an_import_module_that_is_not_wasm_is_refused_before_submission) {
  Home h;
  TempDir d;
  write_file(d.path() + "/mylib.wasm", "not wasm");
  auto r = h.shoal({"wasm", "run", "-I", d.path() + "/mylib.wasm", test_wasm("uses_mylib")});
  BOOST_TEST(r.status == 125);
  BOOST_TEST(r.err == "shoal: import module mylib: " + d.path() +
                          "/mylib.wasm is not a WebAssembly module\n");
}

BOOST_AUTO_TEST_CASE(job_wait_prints_no_progress_off_a_terminal_and_exits_with_the_worst) {
  Home h;
  auto ok = h.shoal({"wasm", "run", "--wait=false", "--id-only", test_wasm("exit_code"), "0"});
  auto three = h.shoal({"wasm", "run", "--wait=false", "--id-only", test_wasm("exit_code"), "3"});
  BOOST_TEST_REQUIRE(ok.status == 0, ok.err);
  BOOST_TEST_REQUIRE(three.status == 0, three.err);
  auto w = h.shoal({"job", "wait", trim(ok.out), trim(three.out)});
  BOOST_TEST(w.status == 3);
  BOOST_TEST(w.out == "");
  BOOST_TEST(w.err == "");
}

// A field added once to the job schema (protocol/job_schema.h) travels
// everywhere: meta, from the flag through the broker's store, describe and
// a Bacalhau spec, back to a job with the same value.
BOOST_AUTO_TEST_CASE(meta_travels_from_the_flag_through_the_store_and_a_bacalhau_spec) {
  Home h;
  TempDir d;
  const json meta = {{"owner", "ana"}, {"ticket", "42"}};
  const std::vector<std::string> flags = {"--meta", "owner=ana", "--meta", "ticket=42",
                                          test_wasm("args_env")};
  std::vector<std::string> run = {"wasm", "run", "--id-only"};
  run.insert(run.end(), flags.begin(), flags.end());
  auto submitted = h.shoal(run);
  BOOST_TEST_REQUIRE(submitted.status == 0, submitted.err);
  const std::string id = trim(submitted.out);

  // From the store, after a restart of the broker.
  BOOST_TEST_REQUIRE(h.shoal({"shutdown"}).status == 0);
  for (int i = 0; i < 1000 && h.locked(); ++i) ::usleep(10000);
  BOOST_TEST(h.job(id)["spec"]["meta"] == meta);
  auto yaml = h.shoal({"job", "describe", id, "--output", "yaml"});
  BOOST_TEST(
      yaml.out.find("  Meta:\n    owner: \"ana\"\n    ticket: \"42\"\n") != std::string::npos,
      yaml.out);
  auto human = h.shoal({"job", "describe", id});
  BOOST_TEST(human.out.find("Meta            owner=ana, ticket=42\n") != std::string::npos,
             human.out);

  std::vector<std::string> dry = {"wasm", "run", "--dry-run"};
  dry.insert(dry.end(), flags.begin(), flags.end());
  auto spec = h.shoal(dry);
  BOOST_TEST_REQUIRE(spec.status == 0, spec.err);
  BOOST_TEST(spec.out.find("Meta:\n  owner: \"ana\"\n  ticket: \"42\"\n") != std::string::npos,
             spec.out);
  write_file(d.path() + "/spec.yaml", spec.out);
  auto again = h.shoal({"job", "run", "--id-only", d.path() + "/spec.yaml"});
  BOOST_TEST_REQUIRE(again.status == 0, again.err);
  BOOST_TEST(h.job(trim(again.out))["spec"]["meta"] == meta);
}
