// `shoal job run FILE|-` and `shoal job validate FILE|-`: Bacalhau job
// specs (bacalhau/spec.h) submitted the way `shoal wasm run` submits.
#include <fmt/core.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "bacalhau/spec.h"
#include "cli/commands.h"
#include "cli/run_request.h"

namespace shoal::cli {
namespace {

// The spec at `file` ("-": stdin), read; every problem is printed.
std::expected<RunRequest, int> load_spec(const std::string& file) {
  std::string text, base;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    base = std::filesystem::current_path().string();
  } else {
    auto t = read_file(file);
    if (!t) return std::unexpected(fail("cannot read the job spec " + t.error()));
    text = std::move(*t);
    base = std::filesystem::absolute(file).parent_path().string();
  }
  auto r = bacalhau::read_bacalhau_spec(text, file == "-" ? "the spec on stdin" : file, base);
  if (!r) {
    fmt::print(stderr, "shoal: the job spec {} is not valid:\n", file == "-" ? "on stdin" : file);
    for (const auto& e : r.error()) fmt::print(stderr, "  {}\n", e);
    return std::unexpected(kExitUsage);
  }
  return std::move(*r);
}

}  // namespace

void add_job_run_commands(CLI::App& job, int& status) {
  {
    auto* cmd = job.add_subcommand(
        "run", "Submit a Bacalhau job spec (YAML or JSON), wait for it and print its output");
    struct Opts {
      std::string file;
      WaitOptions wait;
      bool dry_run = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("file", o->file, "The job spec: a file, or - for stdin")->required();
    add_wait_flags(*cmd, o->wait);
    cmd->add_flag("--dry-run", o->dry_run,
                  "Print the spec as shoal reads it (YAML) and submit nothing");
    cmd->callback([&status, o] {
      auto r = load_spec(o->file);
      if (!r) {
        status = r.error();
        return;
      }
      if (o->dry_run) {
        auto yaml = bacalhau::write_bacalhau_spec(*r, read_file);
        if (!yaml) {
          status = fail(yaml.error());
          return;
        }
        fmt::print("{}", *yaml);
        status = 0;
        return;
      }
      status = submit_job(*r, o->wait);
    });
  }
  {
    auto* cmd = job.add_subcommand(
        "validate", "Check a Bacalhau job spec (YAML or JSON) without submitting it");
    auto file = std::make_shared<std::string>();
    cmd->add_option("file", *file, "The job spec: a file, or - for stdin")->required();
    cmd->callback([&status, file] {
      auto r = load_spec(*file);
      if (!r) {
        status = r.error();
        return;
      }
      fmt::print("valid\n");
      status = 0;
    });
  }
}

}  // namespace shoal::cli
