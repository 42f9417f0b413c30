// A Bacalhau user's habits and scripts with `shoal` in place of `bacalhau`:
// `--output json|yaml` in Bacalhau's model (jq '.[0].ID', .Job.State), the
// re-run idiom `job describe ID --output yaml | job run -`, specs written
// with lowercase keys and Resources, and `job run -V KEY=VALUE`. Against a
// real broker (auto-started in a private state directory) and real workers.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"
#include "tests/support/shoal_home.h"

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

// A job that completed with exit code 3, labelled and named.
std::string finished_job(const Home& h) {
  auto r = h.shoal({"wasm", "run", "--id-only", "--name", "three", "-l", "team=blue",
                    test_wasm("exit_code"), "3"});
  BOOST_TEST_REQUIRE(r.status == 3, r.err);
  return trim(r.out);
}

// Lines of `text` that contain `part`.
size_t count_lines_with(const std::string& text, const std::string& part) {
  size_t n = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    n += text.substr(start, end - start).find(part) != std::string::npos;
    start = end + 1;
  }
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(json_and_yaml_output_is_bacalhaus_model) {
  Home h;
  const std::string id = finished_job(h);

  // `bacalhau job list --output json | jq '.[0].ID'`
  auto list = h.shoal({"job", "list", "--output", "json"});
  BOOST_TEST_REQUIRE(list.status == 0, list.err);
  BOOST_TEST(list.out.find('\n') == list.out.size() - 1, "one line without --pretty");
  json jobs = json::parse(list.out);
  BOOST_TEST_REQUIRE(jobs.size() == 1u);
  BOOST_TEST(jobs[0]["ID"] == id);
  BOOST_TEST(jobs[0]["Name"] == "three");
  BOOST_TEST(jobs[0]["Type"] == "batch");
  BOOST_TEST(jobs[0]["State"]["StateType"] == "Completed");
  BOOST_TEST(jobs[0]["Labels"]["team"] == "blue");
  BOOST_TEST(jobs[0]["Tasks"][0]["Engine"]["Type"] == "wasm");
  BOOST_TEST(jobs[0]["CreateTime"].is_number_integer());  // Unix nanoseconds
  BOOST_TEST(jobs[0]["CreateTime"].get<int64_t>() > int64_t{1700000000} * 1000000000);
  BOOST_TEST(!jobs[0].contains("id"));

  // `bacalhau job describe --output json`: the GetJobResponse.
  json d = h.describe(id);
  BOOST_TEST(d["Job"]["ID"] == id);
  BOOST_TEST(d["Job"]["State"]["StateType"] == "Completed");
  BOOST_TEST_REQUIRE(d["Executions"]["Items"].size() == 1u);
  const json& e = d["Executions"]["Items"][0];
  BOOST_TEST(e["JobID"] == id);
  BOOST_TEST(e["ComputeState"]["StateType"] == 9);  // Completed
  BOOST_TEST(e["RunOutput"]["ExitCode"] == 3);
  BOOST_TEST(d["History"]["Items"][0]["SeqNum"] == 1);
  BOOST_TEST(d["History"]["Items"][0]["Time"].is_string());  // RFC 3339

  auto pretty = h.shoal({"job", "describe", id, "--output", "json", "--pretty"});
  BOOST_TEST_REQUIRE(pretty.status == 0, pretty.err);
  BOOST_TEST(has(pretty.out, "\n  \"Job\": {\n"), pretty.out);
  BOOST_TEST(json::parse(pretty.out) == d);

  auto yaml = h.shoal({"job", "describe", id, "--output", "yaml"});
  BOOST_TEST(has(yaml.out, "\nJob:\n"), yaml.out);
  BOOST_TEST(has(yaml.out, "\n  State:\n"), yaml.out);  // then Details, StateType
  BOOST_TEST(has(yaml.out, "\n    StateType: \"Completed\"\n"), yaml.out);

  auto execs = h.shoal({"job", "executions", id, "--output", "json"});
  BOOST_TEST_REQUIRE(execs.status == 0, execs.err);
  BOOST_TEST(json::parse(execs.out) == d["Executions"]["Items"]);
  auto history = h.shoal({"job", "history", id, "--output", "json"});
  BOOST_TEST_REQUIRE(history.status == 0, history.err);
  BOOST_TEST(json::parse(history.out) == d["History"]["Items"]);
  auto history_yaml = h.shoal({"job", "history", id, "--output", "yaml"});
  BOOST_TEST(history_yaml.out.starts_with("- Event:\n"), history_yaml.out);
  BOOST_TEST(has(history_yaml.out, "  SeqNum: 1\n"), history_yaml.out);
}

