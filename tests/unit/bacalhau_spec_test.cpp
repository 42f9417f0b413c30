// Reading Bacalhau job specs (YAML and JSON) into shoal's request, and
// writing requests back: the exact request, or every message.
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include <map>
#include <string>
#include <vector>

#include "bacalhau/data_url.h"
#include "bacalhau/spec.h"
#include "bacalhau/template.h"
#include "protocol/job_json.h"

using nlohmann::json;
using shoal::bacalhau::ModuleRef;
using shoal::bacalhau::PathKind;
using shoal::bacalhau::read_bacalhau_spec;
using shoal::bacalhau::RunRequest;
using shoal::bacalhau::write_bacalhau_spec;

namespace {

// The request's spec as it is submitted (defaults left out).
json spec_of(const RunRequest& r) {
  return shoal::jobs::submission_json(r.spec);
}

PathKind fake_probe(const std::string& path) {
  static const std::map<std::string, PathKind> paths = {
      {"/jobs/main.wasm", PathKind::file},
      {"/jobs/lib/mylib.wasm", PathKind::file},
      {"/jobs/data", PathKind::directory},
      {"/srv/in.csv", PathKind::file},
  };
  auto it = paths.find(path);
  return it == paths.end() ? PathKind::missing : it->second;
}

RunRequest read_ok(const std::string& text) {
  auto r = read_bacalhau_spec(text, "job.yaml", "/jobs", fake_probe);
  if (!r) {
    std::string all;
    for (const auto& e : r.error()) all += e + "\n";
    BOOST_TEST_REQUIRE(false, "refused:\n" + all);
  }
  return *r;
}

std::vector<std::string> errors_of(const std::string& text) {
  auto r = read_bacalhau_spec(text, "job.yaml", "/jobs", fake_probe);
  BOOST_TEST_REQUIRE(!r.has_value(), "accepted:\n" + text);
  return r.error();
}

// A minimal valid task around `extra` (lines indented for a task's fields).
std::string task(const std::string& extra, const std::string& top = "") {
  return top +
         "Type: batch\n"
         "Tasks:\n"
         "  - Name: main\n"
         "    Engine:\n"
         "      Type: wasm\n"
         "      Params:\n"
         "        EntryModule: main.wasm\n" +
         extra;
}

std::string no_file_reader_called(const std::string&) {
  return "unused";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_full_yaml_spec_becomes_the_request_wasm_run_builds) {
  RunRequest r = read_ok(
      "Name: hello-wasm\n"
      "Type: batch\n"
      "Count: 1\n"
      "Labels: {team: demo, tier: \"1\"}\n"
      "Tasks:\n"
      "  - Name: main\n"
      "    Engine:\n"
      "      Type: wasm\n"
      "      Params:\n"
      "        EntryModule: /app/main.wasm\n"
      "        Entrypoint: run\n"
      "        Parameters: [inputs/data.csv, 42, \"-v\"]\n"
      "        EnvironmentVariables: {MODE: fast}\n"
      "        ImportModules: [/app/lib.wasm]\n"
      "    Env: {GREETING: hello, MODE: slow}\n"
      "    InputSources:\n"
      "      - Target: /app/main.wasm\n"
      "        Source: {Type: urlDownload, Params: {URL: \"https://example.com/main.wasm\"}}\n"
      "      - Target: /app/lib.wasm\n"
      "        Source: {Type: inline, Params: {URL: "
      "\"data:application/wasm;base64,AGFzbQEAAAA=\"}}\n"
      "      - Target: /inputs\n"
      "        Source: {Type: local, Params: {SourcePath: data, ReadWrite: false}}\n"
      "      - Target: /inputs/remote.txt\n"
      "        Source: {Type: urlDownload, Params: {URL: \"http://127.0.0.1:8080/r.txt\"}}\n"
      "      - Target: /etc/config.txt\n"
      "        Source: {Type: inline, Params: {URL: \"data:,a%3Db\"}}\n"
      "    ResultPaths: [{Name: outputs, Path: /outputs}, {Name: logs, Path: /var/log/app}]\n"
      "    Publisher: {Type: local}\n"
      "    Network: {Type: None}\n"
      "    Resources: {Memory: 256Mb}\n"
      "    Timeouts: {ExecutionTimeout: 60, QueueTimeout: 0, TotalTimeout: 300}\n");
  json expected = {
      {"name", "hello-wasm"},
      {"labels", {{"team", "demo"}, {"tier", "1"}}},
      {"module", "/app/main.wasm"},
      {"entry_point", "run"},
      {"args", {"inputs/data.csv", "42", "-v"}},
      {"env", {"MODE=slow", "GREETING=hello"}},
      {"default_output", false},  // ResultPaths are all its outputs
      {"inputs",
       {{{"read_write", false}, {"source", "/jobs/data"}, {"target", "/inputs"}},
        {{"read_write", false},
         {"source", "http://127.0.0.1:8080/r.txt"},
         {"target", "/inputs/remote.txt"}}}},
      {"outputs",
       {{{"name", "outputs"}, {"path", "/outputs"}}, {{"name", "logs"}, {"path", "/var/log/app"}}}},
      {"timeout_s", 60.0},
      {"memory", 256u << 20},
  };
  BOOST_TEST(spec_of(r) == expected, spec_of(r).dump());
  BOOST_TEST((r.module.kind == ModuleRef::Kind::url));
  BOOST_TEST(r.module.source == "https://example.com/main.wasm");
  BOOST_TEST(r.module.target == "/app/main.wasm");
  BOOST_TEST_REQUIRE(r.imports.size() == 1u);
  BOOST_TEST(r.imports[0].name == "lib");
  BOOST_TEST((r.imports[0].module.kind == ModuleRef::Kind::inline_data));
  BOOST_TEST(r.imports[0].module.bytes == std::string("\0asm\1\0\0\0", 8));
  BOOST_TEST_REQUIRE(r.inline_inputs.size() == 1u);
  BOOST_TEST(r.inline_inputs[0].target == "/etc/config.txt");
  BOOST_TEST(r.inline_inputs[0].bytes == "a=b");
  BOOST_TEST(r.stdin_file.empty());
}

BOOST_AUTO_TEST_CASE(json_is_read_the_same_as_yaml) {
  std::string yaml = task(
      "        Parameters: [a, b]\n"
      "    Env: {K: v}\n"
      "    InputSources:\n"
      "      - {Target: /in.csv, Source: {Type: local, Params: {SourcePath: /srv/in.csv}}}\n");
  std::string json_text = R"({
    "Type": "batch",
    "Tasks": [{"Name": "main",
               "Engine": {"Type": "wasm", "Params": {"EntryModule": "main.wasm",
                                                     "Parameters": ["a", "b"]}},
               "Env": {"K": "v"},
               "InputSources": [{"Target": "/in.csv",
                                 "Source": {"Type": "local",
                                            "Params": {"SourcePath": "/srv/in.csv"}}}]}]
  })";
  RunRequest a = read_ok(yaml), b = read_ok(json_text);
  BOOST_TEST(spec_of(a) == spec_of(b), spec_of(a).dump() + "\n" + spec_of(b).dump());
  BOOST_TEST(spec_of(a)["inputs"] ==
             json::parse(R"([{"read_write":false,"source":"/srv/in.csv","target":"/in.csv"}])"));
}

