// The one list of a job's fields in the client protocol's JSON
// (docs/protocol.md): for each type of protocol/job.h, its JSON keys and the
// member each key holds, in one `fields` function. Everything that turns a
// job into JSON or back goes through these lists (job_json.cpp: the tree
// writer and the reader; job_json_text.cpp: the text writer), so a field
// added here appears in all of them; the CLI and the Bacalhau spec build and
// read a JobSpec, never the JSON by hand.
//
// Each `fields(object, visit)` calls visit(key, member, flow) once per key,
// with `object` const or not. Keys are listed in sorted (byte) order,
// because nlohmann's objects are sorted and the text writer must write the
// bytes the tree writer gives; tests/unit/job_json_text_test.cpp checks it.
//
// A member is a plain value (string, whole number, list of strings, string
// map, optional exit code, a nested type of this list or a vector of one) or
// one of the views below, which say how a member's JSON differs from its C++
// form. The store's format is the cereal `serialize` of job.h, not this list.
//
// Adding a field: add the member to its struct in job.h (and to its cereal
// serialize, at the end of the record, see Job there), add one line here,
// then document it in docs/jobs.md and docs/protocol.md (docs/architecture.md,
// "One job schema").
#pragma once

#include <concepts>
#include <cstdint>
#include <type_traits>

#include "protocol/job.h"

namespace shoal::jobs::schema {

// How a key travels.
enum class Flow : uint8_t {
  optional,  // written, and read when present (a submission may leave it out)
  required,  // written, and must be present where it is read
  written,   // written only: the broker fills it (hashes, sizes) or derives it
};

// A duration in milliseconds, in JSON as seconds (a number, 1.5).
template <class M>
struct Seconds {
  M& ms;
};
template <class M>
Seconds(M&) -> Seconds<M>;

// A memory limit in bytes: a whole number, 0 (the default) or one wasm
// page to 4 GiB.
template <class M>
struct MemoryBytes {
  M& bytes;
};
template <class M>
MemoryBytes(M&) -> MemoryBytes<M>;

// Written only: nanoseconds since the epoch as RFC 3339 text ("" for 0).
struct Time {
  const int64_t& ns;
};
// Written only: a state's name ("Completed").
struct State {
  const JobState& state;
};
// Written only: a fixed text.
struct Constant {
  const char* text;
};

template <class S, class T>
concept Is = std::same_as<std::remove_const_t<S>, T>;

template <Is<InputSpec> S, class V>
void fields(S& i, V&& visit) {
  visit("read_write", i.read_write, Flow::optional);
  visit("source", i.source, Flow::required);
  visit("target", i.target, Flow::required);
}

template <Is<OutputSpec> S, class V>
void fields(S& o, V&& visit) {
  visit("name", o.name, Flow::required);
  visit("path", o.path, Flow::required);
}

template <Is<ImportModuleSpec> S, class V>
void fields(S& m, V&& visit) {
  visit("name", m.name, Flow::required);
  visit("sha256", m.hash, Flow::written);
  visit("source", m.source, Flow::optional);
}

template <Is<InlineInputSpec> S, class V>
void fields(S& i, V&& visit) {
  visit("sha256", i.hash, Flow::written);
  visit("size", i.size, Flow::written);
  visit("target", i.target, Flow::required);
}

// A submission's "array" (docs/protocol.md, submit): read from the submit
// body beside the spec, never stored.
template <Is<ArraySpec> S, class V>
void fields(S& a, V&& visit) {
  visit("indices", a.indices, Flow::optional);
  visit("item_target", a.item_target, Flow::optional);
  visit("items", a.items, Flow::optional);
}

// The spec a user submits. stdin_hash has no key: the broker fills it from
// the stdin frame (docs/protocol.md, submit).
template <Is<JobSpec> S, class V>
void fields(S& s, V&& visit) {
  visit("args", s.args, Flow::optional);
  visit("constraints", s.constraints, Flow::optional);
  visit("default_output", s.default_output, Flow::optional);
  visit("entry_point", s.entry_point, Flow::optional);
  visit("env", s.env, Flow::optional);
  visit("import_modules", s.import_modules, Flow::optional);
  visit("inline_inputs", s.inline_inputs, Flow::optional);
  visit("inputs", s.inputs, Flow::optional);
  visit("labels", s.labels, Flow::optional);
  visit("memory", MemoryBytes{s.memory_bytes}, Flow::optional);
  visit("meta", s.meta, Flow::optional);
  visit("module", s.module_name, Flow::optional);
  visit("module_sha256", s.module_hash, Flow::written);
  visit("name", s.name, Flow::optional);
  visit("outputs", s.outputs, Flow::optional);
  visit("stderr_limit", s.stderr_limit, Flow::optional);
  visit("stdout_limit", s.stdout_limit, Flow::optional);
  visit("timeout_s", Seconds{s.timeout_ms}, Flow::optional);
}

template <Is<Execution> S, class V>
void fields(S& e, V&& visit) {
  visit("attempt", e.attempt, Flow::written);
  visit("ended", Time{e.ended_ns}, Flow::written);
  visit("exit_code", e.exit_code, Flow::written);
  visit("id", e.id, Flow::written);
  visit("message", e.message, Flow::written);
  visit("started", Time{e.started_ns}, Flow::written);
  visit("state", State{e.state}, Flow::written);
  visit("stderr_bytes", e.stderr_bytes, Flow::written);
  visit("stderr_dropped", e.stderr_dropped, Flow::written);
  visit("stdout_bytes", e.stdout_bytes, Flow::written);
  visit("stdout_dropped", e.stdout_dropped, Flow::written);
  visit("worker", e.worker, Flow::written);
}

template <Is<Event> S, class V>
void fields(S& h, V&& visit) {
  visit("event", h.message, Flow::written);
  visit("time", Time{h.time_ns}, Flow::written);
  visit("topic", h.topic, Flow::written);
}

template <Is<OutputFile> S, class V>
void fields(S& f, V&& visit) {
  visit("name", f.name, Flow::written);
  visit("path", f.path, Flow::written);
  visit("size", f.size, Flow::written);
}

// A job as the broker reports it ("name" repeats the spec's, as Bacalhau's
// job listing shows it).
template <Is<Job> S, class V>
void fields(S& j, V&& visit) {
  visit("created", Time{j.created_ns}, Flow::written);
  visit("engine", Constant{"wasm"}, Flow::written);
  visit("executions", j.executions, Flow::written);
  visit("exit_code", j.exit_code, Flow::written);
  visit("history", j.history, Flow::written);
  visit("id", j.id, Flow::written);
  visit("message", j.message, Flow::written);
  visit("modified", Time{j.modified_ns}, Flow::written);
  visit("name", j.spec.name, Flow::written);
  visit("output_files", j.output_files, Flow::written);
  visit("outputs_message", j.outputs_message, Flow::written);
  visit("revision", j.revision, Flow::written);
  visit("spec", j.spec, Flow::written);
  visit("state", State{j.state}, Flow::written);
  visit("type", Constant{"batch"}, Flow::written);
}

// Whether T has a field list above.
template <class T>
concept Described = requires(T& t) {
  fields(t, [](const char*, auto&&, Flow) {});
};

}  // namespace shoal::jobs::schema
