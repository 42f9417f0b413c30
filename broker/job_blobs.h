// The bytes a job carries besides its module, put into its worker's run
// message at dispatch: the import modules (from the blob store) and the
// inline inputs (written from the blob store into the execution's scratch
// directory and mounted read-only at their targets).
#pragma once

#include <expected>
#include <string>

#include "broker/job.h"
#include "broker/store.h"
#include "broker/worker_protocol.h"

namespace shoal::broker {

// Fails naming the blob that is missing or the file that cannot be written;
// the job then fails with that message. `dir` must exist.
std::expected<void, std::string> attach_job_blobs(const jobs::JobSpec& spec, Store& store,
                                                  const std::string& dir, wire::Run& run);

}  // namespace shoal::broker
