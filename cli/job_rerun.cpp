// `shoal job rerun`: Bacalhau's `job rerun`, a job run again as a new
// execution of the same job, then waited for as `job run` waits.

#include <fmt/core.h>

#include <memory>
#include <string>

#include "cli/backend.h"
#include "cli/commands.h"
#include "cli/run_request.h"

namespace shoal::cli {

void add_job_rerun(CLI::App& job, int& status) {
  auto* cmd = job.add_subcommand(
      "rerun",
      "Run a job again as a new execution (a running one is stopped first), wait for it and "
      "print its output");
  struct Opts {
    std::string id, reason;
    uint64_t version = 0;
    WaitOptions wait;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("id", o->id, "Job id (any unique prefix)")->required();
  cmd->add_option("--version", o->version,
                  "The job version to run again: 0 (default) or 1, the latest (shoal keeps one "
                  "version of a job)");
  cmd->add_option("--reason", o->reason, "Why, kept in the job's history");
  add_wait_flags(*cmd, o->wait);
  cmd->callback([&status, o] {
    if (o->version > 1) {
      status = fail("--version " + std::to_string(o->version) +
                    ": shoal keeps one version of a job (1, or 0 for the latest)");
      return;
    }
    if (o->wait.downloads() && !o->wait.wait) {
      status = fail("--download needs --wait: the results are written when the job ends");
      return;
    }
    auto c = open_backend();
    if (!c) {
      status = fail(c.error());
      return;
    }
    auto rerun = (*c)->rerun(o->id, o->reason);
    if (!rerun) {
      status = fail(rerun.error());
      return;
    }
    status = wait_for_job(**c, rerun->value("id", o->id), o->wait, "re-run");
  });
}

}  // namespace shoal::cli
