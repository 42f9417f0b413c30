// What `shoal` says about itself beyond --help: the bash completion script
// (`shoal completion bash`) and the manual page (`shoal manual`, which the
// build turns into shoal.1), both from what is built in.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace shoal::cli {

// The manual page, in roff (man(7)): every command of `app`, depth first,
// with its description, usage, positionals and options, from the same
// texts as --help.
std::string manual_page(const CLI::App& app, const std::string& version);

// The bash completion script: cli/completion.bash.in (built in) with the
// commands and flags of `app` written into it.
std::string completion_script(const CLI::App& app);

// `completion bash` and the hidden `manual` command.
void add_manual_commands(CLI::App& app);

}  // namespace shoal::cli
