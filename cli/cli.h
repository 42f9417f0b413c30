// The `shoal` command line: parses argv and runs the chosen command.
#pragma once

namespace shoal::cli {

// Returns the process exit status.
int run_cli(int argc, char** argv);

}  // namespace shoal::cli
