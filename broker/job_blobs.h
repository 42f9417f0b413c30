// The bytes a job carries besides its module, put into its worker's run
// message at dispatch: the import modules (from the blob store), its stdin
// and the inline inputs (written from the blob store into the execution's
// scratch directory; stdin becomes the run's stdin_path, each inline input
// is mounted read-only at its target). One mechanism places a stored blob
// into a run, whatever it is for.
#pragma once

#include <expected>
#include <functional>
#include <optional>
#include <string>

#include "broker/store.h"
#include "protocol/job.h"
#include "protocol/worker_protocol.h"

namespace shoal::broker {

// Reads a blob by hash: its bytes, nullopt when there is none, or an error.
using BlobReader =
    std::function<std::expected<std::optional<std::string>, std::string>(const std::string&)>;

// Fails naming the blob that is missing or the file that cannot be written;
// the job then fails with that message. `dir` must exist.
std::expected<void, std::string> attach_job_blobs(const jobs::JobSpec& spec, const BlobReader& blob,
                                                  const std::string& dir, wire::Run& run);

}  // namespace shoal::broker