// `bacalhau job describe ID --output yaml | bacalhau job run -`: the state
// describe prints is ignored, the job's spec runs again as a new job.
BOOST_AUTO_TEST_CASE(describe_piped_into_job_run_runs_the_job_again) {
  Home h;
  TempDir d;
  write_file(d.path() + "/in.txt", "data");
  auto first = h.shoal({"wasm", "run", "--id-only", "-l", "team=blue", "--memory", "64MiB",
                        "--timeout", "60", "-e", "A=1", "-i", d.path() + "/in.txt:/inputs/in.txt",
                        "-o", "res:/res", test_wasm("args_env"), "x", "y"});
  BOOST_TEST_REQUIRE(first.status == 0, first.err);
  const std::string id = trim(first.out);
  const json spec = h.job(id)["spec"];
  for (const std::string format : {"yaml", "json"}) {
    auto described = h.shoal({"job", "describe", id, "--output", format});
    BOOST_TEST_REQUIRE(described.status == 0, described.err);
    auto again = h.shoal({"job", "run", "--id-only", "-"}, described.out);
    BOOST_TEST_REQUIRE(again.status == 0, format << ": " << again.err);
    BOOST_TEST(again.err == "", again.err);
    const std::string next = trim(again.out);
    BOOST_TEST(next != id);
    json rerun = h.job(next);
    BOOST_TEST(rerun["state"] == "Completed", rerun.dump());
    for (const char* field : {"args", "env", "memory", "timeout_s", "labels", "inputs",
                              "entry_point", "module_sha256"})
      BOOST_TEST(rerun["spec"][field] == spec[field], format << " " << field);
    // The spec names wasm run's default output among its ResultPaths: the
    // same mounts (jobs::effective_outputs).
    BOOST_TEST(spec["default_output"] == true);
    BOOST_TEST(rerun["spec"]["default_output"] == false);
    json outputs = spec["outputs"];
    outputs.insert(outputs.begin(), json{{"name", "outputs"}, {"path", "/outputs"}});
    BOOST_TEST(rerun["spec"]["outputs"] == outputs, format << " " << rerun["spec"].dump());
    BOOST_TEST(h.shoal({"job", "logs", next}).out == h.shoal({"job", "logs", id}).out);
  }
}

// The module runs again from the broker's store (by the SHA-256 describe
// shows in the task's Meta), wherever the first job's module came from: a
// path relative to another directory, or an inline data: URL.
BOOST_AUTO_TEST_CASE(a_job_runs_again_on_its_stored_module) {
  Home h;
  TempDir d;
  std::filesystem::copy_file(test_wasm("args_env"), d.path() + "/prog.wasm");
  auto first = shoal::test::run_process({"bash", "-c",
                                         "cd \"$1\" && \"$2\" wasm run --id-only prog.wasm again",
                                         "-", d.path(), shoal::test::shoal_bin()});
  BOOST_TEST_REQUIRE(first.status == 0, first.err);
  const std::string id = trim(first.out);
  auto described = h.shoal({"job", "describe", id, "--output", "yaml"});
  BOOST_TEST(has(described.out,
                 "shoal.module_sha256: \"" + h.job(id)["spec"]["module_sha256"].get<std::string>()),
             described.out);
  auto again = h.shoal({"job", "run", "-"}, described.out);  // here, prog.wasm is not a file
  BOOST_TEST_REQUIRE(again.status == 0, again.err);
  BOOST_TEST(has(again.out, "arg[0]=prog.wasm\narg[1]=again\n"), again.out);

  // A spec with its module inline, run, described and run again.
  auto spec = h.shoal({"wasm", "run", "--dry-run", test_wasm("args_env"), "inline"});
  BOOST_TEST_REQUIRE(spec.status == 0, spec.err);
  auto inline_run = h.shoal({"job", "run", "--id-only", "-"}, spec.out);
  BOOST_TEST_REQUIRE(inline_run.status == 0, inline_run.err);
  auto rerun = h.shoal({"job", "run", "-"},
                       h.shoal({"job", "describe", trim(inline_run.out), "--output", "json"}).out);
  BOOST_TEST_REQUIRE(rerun.status == 0, rerun.err);
  BOOST_TEST(has(rerun.out, "arg[0]=args_env.wasm\narg[1]=inline\n"), rerun.out);

  // --dry-run cannot write a stored module into a Bacalhau spec: it says so.
  auto dry = h.shoal({"job", "run", "--dry-run", "-"}, described.out);
  BOOST_TEST(dry.status == 125);
  BOOST_TEST(has(dry.err, "the module is the one shoal's broker stores as SHA-256"), dry.err);
}