BOOST_AUTO_TEST_CASE(a_local_entry_module_is_relative_to_the_spec_directory) {
  RunRequest r = read_ok(task(""));
  BOOST_TEST((r.module.kind == ModuleRef::Kind::local));
  BOOST_TEST(r.module.source == "/jobs/main.wasm");
  BOOST_TEST(r.spec.module_name == "/jobs/main.wasm");
  BOOST_TEST(r.spec.entry_point == "_start");
  BOOST_TEST(r.spec.timeout_ms == 0u);
  BOOST_TEST(r.spec.memory_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(import_modules_by_path_url_and_object_are_named_by_file_name) {
  RunRequest r = read_ok(
      task("        ImportModules:\n"
           "          - lib/mylib.wasm\n"
           "          - https://example.com/mods/other.wasm?v=2\n"
           "          - Target: /m/third.wasm\n"
           "            Source: {Type: inline, Params: {URL: \"data:;base64,AGFzbQEAAAA=\"}}\n"));
  BOOST_TEST_REQUIRE(r.imports.size() == 3u);
  BOOST_TEST(r.imports[0].name == "mylib");
  BOOST_TEST(r.imports[0].module.source == "/jobs/lib/mylib.wasm");
  BOOST_TEST(r.imports[1].name == "other");
  BOOST_TEST((r.imports[1].module.kind == ModuleRef::Kind::url));
  BOOST_TEST(r.imports[2].name == "third");
  BOOST_TEST(r.imports[2].module.target == "/m/third.wasm");
}

BOOST_AUTO_TEST_CASE(the_older_entrypoint_spelling_and_total_timeout_are_read) {
  RunRequest r = read_ok(task("        EntryPoint: go\n    Timeouts: {TotalTimeout: 7}\n"));
  BOOST_TEST(r.spec.entry_point == "go");
  BOOST_TEST(r.spec.timeout_ms == 7000u);
}

BOOST_AUTO_TEST_CASE(every_unsupported_field_is_named_with_its_full_path_at_once) {
  auto errors = errors_of(
      task("        Volumes: []\n"
           "    Network: {Type: Host}\n"
           "    Resources: {CPU: 500m, GPU: \"1\", Memory: 1Gb}\n"
           "    Publisher: {Type: ipfs}\n"
           "    Timeouts: {QueueTimeout: 30}\n"
           "    Meta: {a: b}\n"
           "    InputSources:\n"
           "      - Target: /x\n"
           "        Source: {Type: s3, Params: {Bucket: b}}\n"
           "      - Target: /y\n"
           "        Alias: why\n"
           "        Source: {Type: local, Params: {SourcePath: /srv/in.csv, ReadWrite: maybe}}\n",
           "Priority: 3\nCount: 2\n"
           "Namespace: team\nID: j-1\n"));
  std::vector<std::string> expected = {
      "Count: shoal runs each job once (Count 1)",
      "Namespace: 'team': shoal has only the default namespace",
      "Priority: not supported by shoal (jobs run oldest first)",
      "Tasks[0].Meta.a: not supported by shoal (give the job's Meta)",
      "Tasks[0].InputSources[0].Source.Type: 's3' is not supported by shoal (urlDownload, "
      "local or inline)",
      "Tasks[0].InputSources[1].Alias: not supported by shoal",
      "Tasks[0].InputSources[1].Source.Params.ReadWrite: 'maybe' is neither true nor false",
      "Tasks[0].Engine.Params.Volumes: not supported by shoal",
      "Tasks[0].Timeouts.QueueTimeout: not supported by shoal (jobs wait in the queue until run)",
      "Tasks[0].Publisher.Type: 'ipfs' is not supported by shoal (results stay in shoal's "
      "store: local)",
      "Tasks[0].Network.Type: 'Host' is not supported by shoal (jobs have no network)",
  };
  BOOST_TEST(errors == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(other_engines_and_job_types_are_refused) {
  auto errors = errors_of(
      "Type: service\n"
      "Tasks:\n"
      "  - Name: main\n"
      "    Engine: {Type: docker, Params: {Image: ubuntu}}\n"
      "  - Name: second\n");
  std::vector<std::string> expected = {
      "Type: 'service' jobs are not supported by shoal (only batch)",
      "Tasks: shoal runs one task per job; this spec has 2",
      "Tasks[0].Engine.Type: 'docker' is not supported by shoal (only wasm)",
  };
  BOOST_TEST(errors == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_values_are_named) {
  auto errors =
      errors_of(task("    Env: {GOOD: x, SECRET: \"env:HOST_SECRET\"}\n"
                     "    InputSources:\n"
                     "      - Target: relative/path\n"
                     "        Source: {Type: urlDownload, Params: {URL: \"ftp://x/y\"}}\n"
                     "      - Target: /gone\n"
                     "        Source: {Type: local, Params: {SourcePath: missing.txt}}\n"
                     "      - Target: /blob\n"
                     "        Source: {Type: inline, Params: {URL: \"data:;base64,***\"}}\n"
                     "      - Target: /ok\n"
                     "        Source: {Type: urlDownload, Params: {URL: \"http://h/x\"}}\n"
                     "      - Target: /ok/\n"
                     "        Source: {Type: urlDownload, Params: {URL: \"http://h/y\"}}\n"
                     "    ResultPaths: [{Name: out, Path: relative}]\n"
                     "    Resources: {Memory: lots}\n"
                     "    Timeouts: {ExecutionTimeout: soon}\n"));
  std::vector<std::string> expected = {
      "Tasks[0].InputSources[0].Target: the guest path \"relative/path\" must be absolute",
      "Tasks[0].InputSources[0].Source.Params.URL: 'ftp://x/y' is not an http or https URL",
      "Tasks[0].InputSources[1].Source.Params.SourcePath: /jobs/missing.txt: no such file or "
      "directory",
      "Tasks[0].InputSources[2].Source.Params.URL: not a data: URL: '*' is not a base64 "
      "character",
      "Tasks[0].InputSources[4].Target: /ok is the target of another input",
      "Tasks[0].Env.SECRET: values taken from the host's environment (env:NAME) are not "
      "supported by shoal",
      "Tasks[0].ResultPaths[0]: the guest path \"relative\" must be absolute",
      "Tasks[0].Resources.Memory: 'lots' is not a size (try 512MiB or 2GiB)",
      "Tasks[0].Timeouts.ExecutionTimeout: 'soon' is not a number",
  };
  BOOST_TEST(errors == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_missing_or_unknown_entry_module_is_named) {
  auto none = errors_of("Type: batch\nTasks:\n  - Engine: {Type: wasm, Params: {}}\n");
  BOOST_TEST(none == std::vector<std::string>{"Tasks[0].Engine.Params.EntryModule: required (an "
                                              "InputSources Target, a URL or a local path)"},
             boost::test_tools::per_element());
  auto missing = errors_of(
      "Type: batch\nTasks:\n  - Engine: {Type: wasm, Params: {EntryModule: /app/x.wasm}}\n");
  BOOST_TEST(missing == std::vector<std::string>{"Tasks[0].Engine.Params.EntryModule: "
                                                 "'/app/x.wasm' is neither an InputSources "
                                                 "Target nor a file (/app/x.wasm: no such file "
                                                 "or directory)"},
             boost::test_tools::per_element());
  auto no_tasks = errors_of("Type: batch\n");
  BOOST_TEST(no_tasks == std::vector<std::string>{"Tasks: required: a list of one task"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_entry_module_that_is_a_directory_is_named_however_it_is_given) {
  // By path, as the older InputSource form, and as the Target of an input
  // source: each is refused at the spec's field, saying what to give.
  const std::vector<std::string> specs = {
      "Type: batch\nTasks:\n  - Engine: {Type: wasm, Params: {EntryModule: data}}\n",
      "Type: batch\nTasks:\n  - Engine:\n      Type: wasm\n      Params:\n"
      "        EntryModule: {Target: /app, Source: {Type: local, Params: {SourcePath: "
      "/jobs/data}}}\n",
      "Type: batch\nTasks:\n  - Engine: {Type: wasm, Params: {EntryModule: /app}}\n"
      "    InputSources:\n"
      "      - {Target: /app, Source: {Type: local, Params: {SourcePath: /jobs/data}}}\n"};
  for (const auto& spec : specs)
    BOOST_TEST(errors_of(spec) ==
                   std::vector<std::string>{"Tasks[0].Engine.Params.EntryModule: /jobs/data is a "
                                            "directory, not a module: name the .wasm file in it"},
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(two_import_modules_with_one_name_are_refused) {
  auto errors = errors_of(
      task("        ImportModules: [lib/mylib.wasm, \"https://example.com/mylib.wasm\"]\n"));
  BOOST_TEST(errors == std::vector<std::string>{"Tasks[0].Engine.Params.ImportModules[1]: "
                                                "another import module is named 'mylib'"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(syntax_errors_carry_a_line_and_column) {
  auto yaml = errors_of("Type: batch\nTasks: [\n  - x\n");
  BOOST_TEST_REQUIRE(yaml.size() == 1u);
  BOOST_TEST(yaml[0].starts_with("job.yaml: not valid YAML: line "), yaml[0]);
  auto js = errors_of("{\n  \"Type\": \"batch\",\n  \"Tasks\": [,]\n}");
  BOOST_TEST_REQUIRE(js.size() == 1u);
  BOOST_TEST(js[0].starts_with("job.yaml: not valid JSON: parse error at line 3, column 13"),
             js[0]);
  auto scalar = errors_of("just a string");
  BOOST_TEST(scalar == std::vector<std::string>{"the spec is not a mapping of fields (Name, "
                                                "Type, Tasks, ...)"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(written_specs_read_back_to_the_same_request) {
  RunRequest r = read_ok(
      "Name: \"007\"\n"
      "Type: batch\n"
      "Labels: {team: \"true\"}\n"
      "Meta: {owner: ana, ticket: \"42\"}\n"
      "Constraints: [{Key: zone, Operator: \"=\", Values: [a]}, {Key: gpu, Operator: \"!\"},\n"
      "  {Key: tier, Operator: in, Values: [x, y]}, {Key: cores, Operator: gt, Values: [\"4\"]}]\n"
      "Tasks:\n"
      "  - Engine:\n"
      "      Type: wasm\n"
      "      Params:\n"
      "        EntryModule: /app/main.wasm\n"
      "        Parameters: [\"1\", \"null\", \"a b\"]\n"
      "        ImportModules: [/app/lib.wasm]\n"
      "    Env: {N: \"3\"}\n"
      "    InputSources:\n"
      "      - {Target: /app/main.wasm, Source: {Type: urlDownload, Params: {URL: "
      "\"https://e.com/main.wasm\"}}}\n"
      "      - {Target: /app/lib.wasm, Source: {Type: inline, Params: {URL: "
      "\"data:;base64,AGFzbQEAAAA=\"}}}\n"
      "      - {Target: /in, Source: {Type: local, Params: {SourcePath: /jobs/data}}}\n"
      "      - {Target: /etc/x, Source: {Type: inline, Params: {URL: \"data:,x\"}}}\n"
      "    ResultPaths: [{Name: res, Path: /res}]\n"
      "    Resources: {Memory: 1536Mb}\n"
      "    Timeouts: {ExecutionTimeout: 2.5}\n");
  auto text = write_bacalhau_spec(r, no_file_reader_called);
  BOOST_TEST_REQUIRE(text.has_value(), text.error());
  RunRequest back = read_ok(*text);
  BOOST_TEST(spec_of(back) == spec_of(r), *text);
  BOOST_TEST(back.spec.meta ==
             (std::map<std::string, std::string>{{"owner", "ana"}, {"ticket", "42"}}));
  BOOST_TEST(back.module.source == r.module.source);
  BOOST_TEST_REQUIRE(back.imports.size() == 1u);
  BOOST_TEST(back.imports[0].name == "lib");
  BOOST_TEST(back.imports[0].module.bytes == r.imports[0].module.bytes);
  BOOST_TEST_REQUIRE(back.inline_inputs.size() == 1u);
  BOOST_TEST(back.inline_inputs[0].bytes == "x");
}

BOOST_AUTO_TEST_CASE(a_local_module_is_written_inline_as_bacalhau_does) {
  RunRequest r;
  r.spec.module_name = "build/hello.wasm";
  r.module.source = "build/hello.wasm";
  auto text = write_bacalhau_spec(
      r, [](const std::string& path) -> std::expected<std::string, std::string> {
        BOOST_TEST(path == "build/hello.wasm");
        return std::string("\0asm\1\0\0\0", 8);
      });
  BOOST_TEST_REQUIRE(text.has_value(), text.error());
  BOOST_TEST(*text ==
             "Type: batch\n"
             "Count: 1\n"
             "Tasks:\n"
             "  - Name: main\n"
             "    Engine:\n"
             "      Type: wasm\n"
             "      Params:\n"
             "        EntryModule: /app/hello.wasm\n"
             "        Entrypoint: _start\n"
             "        Parameters:\n"
             "          []\n"
             "    InputSources:\n"
             "      - Target: /app/hello.wasm\n"
             "        Source:\n"
             "          Type: inline\n"
             "          Params:\n"
             "            URL: data:application/wasm;base64,AGFzbQEAAAA=\n"
             // wasm run's default output, written out: read back, the spec
             // has the same mounts.
             "    ResultPaths:\n"
             "      - Name: outputs\n"
             "        Path: /outputs\n");
  r.stdin_file = "-";
  auto refused = write_bacalhau_spec(r, no_file_reader_called);
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error() == "--stdin has no place in a Bacalhau job spec");
}

BOOST_AUTO_TEST_CASE(constraints_become_the_selector_of_constraints_flag) {
  RunRequest r = read_ok(task("",
                              "Constraints:\n"
                              "  - {Key: zone, Operator: \"==\", Values: [a]}\n"
                              "  - {Key: zone2, Operator: \"!=\", Values: [b]}\n"
                              "  - {Key: tier, Operator: notin, Values: [x, y]}\n"
                              "  - {Key: ssd, Operator: exists}\n"
                              "  - {Key: gpu, Operator: DoesNotExist}\n"
                              "  - {Key: mem, Operator: lt, Values: [\"64\"]}\n"));
  BOOST_TEST(r.spec.constraints == "zone=a,zone2!=b,tier notin (x,y),ssd,!gpu,mem<64");
  auto errors = errors_of(task("",
                               "Constraints:\n"
                               "  - {Key: zone, Operator: \"=\", Values: [a, b]}\n"
                               "  - {Key: z, Operator: near, Values: [a]}\n"
                               "  - {Key: t, Operator: in}\n"
                               "  - {Key: c, Operator: gt, Values: [many]}\n"
                               "  - {Operator: exists, Weight: 3}\n"));
  std::vector<std::string> expected = {
      "Constraints[0].Values: operator '=' takes exactly one value",
      "Constraints[1].Operator: 'near' is not an operator (=, ==, !=, in, notin, exists, !, gt, "
      "lt)",
      "Constraints[2].Values: operator 'in' needs at least one value",
      "Constraints[4].Weight: not supported by shoal",
      "Constraints[4]: needs a Key and an Operator",
  };
  BOOST_TEST_REQUIRE(errors.size() >= expected.size());
  for (size_t i = 0; i < expected.size(); ++i) BOOST_TEST(errors[i] == expected[i]);
  BOOST_TEST(errors.back().find("Constraints: ") == 0u, errors.back());
}

// ReadWrite: the program gets a copy of its own to change
// (jobs::InputSpec::read_write), written back as it was read.
BOOST_AUTO_TEST_CASE(a_read_write_local_source_is_kept_and_written_back) {
  RunRequest r = read_ok(
      task("    InputSources:\n"
           "      - Target: /\n"
           "        Source: {Type: local, Params: {SourcePath: /jobs/data, ReadWrite: true}}\n"
           "      - Target: /ro\n"
           "        Source: {Type: local, Params: {SourcePath: /srv/in.csv}}\n"));
  BOOST_TEST_REQUIRE(r.spec.inputs.size() == 2u);
  BOOST_TEST(r.spec.inputs[0].read_write);
  BOOST_TEST(r.spec.inputs[0].target == "/");
  BOOST_TEST(!r.spec.inputs[1].read_write);
  BOOST_TEST(!r.spec.default_output);
  auto text = write_bacalhau_spec(r, no_file_reader_called);
  BOOST_TEST_REQUIRE(text.has_value(), text.error());
  RunRequest back = read_ok(*text);
  BOOST_TEST(spec_of(back)["inputs"] == spec_of(r)["inputs"], *text);
  BOOST_TEST(!back.spec.default_output);
}

BOOST_AUTO_TEST_CASE(lowercase_keys_are_read_as_bacalhau_reads_them) {
  // As Bacalhau's own job-run documentation writes specs.
  RunRequest lower = read_ok(
      "name: low\n"
      "type: batch\n"
      "count: 1\n"
      "labels: {Team: blue}\n"
      "tasks:\n"
      "  - name: main\n"
      "    engine:\n"
      "      type: wasm\n"
      "      params:\n"
      "        entrymodule: main.wasm\n"
      "        parameters: [a]\n"
      "    env: {Path: x}\n"
      "    inputSources:\n"
      "      - target: /in.csv\n"
      "        source: {type: localDirectory, params: {sourcePath: /srv/in.csv}}\n"
      "    timeouts: {executionTimeout: 5}\n");
  RunRequest upper =
      read_ok(task("        Parameters: [a]\n"
                   "    Env: {Path: x}\n"
                   "    InputSources:\n"
                   "      - Target: /in.csv\n"
                   "        Source: {Type: localDirectory, Params: {SourcePath: /srv/in.csv}}\n"
                   "    Timeouts: {ExecutionTimeout: 5}\n",
                   "Name: low\nCount: 1\nLabels: {Team: blue}\n"));
  BOOST_TEST(spec_of(lower) == spec_of(upper));
  // Label and variable names are the user's own: never renamed.
  BOOST_TEST(lower.spec.labels.contains("Team"));
  BOOST_TEST(lower.spec.env == std::vector<std::string>{"Path=x"});
}

BOOST_AUTO_TEST_CASE(messages_name_keys_as_the_spec_wrote_them) {
  auto errors = errors_of(
      "type: batch\n"
      "tasks:\n"
      "  - engine:\n"
      "      type: wasm\n"
      "      params: {entrymodule: main.wasm, volumes: []}\n"
      "    timeouts: {queuetimeout: 3}\n"
      "    NETWORK: {type: host}\n"
      "    Env: {}\n"
      "    env: {}\n");
  std::vector<std::string> expected = {
      "tasks[0].env: given twice (also as Env)",
      "tasks[0].engine.params.volumes: not supported by shoal",
      "tasks[0].timeouts.queuetimeout: not supported by shoal (jobs wait in the queue until run)",
      "tasks[0].NETWORK.type: 'host' is not supported by shoal (jobs have no network)",
  };
  BOOST_TEST(errors == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cpu_disk_and_gpu_are_accepted_with_one_warning) {
  RunRequest r =
      read_ok(task("    resources: {cpu: 500m, Disk: 1gb, gpu: \"1\", memory: 512Mi}\n"));
  BOOST_TEST(r.spec.memory_bytes == 512u << 20);
  BOOST_TEST(r.warnings ==
                 std::vector<std::string>{
                     "Tasks[0].resources.cpu 500m, Tasks[0].resources.Disk 1gb, "
                     "Tasks[0].resources.gpu 1: accepted, not enforced by shoal (only Memory is "
                     "limited)"},
             boost::test_tools::per_element());
  BOOST_TEST(read_ok(task("    Resources: {CPU: \"0\", Memory: 1gb}\n")).warnings.empty());
}

BOOST_AUTO_TEST_CASE(what_describe_prints_is_read_back_and_its_state_ignored) {
  // `job describe ID --output yaml` (Bacalhau's GetJobResponse), abridged.
  const std::string described =
      "Executions:\n"
      "  Items: [{ID: e-1, ComputeState: {StateType: 9}}]\n"
      "  NextToken: \"\"\n"
      "History: {Items: [], NextToken: \"\"}\n"
      "Job:\n"
      "  Constraints: []\n"
      "  Count: 1\n"
      "  CreateTime: 1796310346476000000\n"
      "  ID: j-1\n"
      "  Labels: {team: blue}\n"
      "  Meta: {}\n"
      "  ModifyTime: 1796310346776000000\n"
      "  Name: j-1\n"
      "  Namespace: default\n"
      "  Priority: 0\n"
      "  Revision: 3\n"
      "  State: {StateType: Completed, Message: done}\n"
      "  Tasks:\n"
      "    - Engine:\n"
      "        Params: {EntryModule: main.wasm, Entrypoint: _start, ImportModules: [],\n"
      "                 Parameters: [\"3\"]}\n"
      "        Type: wasm\n"
      "      Env: {A: \"1\"}\n"
      "      InputSources:\n"
      "        - Alias: \"\"\n"
      "          Source: {Params: {CreateAs: noCreate, ReadWrite: false,\n"
      "                            SourcePath: /srv/in.csv}, Type: local}\n"
      "          Target: /in.csv\n"
      "      Meta: {}\n"
      "      Name: main\n"
      "      Network: {Type: None}\n"
      "      Publisher: {Params: {}, Type: local}\n"
      "      Resources: {Memory: 67108864b}\n"
      "      ResultPaths: [{Name: out, Path: /out}]\n"
      "      Timeouts: {ExecutionTimeout: 9, QueueTimeout: 0, TotalTimeout: 0}\n"
      "  Type: batch\n"
      "  Version: 1\n";
  RunRequest r = read_ok(described);
  BOOST_TEST(r.spec.name == "");  // describe's name for a job without one: its ID
  BOOST_TEST(r.spec.args == std::vector<std::string>{"3"});
  BOOST_TEST(r.spec.env == std::vector<std::string>{"A=1"});
  BOOST_TEST(r.spec.memory_bytes == 64u << 20);
  BOOST_TEST(r.spec.timeout_ms == 9000u);
  BOOST_TEST(r.spec.labels.at("team") == "blue");
  BOOST_TEST_REQUIRE(r.spec.inputs.size() == 1u);
  BOOST_TEST(r.spec.inputs[0].source == "/srv/in.csv");
  BOOST_TEST_REQUIRE(r.spec.outputs.size() == 1u);
  BOOST_TEST(r.spec.outputs[0].path == "/out");
  BOOST_TEST(r.module.source == "/jobs/main.wasm");

  // Messages name the path under Job, as written.
  auto errors = errors_of(
      "job:\n"
      "  Type: batch\n"
      "  Tasks:\n"
      "    - Engine: {Type: wasm, Params: {EntryModule: main.wasm}}\n"
      "      InputSources:\n"
      "        - Target: /x\n"
      "          Source: {Type: inline, Params: {Hash: abc}}\n");
  BOOST_TEST(errors ==
                 std::vector<std::string>{
                     "job.Tasks[0].InputSources[0].Source.Params.URL: required: describe "
                     "shows an inline input by its Hash, without its bytes; give them as "
                     "a data: URL"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(template_variables_are_replaced_and_an_unknown_one_is_named) {
  using shoal::bacalhau::expand_template;
  const shoal::bacalhau::TemplateVars vars = {{"NAME", "ana"}, {"N", "3"}};
  BOOST_TEST(*expand_template("Name: {{.NAME}}\nCount: {{ .N }}\n", vars) ==
             "Name: ana\nCount: 3\n");
  BOOST_TEST(*expand_template("a:  {{- .N -}}  \n{{/* note */}}b", vars) == "a:3b");
  BOOST_TEST(*expand_template("no actions { } here", {}) == "no actions { } here");
  BOOST_TEST(expand_template("x: 1\ny: {{.REGION}}\n", vars).error() ==
             "line 2: {{.REGION}}: no variable REGION (give it with -V REGION=VALUE)");
  BOOST_TEST(expand_template("{{ range . }}", vars).error() ==
             "line 1: {{ range . }}: shoal reads only {{.NAME}} in a job spec, no other template "
             "action (--no-template reads the spec as it is)");
  BOOST_TEST(expand_template("a: {{.NAME", vars).error() ==
             "line 1: {{.NAME...: the action is not closed with }}");

  auto flags = shoal::bacalhau::template_vars_from_flags({"a=1,b=x,y", "c="});
  BOOST_TEST_REQUIRE(flags.has_value());
  BOOST_TEST((*flags == shoal::bacalhau::TemplateVars{{"a", "1"}, {"b", "x,y"}, {"c", ""}}));
  BOOST_TEST(shoal::bacalhau::template_vars_from_flags({"novalue"}).error() ==
             "--template-vars novalue: expected KEY=VALUE");
  shoal::bacalhau::TemplateVars from_env = {{"HOME_DIR", "flag"}};
  BOOST_TEST(
      shoal::bacalhau::add_template_envs("^HOME", {"HOME_DIR=env", "HOMER=h", "X=1"}, from_env)
          .has_value());
  BOOST_TEST((from_env == shoal::bacalhau::TemplateVars{{"HOME_DIR", "flag"}, {"HOMER", "h"}}));
  BOOST_TEST(!shoal::bacalhau::add_template_envs("(", {}, from_env).has_value());
}

BOOST_AUTO_TEST_CASE(a_module_named_by_its_sha256_in_the_task_meta_is_the_stored_one) {
  const std::string sha(64, 'a');
  RunRequest r =
      read_ok(task("        Parameters: [x]\n    Meta: {shoal.module_sha256: " + sha + "}\n")
                  .replace(task("").find("main.wasm"), 9, "gone.wasm"));
  BOOST_TEST((r.module.kind == ModuleRef::Kind::stored));
  BOOST_TEST(r.module.source == sha);
  BOOST_TEST(r.spec.module_name == "gone.wasm");  // shown, never read
  auto errors = errors_of(task("    Meta: {shoal.module_sha256: ABC, owner: ana}\n"));
  std::vector<std::string> expected = {
      "Tasks[0].Meta.owner: not supported by shoal (give the job's Meta)",
      "Tasks[0].Meta.shoal.module_sha256: 'ABC' is not a SHA-256 (64 lowercase hex digits)",
  };
  BOOST_TEST(errors == expected, boost::test_tools::per_element());
}

// shoal's job array travels under its own extension key, read back as written.
BOOST_AUTO_TEST_CASE(a_job_array_is_read_and_written_under_x_shoal_array) {
  RunRequest r = read_ok(task("", "x-shoal-array: {Indices: \"1-10:3\"}\n"));
  BOOST_TEST_REQUIRE(r.array.has_value());
  BOOST_TEST(r.array->indices == "1-10:3");
  RunRequest items = read_ok(task(
      "", "x-shoal-array:\n  Items: [data/a.txt, \"https://e.com/b\"]\n  ItemTarget: /in.txt\n"));
  BOOST_TEST_REQUIRE(items.array.has_value());
  BOOST_TEST(items.array->items ==
             std::vector<std::string>({"/jobs/data/a.txt", "https://e.com/b"}));
  BOOST_TEST(items.array->item_target == "/in.txt");
  auto text = write_bacalhau_spec(items, no_file_reader_called);
  BOOST_TEST_REQUIRE(text.has_value());
  BOOST_TEST(text->find("x-shoal-array:") != std::string::npos, *text);
  RunRequest back = read_ok(*text);
  BOOST_TEST_REQUIRE(back.array.has_value());
  BOOST_TEST(back.array->items == items.array->items);
  BOOST_TEST(back.array->item_target == "/in.txt");
  // A spec without the key is one job.
  BOOST_TEST(!read_ok(task("")).array.has_value());
}

BOOST_AUTO_TEST_CASE(a_bad_job_array_is_named_by_its_field) {
  auto e = errors_of(task("", "x-shoal-array: {Indices: \"9-1\", Each: x}\n"));
  BOOST_TEST(std::any_of(e.begin(), e.end(), [](const std::string& m) {
    return m == "x-shoal-array.Each: not supported by shoal";
  }));
  BOOST_TEST(std::any_of(e.begin(), e.end(), [](const std::string& m) {
    return m.find("x-shoal-array: --array 9-1: '9-1' ends before it starts") == 0;
  }));
  e = errors_of(task("", "x-shoal-array: {Items: [a], ItemTarget: rel}\n"));
  BOOST_TEST(e.front().starts_with("x-shoal-array.ItemTarget: the guest path"), e.front());
}
