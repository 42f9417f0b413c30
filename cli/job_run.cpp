// `shoal job run FILE|-` and `shoal job validate FILE|-`: Bacalhau job
// specs (bacalhau/spec.h) submitted the way `shoal wasm run` submits.
#include <unistd.h>

#include <fmt/core.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "bacalhau/spec.h"
#include "bacalhau/template.h"
#include "cli/commands.h"
#include "cli/run_request.h"

namespace shoal::cli {
namespace {

// Bacalhau's template flags of `job run`: -V/--template-vars,
// -E/--template-envs, --no-template (bacalhau/template.h).
struct TemplateFlags {
  std::vector<std::string> vars;
  std::string envs;
  bool off = false;
};

void add_template_flags(CLI::App& cmd, TemplateFlags& t) {
  cmd.add_option("-V,--template-vars", t.vars,
                 "KEY=VALUE (or K=V,K2=V2): {{.KEY}} in the spec becomes VALUE")
      ->allow_extra_args(false);
  cmd.add_option("-E,--template-envs", t.envs,
                 "A regular expression: the environment variables whose names it matches are "
                 "template variables too (-V wins)");
  cmd.add_flag("--no-template", t.off, "Read the spec as it is, {{ }} included");
}

// The spec's text with its template variables replaced.
std::expected<std::string, std::string> expand(const std::string& text, const TemplateFlags& t) {
  if (t.off) return text;
  auto vars = bacalhau::template_vars_from_flags(t.vars);
  if (!vars) return std::unexpected(vars.error());
  if (!t.envs.empty()) {
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
    if (auto ok = bacalhau::add_template_envs(t.envs, env, *vars); !ok)
      return std::unexpected(ok.error());
  }
  return bacalhau::expand_template(text, *vars);
}

// The spec at `file` ("-": stdin), read; every problem is printed. What
// shoal accepts without doing is said in one line.
std::expected<RunRequest, int> load_spec(const std::string& file,
                                         const TemplateFlags& templates = {}) {
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
  const std::string shown = file == "-" ? "on stdin" : file;
  auto expanded = expand(text, templates);
  if (!expanded) return std::unexpected(fail("the job spec " + shown + ": " + expanded.error()));
  auto r = bacalhau::read_bacalhau_spec(*expanded, file == "-" ? "the spec on stdin" : file, base);
  if (!r) {
    fmt::print(stderr, "shoal: the job spec {} is not valid:\n", shown);
    for (const auto& e : r.error()) fmt::print(stderr, "  {}\n", e);
    return std::unexpected(kExitUsage);
  }
  for (const auto& w : r->warnings) fmt::print(stderr, "shoal: warning: {}\n", w);
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
      TemplateFlags templates;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("file", o->file, "The job spec: a file, or - for stdin")->required();
    add_wait_flags(*cmd, o->wait);
    cmd->add_flag("--dry-run", o->dry_run,
                  "Print the spec as shoal reads it (YAML) and submit nothing");
    add_template_flags(*cmd, o->templates);
    cmd->callback([&status, o] {
      auto r = load_spec(o->file, o->templates);
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
    auto templates = std::make_shared<TemplateFlags>();
    cmd->add_option("file", *file, "The job spec: a file, or - for stdin")->required();
    add_template_flags(*cmd, *templates);
    cmd->callback([&status, file, templates] {
      auto r = load_spec(*file, *templates);
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
