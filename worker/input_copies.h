// Read-write inputs of a local run (jobs::InputSpec::read_write): the
// program changes a copy of its own, made before the run in the run's
// scratch directory, which the broker removes with the rest of it. The
// source is never changed, so a retried execution sees the same files.
#pragma once

#include <expected>
#include <string>

#include "protocol/worker_protocol.h"

namespace shoal::worker {

// Copies each mount of `run` marked `copy` (a file, or a directory tree
// with its symbolic links kept as links) to run.scratch_dir/rw-K and points
// the mount there. Fails naming the input by its guest path, never by a
// host path (a job's message must not show the broker's directories).
std::expected<void, std::string> copy_read_write_inputs(wire::Run& run);

}  // namespace shoal::worker
