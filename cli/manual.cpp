#include "cli/manual.h"

#include <fmt/core.h>

#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/completion_template.h"  // generated from cli/completion.bash.in
#include "cli/version.h"

namespace shoal::cli {
namespace {

// Text for roff: a backslash doubled, a line starting with . or ' escaped.
std::string roff(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
    line_start = c == '\n';
  }
  return out;
}

std::string path_of(const CLI::App* cmd) {
  std::string path;
  for (const CLI::App* c = cmd; c; c = c->get_parent())
    path = c->get_name() + (path.empty() ? "" : " " + path);
  return path;
}

std::string option_names(const CLI::Option* o) {
  std::string names;
  for (const auto& s : o->get_snames()) names += (names.empty() ? "-" : ", -") + s;
  for (const auto& l : o->get_lnames()) names += (names.empty() ? "--" : ", --") + l;
  if (names.empty()) names = o->get_name();
  const std::string type = o->get_type_name();
  if (o->nonpositional() && o->get_expected_max() != 0 && !type.empty()) names += " " + type;
  return names;
}

void describe(const CLI::App* cmd, std::string& out) {
  if (cmd->get_group().empty()) return;  // hidden
  if (cmd->get_parent()) {
    out += ".SS \"" + roff(path_of(cmd)) + "\"\n";
    out += roff(cmd->get_description()) + "\n";
  }
  std::vector<const CLI::Option*> positionals, flags;
  for (const CLI::Option* o : cmd->get_options()) {
    if (o->get_group().empty() || o->check_lname("help")) continue;  // every command has --help
    (o->nonpositional() ? flags : positionals).push_back(o);
  }
  for (const auto* list : {&positionals, &flags})
    for (const CLI::Option* o : *list) {
      out += ".TP\n.B " + roff(option_names(o)) + "\n";
      out += roff(o->get_description()) + "\n";
    }
  for (const CLI::App* sub : cmd->get_subcommands([](const CLI::App*) { return true; }))
    describe(sub, out);
}

}  // namespace

std::string manual_page(const CLI::App& app, const std::string& version) {
  std::string out = ".TH SHOAL 1 \"\" \"" + roff(version) + "\" \"User Commands\"\n";
  std::string what = app.get_description();
  if (what.starts_with("shoal ")) what.erase(0, 6);
  out += ".SH NAME\nshoal \\- " + roff(what) + "\n";
  out += ".SH SYNOPSIS\n.B shoal\n.I command\n[\\fIoptions\\fR] [\\fIarguments\\fR]\n";
  out +=
      ".SH DESCRIPTION\n"
      "shoal runs WebAssembly programs (WASI Preview 1) as batch jobs: on this machine "
      "through a broker it starts by itself, or on remote worker pools. Its commands are "
      "Bacalhau's where Bacalhau has them.\n"
      ".SH OPTIONS\n";
  std::string commands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    describe(sub, commands);
  std::string top;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_group().empty()) continue;
    top += ".TP\n.B " + roff(option_names(o)) + "\n" + roff(o->get_description()) + "\n";
  }
  out += top + ".SH COMMANDS\n" + commands;
  out +=
      ".SH ENVIRONMENT\n"
      ".TP\n.B SHOAL_HOME\nThe state directory (default: $XDG_STATE_HOME/shoal, else "
      "~/.local/state/shoal).\n"
      ".TP\n.B SHOAL_CONNECT, SHOAL_SERVER_KEY\nA remote broker and its public key, as "
      "\\-\\-connect and \\-\\-server\\-key.\n"
      ".SH EXIT STATUS\nThe program's own exit code; 124 when a wait or the program's "
      "timeout ran out; 125 for a usage error or no broker; 126 when the job failed; 130 "
      "when it was stopped; 134 when the program trapped.\n"
      ".SH SEE ALSO\nThe documentation in the source tree: README.md and docs/.\n";
  return out;
}

namespace {

// Visits every visible command below `cmd`, depth first, with its path
// below the top ("" for the top itself, "job list").
template <class Visit>
void each_command(const CLI::App* cmd, const std::string& path, Visit&& visit) {
  visit(cmd, path);
  for (const CLI::App* sub : cmd->get_subcommands([](const CLI::App*) { return true; }))
    if (!sub->get_group().empty())
      each_command(sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), visit);
}

// The three functions that tell the completion script the command tree:
// _shoal_subcommands PATH, _shoal_flags PATH, _shoal_takes_value PATH FLAG.
std::string completion_functions(const CLI::App& app) {
  std::string subs, flags, valued;
  each_command(&app, "", [&](const CLI::App* cmd, const std::string& path) {
    std::string names;
    for (const CLI::App* sub : cmd->get_subcommands([](const CLI::App*) { return true; }))
      if (!sub->get_group().empty()) names += (names.empty() ? "" : " ") + sub->get_name();
    if (!names.empty()) subs += "    \"" + path + "\") echo \"" + names + "\" ;;\n";
    std::string list, takes;
    for (const CLI::Option* o : cmd->get_options()) {
      if (!o->nonpositional() || o->get_group().empty()) continue;
      std::vector<std::string> all;
      for (const auto& n : o->get_snames()) all.push_back("-" + n);
      for (const auto& n : o->get_lnames()) all.push_back("--" + n);
      for (const auto& n : all) {
        list += (list.empty() ? "" : " ") + n;
        if (o->get_expected_max() != 0)
          takes += (takes.empty() ? "\"" : "|\"") + path + ":" + n + "\"";
      }
    }
    if (!list.empty()) flags += "    \"" + path + "\") echo \"" + list + "\" ;;\n";
    if (!takes.empty()) valued += "    " + takes + ") return 0 ;;\n";
  });
  return "# Generated by `shoal completion bash` from shoal's command tree.\n"
         "_shoal_subcommands() {\n  case \"$1\" in\n" +
         subs +
         "  esac\n}\n\n"
         "_shoal_flags() {\n  case \"$1\" in\n" +
         flags +
         "  esac\n}\n\n"
         "_shoal_takes_value() {\n  case \"$1:$2\" in\n" +
         valued + "  esac\n  return 1\n}\n";
}

}  // namespace

std::string completion_script(const CLI::App& app) {
  std::string script(kCompletionTemplate);
  const std::string mark = "@GENERATED@\n";
  script.replace(script.find(mark), mark.size(), completion_functions(app) + "\n");
  return script;
}

void add_manual_commands(CLI::App& app) {
  auto* completion = app.add_subcommand(
      "completion", "Print a shell completion script: source <(shoal completion bash)");
  completion->require_subcommand(1);
  completion
      ->add_subcommand("bash",
                       "Print the bash completion script (install it as "
                       "/usr/share/bash-completion/completions/shoal)")
      ->callback([&app] { fmt::print("{}", completion_script(app)); });
  // Hidden: the build writes the manual page with it (shoal.1).
  app.add_subcommand("manual", "")->group("")->callback([&app] {
    fmt::print("{}", manual_page(app, version_line()));
  });
}

}  // namespace shoal::cli