// Bacalhau's job-run documentation writes keys in lowercase; Resources CPU,
// Disk and GPU are accepted with one warning line, Memory is the limit.
BOOST_AUTO_TEST_CASE(a_spec_with_lowercase_keys_and_resources_runs) {
  Home h;
  TempDir d;
  write_file(d.path() + "/job.yaml",
             "name: lower\n"
             "type: batch\n"
             "count: 1\n"
             "tasks:\n"
             "  - name: main\n"
             "    engine:\n"
             "      type: wasm\n"
             "      params:\n"
             "        entryModule: " +
                 test_wasm("args_env") +
                 "\n"
                 "        parameters: [hello]\n"
                 "    resources:\n"
                 "      cpu: 500m\n"
                 "      memory: 512mb\n"
                 "      disk: 1gb\n");
  auto r = h.shoal({"job", "run", d.path() + "/job.yaml"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(has(r.out, "arg[1]=hello\n"), r.out);
  BOOST_TEST(count_lines_with(r.err, "not enforced") == 1u, r.err);
  BOOST_TEST(has(r.err,
                 "shoal: warning: tasks[0].resources.cpu 500m, tasks[0].resources.disk 1gb: "
                 "accepted, not enforced by shoal (only Memory is limited)\n"),
             r.err);
  auto list = h.shoal({"job", "list", "--output", "json"});
  const json job = json::parse(list.out).at(0);
  BOOST_TEST(job["Name"] == "lower");
  BOOST_TEST(h.job(job["ID"])["spec"]["memory"] == 512u << 20);

  write_file(d.path() + "/bad.yaml", "type: batch\ntasks:\n  - engine: {type: wasm, paramz: {}}\n");
  auto bad = h.shoal({"job", "validate", d.path() + "/bad.yaml"});
  BOOST_TEST(bad.status == 125);
  BOOST_TEST(has(bad.err, "  tasks[0].engine.paramz: not supported by shoal\n"), bad.err);
}

// `bacalhau job run -V KEY=VALUE spec.yaml`: {{.KEY}} in the spec's text.
BOOST_AUTO_TEST_CASE(template_variables_fill_the_spec_and_an_unknown_one_is_refused) {
  Home h;
  TempDir d;
  write_file(d.path() + "/job.yaml",
             "Type: batch\n"
             "Tasks:\n"
             "  - Name: main\n"
             "    Engine:\n"
             "      Type: wasm\n"
             "      Params:\n"
             "        EntryModule: " +
                 test_wasm("args_env") +
                 "\n"
                 "        Parameters: [\"{{.GREETING}}\", \"{{ .WHO }}\"]\n");
  auto r = h.shoal(
      {"job", "run", "-V", "GREETING=hi", "--template-vars", "WHO=you", d.path() + "/job.yaml"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(has(r.out, "arg[1]=hi\narg[2]=you\n"), r.out);
  // From the environment with -E; -V wins.
  auto env = shoal::test::run_process({"env", "WHO=env", "GREETING=env", shoal::test::shoal_bin(),
                                       "job", "run", "-E", "^(WHO|GREETING)$", "-V",
                                       "GREETING=flag", d.path() + "/job.yaml"});
  BOOST_TEST(has(env.out, "arg[1]=flag\narg[2]=env\n"), env.out << env.err);

  auto missing = h.shoal({"job", "run", "-V", "GREETING=hi", d.path() + "/job.yaml"});
  BOOST_TEST(missing.status == 125);
  BOOST_TEST(missing.err == "shoal: the job spec " + d.path() +
                                "/job.yaml: line 8: {{ .WHO }}: no variable WHO (give it with -V "
                                "WHO=VALUE)\n",
             missing.err);
  // --no-template: the text as it is.
  auto raw = h.shoal({"job", "run", "--no-template", d.path() + "/job.yaml"});
  BOOST_TEST_REQUIRE(raw.status == 0, raw.err);
  BOOST_TEST(has(raw.out, "arg[1]={{.GREETING}}\n"), raw.out);
  // Nothing was submitted for the refused spec.
  BOOST_TEST(json::parse(h.shoal({"job", "list", "--output", "json"}).out).size() == 3u);
}
