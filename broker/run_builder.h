// Building the run message a worker gets for one execution of a job: argv,
// env, limits, the module (its bytes, or its hash alone when the worker
// holds it), the mounts (inputs read-only, each output directory read-write
// in the execution's scratch directory, scratch/out/NAME), stdin, the
// import modules and the inline inputs. A remote worker (docs/remote.md)
// has none of the broker's files: its run carries the bytes of the inputs,
// stdin and the inline inputs, and names the output directories relative
// to its own execution directory.
//
// One function puts a stored blob into a run as a file (place_blob): stdin
// and the inline inputs, for local and remote workers alike. Every error
// names what could not be placed; the job then fails with it.
//
// Runs on the broker's loop thread; reads the store only through the
// BlobReader it is given, and writes only below the scratch directory.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>

#include "protocol/job.h"
#include "protocol/worker_protocol.h"

namespace shoal::broker {

// Reads a blob by hash: its bytes, nullopt when there is none, or an error.
using BlobReader =
    std::function<std::expected<std::optional<std::string>, std::string>(const std::string&)>;

// What every run gets from the broker's options.
struct RunLimits {
  uint64_t default_memory = 0;  // when the job sets none
  uint64_t stdout_cap = 0, stderr_cap = 0;
  // Remote runs: the output files the worker sends back, and the bytes of
  // input files (inline inputs included) it is sent.
  uint64_t output_bytes_cap = 0, output_files_cap = 0;
  uint64_t input_bytes_cap = 0;
};

// One execution to build a run for.
struct RunRequest {
  const jobs::Job* job = nullptr;
  std::string exec_id;
  // The execution's scratch directory; it exists, with out/outputs in it.
  std::string scratch;
  bool remote = false;
  // The worker does not hold the module: its bytes go with the run.
  bool send_module = true;
  // The host path of a job's input (a URL input: where it was staged; ""
  // when it was not).
  std::function<std::string(const jobs::InputSpec&)> input_path;
};

std::expected<wire::Run, std::string> build_run(const RunRequest& request, const BlobReader& blob,
                                                const RunLimits& limits);

// Puts the blob `hash` into `run` as the file `name` of the execution's
// scratch directory `scratch`: written there for a local run, carried in
// run.files for a remote one. Returns the path the run names it by. The
// errors name `what` (e.g. "stdin"): a blob missing from the store, or a
// file that cannot be written.
std::expected<std::string, std::string> place_blob(const BlobReader& blob, const std::string& hash,
                                                   const std::string& what, const std::string& name,
                                                   const std::string& scratch, wire::Run& run);

}  // namespace shoal::broker
