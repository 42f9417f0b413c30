// `shoal wasm run MODULE [ARGS...]`: submit a WASI program as a job, and by
// default wait for it and print its output, exiting with its exit code.
#include <unistd.h>

#include <fmt/core.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "broker/client_protocol.h"
#include "broker/constraints.h"
#include "broker/fetch.h"
#include "client/commands.h"
#include "client/format.h"
#include "client/input_spec.h"
#include "client/job_view.h"
#include "client/progress.h"
#include "client/run_flags.h"

namespace shoal::client {
namespace {

using nlohmann::json;

struct RunOpts {
  std::string module;
  std::vector<std::string> args, env, inputs, outputs, labels;
  std::string entry = "_start", name, memory, stdin_file;
  double timeout = 0, wait_timeout = 0;
  bool wait = true, id_only = false, follow = false, dry_run = false;
  std::string constraints;  // a label selector on workers (docs/remote.md)
};

std::expected<std::string, std::string> read_all(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return std::unexpected(path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(path + ": " + std::strerror(errno));
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The module's bytes: a local file, or an http(s) URL downloaded here (with
// a progress bar on a terminal).
std::expected<std::string, std::string> load_module(const std::string& value) {
  auto m = parse_module(value);
  if (!m) return std::unexpected(m.error());
  if (m->kind == SourceKind::local) {
    auto bytes = read_all(m->source);
    if (!bytes) return std::unexpected("cannot read " + bytes.error());
    return bytes;
  }
  char tmpl[] = "/tmp/shoal-module-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0)
    return std::unexpected(std::string("cannot create a temporary file: ") + std::strerror(errno));
  ::close(fd);
  std::string path = tmpl;
  ProgressBar bar(2, std::filesystem::path(m->source).filename().string());
  broker::FetchOptions options;
  options.progress = [&bar](uint64_t done, std::optional<uint64_t> total) {
    bar.update(done, total);
  };
  auto got = broker::fetch_url(m->source, path, options);
  bar.finish();
  if (!got) {
    ::unlink(path.c_str());
    return std::unexpected("module " + got.error().message);
  }
  auto bytes = read_all(path);
  ::unlink(path.c_str());
  if (!bytes) return std::unexpected("cannot read the downloaded module: " + bytes.error());
  return bytes;
}

int run(RunOpts& o) {
  auto spec = build_spec(o.module, o.args, o.env, o.inputs, o.outputs, o.labels, o.entry, o.name,
                         o.timeout, o.memory);
  if (!spec) return fail(spec.error());
  if (!o.constraints.empty()) {
    if (auto sel = jobs::parse_selector(o.constraints); !sel)
      return fail("--constraints: " + sel.error());
    (*spec)["constraints"] = o.constraints;
  }
  if (o.dry_run) {
    fmt::print("{}", render_yaml(*spec));
    return 0;
  }
  auto module = load_module(o.module);
  if (!module) return fail(module.error());
  Submission job;
  job.spec = *spec;
  job.module = std::move(*module);
  if (!o.stdin_file.empty()) {
    if (o.stdin_file == "-") {
      job.stdin_data =
          std::string((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    } else {
      auto in = read_all(o.stdin_file);
      if (!in) return fail("--stdin " + in.error());
      job.stdin_data = std::move(*in);
    }
  }
  auto c = connect();
  if (!c) return fail(c.error());
  auto r = c->submit(job);
  if (!r) return fail(r.error());
  std::string id = *r;
  const bool tty = ::isatty(2);
  if (o.id_only) {
    fmt::print("{}\n", id);
    std::fflush(stdout);
  } else if (!o.wait) {
    fmt::print("{}\n", id);
    if (tty) fmt::print(stderr, "To follow it: shoal job logs -f {}\n", id);
    return 0;
  } else if (tty) {
    fmt::print(stderr, "Job {} submitted\n", id);
  }
  if (!o.wait) return 0;

  json end;
  if (o.follow && !o.id_only) {
    auto e = c->logs(id, Stream::all, true, write_chunk);
    if (!e) return fail(e.error());
    end = *e;
  } else {
    std::optional<std::chrono::milliseconds> limit;
    if (o.wait_timeout > 0)
      limit = std::chrono::milliseconds(static_cast<int64_t>(o.wait_timeout * 1000));
    auto e = wait_for_end(*c, id, tty && !o.id_only, limit);
    if (!e) {
      fail(e.error());
      return kExitWaitTimeout;
    }
    end = *e;
    if (!o.id_only) (void)c->logs(id, Stream::all, false, write_chunk);
  }
  std::fflush(stdout);
  std::string state = end.value("state", "");
  if (state != "Completed")
    fmt::print(stderr, "shoal: job {} {}: {}\n", id, state == "Stopped" ? "was stopped" : "failed",
               end.value("message", ""));
  return exit_status_of(end);
}

}  // namespace

void add_wasm_commands(CLI::App& app, int& status) {
  auto* wasm = app.add_subcommand("wasm", "Run WebAssembly programs as jobs");
  wasm->require_subcommand(1);
  auto* cmd = wasm->add_subcommand(
      "run", "Submit a WASI program as a job, wait for it and print its output");
  auto o = std::make_shared<RunOpts>();
  cmd->add_option("module", o->module, "The .wasm module: a local file or an http(s) URL")
      ->required();
  cmd->add_option("args", o->args,
                  "The program's arguments (put -- before ones that start with a dash)");
  cmd->add_option("-e,--env", o->env, "An environment variable for the program")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  cmd->add_option(
         "-i,--input", o->inputs,
         "An input: SRC:DST or src=SRC,dst=DST; SRC a local file or directory, or an http(s) URL")
      ->allow_extra_args(false);
  cmd->add_option("-o,--output", o->outputs,
                  "A writable output directory NAME:PATH (/outputs always exists)")
      ->allow_extra_args(false);
  cmd->add_option("--entry-point", o->entry, "The exported function to call")
      ->capture_default_str();
  cmd->add_option("--timeout", o->timeout, "Stop the program after this many seconds (0: never)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--memory", o->memory, "Cap the program's memory, e.g. 256MiB (default 1GiB)");
  cmd->add_option("--name", o->name, "A name for the job");
  cmd->add_option("-l,--labels", o->labels, "Labels: key=value or key, comma-separated")
      ->allow_extra_args(false);
  cmd->add_option("--stdin", o->stdin_file,
                  "A file (or - for this stdin) to feed the program's stdin");
  cmd->add_flag("--wait,!--no-wait", o->wait,
                "Wait for the job to end (default; --wait=false to submit only)");
  cmd->add_option("--wait-timeout-secs", o->wait_timeout,
                  "Accepted for Bacalhau compatibility; shoal waits until the job ends");
  cmd->add_flag("--id-only", o->id_only, "Print only the job id");
  cmd->add_flag("-f,--follow", o->follow, "Stream the program's stdout and stderr as it runs");
  cmd->add_flag("--dry-run", o->dry_run, "Print the job spec and submit nothing");
  cmd->add_option("--constraints", o->constraints,
                  "Run only on workers whose labels match, e.g. 'zone=a,gpu!=true'");
  cmd->callback([&status, o] { status = run(*o); });
}

}  // namespace shoal::client
