// Turning `shoal wasm run`'s flags into a job spec (protocol/job.h).
#pragma once

#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocol/job.h"

namespace shoal::cli {

// The flags of `shoal wasm run` that describe the job, as typed.
struct RunFlags {
  std::string module;
  std::vector<std::string> args, env, inputs, outputs, labels, meta;
  std::string entry = "_start", name, memory, constraints;
  std::string stdout_limit, stderr_limit;  // sizes such as 64MiB; "": the broker's cap
  double timeout_s = 0;
  // Job arrays (docs/jobs.md, "Arrays"): --array INDICES, --each-input ITEMS[:TARGET].
  std::string array, each_input;
};

// Bacalhau's flags that shoal takes without acting on them (docs/jobs.md,
// "Bacalhau's flags"): -p/--publisher (only local: shoal keeps every job's
// results itself), and --cpu, --disk, --gpu, --network, which are not
// enforced here.
struct AcceptedOnlyFlags {
  std::string publisher, cpu, disk, gpu, network;
};

// Refuses a publisher other than local, naming it, and a --network that
// Bacalhau does not know. Returns the one line to say on stderr about the
// resource flags given ("" when none was).
std::expected<std::string, std::string> check_accepted_only(const AcceptedOnlyFlags& flags);

// Validates every flag and names the first bad one. Local input paths
// become absolute and must exist; mounts that cannot all be given to the
// guest are refused naming both flags (jobs::check_guest_mounts). The import modules, inline inputs
// and hashes are left empty (submit_job fills them from the request).
std::expected<jobs::JobSpec, std::string> build_spec(const RunFlags& flags);

// The job array that --array or --each-input asks for, or nothing. Items
// of --each-input: the files a glob matches (sorted, made absolute), or the
// lines of a file (@FILE) or of this process's stdin (@-), each a path
// (made absolute) or an http(s) URL, blank lines skipped; then an optional
// :TARGET, the guest path each task's item is mounted at. Fails naming the
// flag: both flags, a glob that matches nothing, no items, bad indices.
std::expected<std::optional<jobs::ArraySpec>, std::string> array_from_flags(const RunFlags& flags);

// KEY=VALUE pairs (--meta), a later key replacing an earlier one; fails
// naming the flag and the value that is not KEY=VALUE.
std::expected<std::map<std::string, std::string>, std::string> pairs_from_flags(
    const std::string& flag, const std::vector<std::string>& values);

}  // namespace shoal::cli
