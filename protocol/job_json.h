// Jobs in the client protocol's JSON (docs/protocol.md). Field names are
// stable: scripts depend on them. The fields are those of
// protocol/job_schema.h; every function here follows that one list.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "protocol/job.h"

namespace shoal::jobs {

nlohmann::json to_json(const Job& job);
nlohmann::json to_json(const JobSpec& spec);

// The spec as a submission carries it: to_json(spec) without the keys the
// broker fills (module_sha256, the import modules' and inline inputs'
// sha256 and size) and without the keys whose value is the default (so a
// broker that predates a field takes a spec that does not use it).
// spec_from_json reads it back to `spec` but for the keys the broker fills.
nlohmann::json submission_json(const JobSpec& spec);

// to_json(job).dump() with invalid UTF-8 replaced by U+FFFD, byte for
// byte, written without building the JSON tree (job_json_text.cpp).
std::string to_json_text(const Job& job);

// The most a job's timeout may be (ten years, in seconds), and a job's
// memory limit (a wasm32 memory holds at most 4 GiB) and its least (one page).
inline constexpr double kMaxTimeoutS = 10.0 * 365 * 24 * 3600;
inline constexpr uint64_t kMaxMemoryBytes = 4ull << 30;
inline constexpr uint64_t kWasmPage = 65536;

// The first string or object key in `j` that holds a NUL byte, as a field
// path ("inputs[0].source"), or nothing. `at` names `j` itself.
std::optional<std::string> field_with_nul(const nlohmann::json& j, const std::string& at = "");

// The whole number in `j[field]`, or `fallback` when there is none; the
// error names the field: negative, over `max` ("is over " + why_max), or not
// a whole number (of `unit`, when given). JSON's numbers would otherwise
// wrap (-1 as 2^64-1) or truncate (1.5 as 1) without a word.
std::expected<uint64_t, std::string> whole_number(const nlohmann::json& j, const char* field,
                                                  uint64_t fallback, uint64_t max,
                                                  const std::string& why_max,
                                                  const std::string& unit = "");

// Reads a submission's spec; fails with a message naming the field at fault.
// Unknown fields are refused, so a typo is not silently ignored. Fields
// left out keep JobSpec's defaults. With `check_values` false, the checks
// of check_spec are left to the caller (an array's spec holds placeholders
// that only its tasks' specs fill: protocol/array.h checks each).
std::expected<JobSpec, std::string> spec_from_json(const nlohmann::json& j,
                                                   bool check_values = true);

// A submission's "array" object (ArraySpec), or nothing when the body has
// none; fails naming the field at fault ("array.items[2] must be a string").
// Its values are checked where its tasks are made (protocol/array.h).
std::expected<std::optional<ArraySpec>, std::string> array_from_json(const nlohmann::json& body);
nlohmann::json to_json(const ArraySpec& array);

// A timeout in seconds as JobSpec::timeout_ms: 0 (none), or a millisecond
// to ten years, rounded to the millisecond. The error names `field` and
// the value as `shown` (by default as JSON writes `seconds`).
std::expected<uint64_t, std::string> timeout_ms_from_seconds(double seconds,
                                                             const std::string& field,
                                                             std::string shown = "");

// The checks a spec's values must pass beyond their types (env entries are
// KEY=VALUE, targets and output paths absolute, names unique, constraints
// a selector, a non-empty entry point, mounts that fit together:
// check_guest_mounts); the error names the field.
std::expected<void, std::string> check_spec(const JobSpec& spec);

// Something a job mounts in the guest's file tree, for check_guest_mounts.
struct GuestMount {
  enum class Kind : uint8_t { directory, file, unknown };
  std::string path;  // the guest path, as given
  Kind kind = Kind::unknown;
  std::string shown;  // how the user gave it: "--output a:/inputs", "output a:/inputs"
};

// The mounts of `spec` (inputs of unknown kind, inline inputs as files,
// outputs as directories, and the default output /outputs unless an output
// is there), shown as a spec names them ("input SOURCE:TARGET").
std::vector<GuestMount> guest_mounts(const JobSpec& spec);

// The outputs a run of `spec` gets: spec.outputs, after the default
// output outputs:/outputs when spec.default_output and no output is at
// /outputs. The one place that rule lives.
std::vector<OutputSpec> effective_outputs(const JobSpec& spec);

// Refuses mounts that cannot all be given to the guest, in the guest's
// terms: two at one guest path (compared normalised: "/a//b/" is "/a/b"),
// or one placed directly inside a directory mount that is not known to be
// a directory itself (the file would need that guest directory for its
// own): "--output a:/inputs and --input ./f.txt:/inputs/f.txt both claim
// /inputs".
// A file (an inline input, a URL's download) at / is refused too: only a
// directory can be the guest's whole file tree (kRootNeedsDirectory).
std::expected<void, std::string> check_guest_mounts(const std::vector<GuestMount>& mounts);
inline constexpr std::string_view kRootNeedsDirectory =
    "only a directory can be mounted at / (the guest's whole file tree); name a file's path, "
    "such as /inputs/data.txt";

// RFC 3339 in UTC with milliseconds: "2026-11-23T22:31:04.123Z".
std::string format_time(int64_t ns);

}  // namespace shoal::jobs
