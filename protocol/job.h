// The job model: what a user submits (JobSpec), each attempt to run it
// (Execution), what happened to it (Event), and the job record the store
// keeps. Serialized with cereal (binary in the store and to workers).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

namespace shoal::jobs {

// Bacalhau's state names. Pending: inputs are being staged.
enum class JobState : uint8_t { pending, queued, running, completed, failed, stopped };

std::string_view state_name(JobState s);  // "Pending", "Queued", ...
std::optional<JobState> parse_state(std::string_view name);
inline bool is_terminal(JobState s) {
  return s == JobState::completed || s == JobState::failed || s == JobState::stopped;
}

struct InputSpec {
  // An absolute local path (file or directory, read in place) or an
  // http(s) URL (fetched by the broker).
  std::string source;
  std::string target;  // the guest path
  // The program may change the input (Bacalhau's ReadWrite, `opt=rw=true`):
  // it gets a private copy of its own for each execution, so the source is
  // never changed and a retried execution starts from the same files. Kept
  // at the end of the Job record (see Job), not in this serialisation.
  bool read_write = false;
  template <class A>
  void serialize(A& ar) {
    ar(source, target);
  }
  bool is_url() const { return source.starts_with("http://") || source.starts_with("https://"); }
};

struct OutputSpec {
  std::string name;
  std::string path;  // the guest path, absolute
  template <class A>
  void serialize(A& ar) {
    ar(name, path);
  }
};

// A module whose exports the entry module imports, under `name`.
struct ImportModuleSpec {
  std::string name;    // the import module name the entry module uses
  std::string source;  // as the user gave it (path, URL or spec target), for display
  std::string hash;    // sha256 of the bytes, a key of the blob store
  template <class A>
  void serialize(A& ar) {
    ar(name, source, hash);
  }
};

// A file whose bytes came with the submission (a data: URL in a Bacalhau
// spec), kept as a blob and mounted read-only at `target`.
struct InlineInputSpec {
  std::string target;
  std::string hash;  // sha256, a key of the blob store
  uint64_t size = 0;
  template <class A>
  void serialize(A& ar) {
    ar(target, hash, size);
  }
};

// A job array (docs/jobs.md, "Arrays"): one submission that becomes one job
// per task. Exactly one of `indices` (Slurm's --array syntax: "1-100",
// "0-15:4", "1,3,5-7"; task i runs with index i) and `items` (one task per
// item, indices 1..N: the files or URLs of --each-input) is set. Each
// task's spec is the submitted spec with the placeholders of
// protocol/array.h filled; `item_target`, when set, mounts each task's
// item (a local path or a URL) read-only at that guest path. Only a
// submission carries it: the broker stores the tasks, never the array.
struct ArraySpec {
  std::string indices;
  std::vector<std::string> items;
  std::string item_target;
  bool empty() const { return indices.empty() && items.empty() && item_target.empty(); }
};

struct JobSpec {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string module_name;  // as the user gave it (path or URL), for display
  std::string module_hash;  // sha256 of the module bytes, a key of the blob store
  std::string entry_point = "_start";
  std::vector<std::string> args;  // the program's arguments, argv[1...]
  std::vector<std::string> env;   // KEY=VALUE
  std::vector<InputSpec> inputs;
  std::vector<OutputSpec> outputs;
  uint64_t timeout_ms = 0;    // 0: none
  uint64_t memory_bytes = 0;  // 0: the default limit
  std::string stdin_hash;     // a blob, or empty for an empty stdin
  std::string constraints;    // a label selector on workers (protocol/constraints.h); empty: any
  std::vector<ImportModuleSpec> import_modules;  // instantiated first, in this order
  std::vector<InlineInputSpec> inline_inputs;
  // Bacalhau's job Meta: free-form notes about the job (who, why), kept
  // and shown, never interpreted.
  std::map<std::string, std::string> meta;
  // The most of stdout and of stderr kept (--stdout-limit, --stderr-limit);
  // 0: the broker's cap (BrokerOptions), which is also the most a job may
  // ask. What a program writes past it is counted and dropped
  // (Execution::stdout_dropped), and every command that shows the output
  // says so (docs/jobs.md, "Output limits").
  uint64_t stdout_limit = 0, stderr_limit = 0;
  // Whether the run gets the default output, outputs:/outputs, besides
  // `outputs` (when none of them is at /outputs): true for `wasm run` and
  // the client protocol, as Bacalhau's wasm run; false for a Bacalhau job
  // spec, whose ResultPaths are all its outputs. effective_outputs() applies it.
  bool default_output = true;
  // The store's format of a spec. `meta`, the limits, default_output and
  // InputSpec::read_write are not in it: they
  // are kept at the end of the Job record (see Job), where records written
  // before they existed end.
  template <class A>
  void serialize(A& ar) {
    ar(name, labels, module_name, module_hash, entry_point, args, env, inputs, outputs, timeout_ms,
       memory_bytes, stdin_hash, constraints, import_modules, inline_inputs);
  }
};

struct Execution {
  std::string id;  // "e-<job uuid>-<attempt>"
  uint32_t attempt = 1;
  std::string worker;
  JobState state = JobState::running;
  int64_t started_ns = 0;
  int64_t ended_ns = 0;
  std::optional<int32_t> exit_code;
  std::string message;
  uint64_t stdout_bytes = 0, stderr_bytes = 0;
  uint64_t stdout_dropped = 0, stderr_dropped = 0;
  template <class A>
  void serialize(A& ar) {
    ar(id, attempt, worker, state, started_ns, ended_ns, exit_code, message, stdout_bytes,
       stderr_bytes, stdout_dropped, stderr_dropped);
  }
};

struct Event {
  int64_t time_ns = 0;
  std::string topic;  // "Submission", "State", "Execution", "Input", "Output"
  std::string message;
  template <class A>
  void serialize(A& ar) {
    ar(time_ns, topic, message);
  }
};

struct OutputFile {
  std::string name;  // the output's name
  std::string path;  // relative to the output directory
  uint64_t size = 0;
  template <class A>
  void serialize(A& ar) {
    ar(name, path, size);
  }
};

struct Job {
  std::string id;  // "j-<uuid>"
  JobSpec spec;
  JobState state = JobState::queued;
  std::string message;  // why it failed or was stopped
  int64_t created_ns = 0;
  int64_t modified_ns = 0;
  std::optional<int32_t> exit_code;
  std::vector<Execution> executions;
  std::vector<Event> history;
  std::vector<OutputFile> output_files;
  std::string outputs_message;  // e.g. truncation
  uint64_t revision = 0;
  // The store's format of a job: the fields of store format 4, then the
  // fields added since (`spec.meta` in format 5, then the output limits in
  // format 6, then which inputs are read-write and default_output in format
  // 7), each group written only when it or a later one is set, so
  // that a job that uses none is a record of format 4 byte for byte. Each
  // group is read only when bytes are left, so that an older record loads
  // with them empty. A Job is always a whole record, never
  // followed by other values, and is read with wire::CheckedInputArchive
  // (protocol/checked_archive.h), which knows the bytes left.
  template <class A>
  void save(A& ar) const {
    ar(id, spec, state, message, created_ns, modified_ns, exit_code, executions, history,
       output_files, outputs_message, revision);
    const bool limits = spec.stdout_limit || spec.stderr_limit;
    const bool mounts =
        !spec.default_output || std::ranges::any_of(spec.inputs, &InputSpec::read_write);
    if (!spec.meta.empty() || limits || mounts) ar(spec.meta);
    if (limits || mounts) ar(spec.stdout_limit, spec.stderr_limit);
    if (mounts) {
      std::vector<uint8_t> read_write;
      for (const auto& in : spec.inputs) read_write.push_back(in.read_write ? 1 : 0);
      ar(read_write, spec.default_output);
    }
  }
  template <class A>
  void load(A& ar) {
    ar(id, spec, state, message, created_ns, modified_ns, exit_code, executions, history,
       output_files, outputs_message, revision);
    if (ar.remaining() > 0) ar(spec.meta);
    if (ar.remaining() > 0) ar(spec.stdout_limit, spec.stderr_limit);
    if (ar.remaining() > 0) {
      std::vector<uint8_t> read_write;
      ar(read_write, spec.default_output);
      for (size_t i = 0; i < read_write.size() && i < spec.inputs.size(); ++i)
        spec.inputs[i].read_write = read_write[i] != 0;
    }
  }
};

// A new id, "j-" and a random (version 4) UUID.
std::string new_job_id();

// A job id or prefix as a person typed it: Bacalhau's documentation writes
// ids without the "j-" (`bacalhau job get 51225160`), so a prefix that does
// not start with 'j' gets it; anything else is kept as it is.
std::string id_prefix(std::string_view typed);

// Nanoseconds since the epoch, now.
int64_t now_ns();

}  // namespace shoal::jobs
