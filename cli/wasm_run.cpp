// `shoal wasm run MODULE [ARGS...]`: submit a WASI program as a job, and by
// default wait for it and print its output, exiting with its exit code.
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "bacalhau/spec.h"
#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "cli/input_spec.h"
#include "cli/run_flags.h"
#include "cli/run_request.h"
#include "protocol/job_json.h"

namespace shoal::cli {
namespace {

struct RunOpts {
  RunFlags job;
  AcceptedOnlyFlags accepted_only;
  std::vector<std::string> imports;
  std::string stdin_file;
  WaitOptions wait;
  bool dry_run = false;
};

// What this process's stdin holds that was not read: "a pipe" or "a
// file" when bytes wait in it, else "" (a terminal, /dev/null, an empty or
// finished pipe). Reads nothing.
std::string unread_stdin() {
  struct stat st {};
  if (::fstat(0, &st) != 0) return "";
  if (S_ISREG(st.st_mode)) {
    const off_t at = ::lseek(0, 0, SEEK_CUR);
    return at >= 0 && at < st.st_size ? "a file" : "";
  }
  int waiting = 0;
  if ((S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) && ::ioctl(0, FIONREAD, &waiting) == 0 &&
      waiting > 0)
    return "a pipe";
  return "";
}

// shoal reads its stdin only when asked (--stdin -), so that a script's
// loop over its own stdin is never swallowed; data piped in without it is
// said, not silently ignored (docs/jobs.md, "Stdin").
void say_if_stdin_was_not_sent(const RunOpts& o) {
  if (!o.stdin_file.empty()) return;
  const std::string what = unread_stdin();
  if (what.empty()) return;
  fmt::print(stderr,
             "shoal: stdin is {} holding data, which was not sent to the job: the program's "
             "stdin is empty unless --stdin is given (--stdin - sends this stdin, --stdin FILE "
             "a file)\n",
             what);
}

int run(RunOpts& o) {
  auto notice = check_accepted_only(o.accepted_only);
  if (!notice) return fail(notice.error());
  auto spec = build_spec(o.job);
  if (!spec) return fail(spec.error());
  if (!notice->empty()) fmt::print(stderr, "{}\n", *notice);
  auto module = parse_module(o.job.module);
  if (!module) return fail(module.error());
  auto imports = import_modules_from_flags(o.imports);
  if (!imports) return fail(imports.error());
  auto array = array_from_flags(o.job);
  if (!array) return fail(array.error());
  RunRequest request;
  request.spec = std::move(*spec);
  request.module.kind =
      module->kind == SourceKind::url ? ModuleRef::Kind::url : ModuleRef::Kind::local;
  request.module.source = module->source;
  request.imports = std::move(*imports);
  request.stdin_file = o.stdin_file;
  request.array = std::move(*array);
  if (o.dry_run) {
    auto yaml = bacalhau::write_bacalhau_spec(request, read_file);
    if (!yaml) return fail(yaml.error());
    fmt::print("{}", *yaml);
    return 0;
  }
  const int status = submit_job(request, o.wait);
  say_if_stdin_was_not_sent(o);
  return status;
}

// Bacalhau's flags that shoal takes without acting on them (run_flags.h).
void add_accepted_only_flags(CLI::App& cmd, AcceptedOnlyFlags& f) {
  cmd.add_option("-p,--publisher", f.publisher,
                 "Bacalhau's publisher: only local, which is what shoal always does (results are "
                 "kept: shoal job get ID)");
  cmd.add_option("--cpu", f.cpu, "Bacalhau's CPU request: accepted, not enforced here");
  cmd.add_option("--disk", f.disk, "Bacalhau's disk request: accepted, not enforced here");
  cmd.add_option("--gpu", f.gpu, "Bacalhau's GPU request: accepted, not enforced here");
  cmd.add_option("--network", f.network,
                 "Bacalhau's network type (None, HTTP, Host, Bridge): accepted, not enforced "
                 "here");
}

}  // namespace

void add_wait_flags(CLI::App& cmd, WaitOptions& wait) {
  cmd.add_flag("--wait,!--no-wait", wait.wait,
               "Wait for the job to end (default; --wait=false to submit only)");
  cmd.add_option("--wait-timeout-secs", wait.wait_timeout_s,
                 "Stop waiting after this many seconds, or a duration such as 5m (exit 124; the "
                 "job goes on)")
      ->transform(duration_check(jobs::kMaxTimeoutS));
  cmd.add_flag("--id-only", wait.id_only, "Print only the job id");
  cmd.add_flag("-f,--follow", wait.follow, "Stream the program's stdout and stderr as it runs");
  cmd.add_flag("--download", wait.download,
               "When the job ends, write its results as shoal job get does (to --output-dir)");
  cmd.add_option("--output-dir", wait.output_dir,
                 "Where --download writes (default: ./job-<short id>); implies --download");
}

void add_wasm_commands(CLI::App& app, int& status) {
  auto* wasm = app.add_subcommand("wasm", "Run WebAssembly programs as jobs");
  wasm->require_subcommand(1);
  auto* cmd = wasm->add_subcommand(
      "run", "Submit a WASI program as a job, wait for it and print its output");
  auto o = std::make_shared<RunOpts>();
  cmd->add_option("module", o->job.module, "The .wasm module: a local file or an http(s) URL")
      ->required();
  cmd->add_option("args", o->job.args,
                  "The program's arguments (put -- before ones that start with a dash)");
  cmd->add_option("-e,--env", o->job.env, "An environment variable for the program")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  cmd->add_option(
         "-i,--input", o->job.inputs,
         "An input: SRC:DST or src=SRC,dst=DST; SRC a local file or directory, or an http(s) URL")
      ->allow_extra_args(false);
  cmd->add_option("-o,--output", o->job.outputs,
                  "A writable output directory NAME:PATH (/outputs always exists)")
      ->allow_extra_args(false);
  cmd->add_option("--entry-point", o->job.entry, "The exported function to call")
      ->capture_default_str();
  cmd->add_option("--timeout", o->job.timeout_s,
                  "Stop the program after this many seconds, or a duration such as 90s, 5m or "
                  "1h30m (0: never)")
      ->transform(duration_check(jobs::kMaxTimeoutS));
  cmd->add_option("--memory", o->job.memory,
                  "Cap the program's memory, e.g. 256MiB (default 1GiB)");
  cmd->add_option(
      "--stdout-limit", o->job.stdout_limit,
      "Keep at most this much of stdout, e.g. 64MiB (default and most: the broker's "
      "cap, 1GiB); the rest is dropped, and every command that shows the output says so");
  cmd->add_option("--stderr-limit", o->job.stderr_limit,
                  "Keep at most this much of stderr (as --stdout-limit)");
  cmd->add_option("--name", o->job.name, "A name for the job");
  cmd->add_option("-l,--labels", o->job.labels, "Labels: key=value or key, comma-separated")
      ->allow_extra_args(false);
  cmd->add_option("--meta", o->job.meta,
                  "A note about the job, kept and shown but not used to select it (Bacalhau's "
                  "Meta); repeatable")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  cmd->add_option("--stdin", o->stdin_file,
                  "A file (or - for this stdin) to feed the program's stdin");
  cmd->add_option("-I,--import-modules", o->imports,
                  "A module whose exports the program imports (a local file or an http(s) URL), "
                  "imported under its file name without .wasm; repeatable")
      ->allow_extra_args(false);
  add_wait_flags(*cmd, o->wait);
  cmd->add_flag("--dry-run", o->dry_run,
                "Print the job as a Bacalhau job spec (YAML) and submit nothing");
  cmd->add_option("--constraints", o->job.constraints,
                  "Run only on workers whose labels match, e.g. 'zone=a,gpu!=true'");
  // Job arrays (docs/jobs.md, "Arrays").
  cmd->add_option("--array", o->job.array,
                  "Run one job per index, as Slurm's --array: 1-100, 0-30:10, 1,3,5-7; each "
                  "sees SHOAL_ARRAY_INDEX and SLURM_ARRAY_TASK_ID, and {} in arguments, env "
                  "and outputs is the index");
  cmd->add_option("--each-input", o->job.each_input,
                  "Run one job per item: 'GLOB[:TARGET]' (the files it matches), '@FILE[:TARGET]' "
                  "or '@-[:TARGET]' (paths or URLs, one per line); TARGET mounts each item, and "
                  "{} {/} {.} {/.} {//} {#} in arguments, env and outputs name it")
      ->type_name("ITEMS[:TARGET]");
  add_accepted_only_flags(*cmd, o->accepted_only);
  cmd->callback([&status, o] { status = run(*o); });
}

}  // namespace shoal::cli
