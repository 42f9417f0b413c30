// The files of a remote run (docs/remote.md), on the worker's host: the
// inputs and stdin the broker sent, created under the execution's own
// directory before the run; the output files read back after it; and the
// host's module cache, so that a module crosses the network once.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "protocol/worker_protocol.h"

namespace shoal::worker {

// Creates run.files under `exec_dir` and turns run's relative mount paths
// and stdin path into paths there; run.scratch_dir becomes exec_dir/staging.
// Fails naming the entry that cannot be written or has an unsafe path.
std::expected<void, std::string> materialize(wire::Run& run, const std::string& exec_dir);

// The regular files under exec_dir/out, paths relative to it ("outputs/a"),
// at most `max_files` and `max_bytes` (0: no cap); symbolic links and other
// special files are skipped. `message` says what was left out, if anything.
std::vector<wire::FileEntry> collect_outputs(const std::string& exec_dir, uint64_t max_files,
                                             uint64_t max_bytes, std::string& message);

// The module with this hash from the cache directory, if it is there.
std::optional<std::string> cached_module(const std::string& cache_dir, const std::string& hash);

// Keeps a module in the cache directory (written to a temporary name, then
// renamed, so another worker of the host never reads half a module).
void cache_module(const std::string& cache_dir, const std::string& hash, const std::string& bytes);

}  // namespace shoal::worker
