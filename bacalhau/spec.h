// Bacalhau job specs (YAML or JSON) read into the request `shoal wasm run`
// builds, and that request printed back as a Bacalhau spec, so that a job
// moves between shoal and a Bacalhau network unchanged. docs/jobs.md lists
// the fields shoal reads and the ones it refuses.
//
// Reading: JSON when the text starts with '{' (syntax errors carry a line
// and column), YAML otherwise. Every field shoal does not support, and
// every bad value, is reported, all at once, each naming its full path:
//   Tasks[0].Network.Type: 'Host' is not supported by shoal (jobs have no network)
//   Tasks[0].Resources.GPU: not supported by shoal
//
// Modules: Tasks[0].Engine.Params.EntryModule (and each ImportModules
// entry) is, in order of precedence:
//   - the Target of an InputSources entry (Bacalhau's way): that source is
//     the module, and it is not also mounted as an input;
//   - an http(s) URL, downloaded by the client at submission;
//   - a local path, relative to the directory of the spec file (the
//     current directory for a spec read from stdin);
//   - an InputSource object ({Source: {Type, Params}, Target}), Bacalhau's
//     older form.
// An import module's name is its file name (of the target, path or URL)
// without ".wasm".
//
// Inputs: urlDownload (fetched by the broker), local (SourcePath relative to
// the spec's directory; must exist; ReadWrite must be false), inline (a
// data: URL decoded here; its bytes travel with the submission).
//
// shoal's own field: a job array (docs/jobs.md, "Arrays in a Bacalhau
// spec") under the top-level key kArrayKey, which Bacalhau's own tools
// refuse by name as an unknown field (a spec that uses it is not meant to
// run on a Bacalhau network unchanged).
#pragma once

#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bacalhau/request.h"

namespace shoal::bacalhau {

// The top-level key of shoal's job array in a Bacalhau spec.
inline constexpr char kArrayKey[] = "x-shoal-array";

// Reads a spec. `origin` names the text in messages ("job.yaml", "-");
// `base_dir` is where relative paths start. Local paths in the result are
// absolute. On failure, every problem, one message each.
std::expected<RunRequest, std::vector<std::string>> read_bacalhau_spec(
    std::string_view text, std::string_view origin, const std::string& base_dir,
    const PathProbe& probe = probe_local_path);

// Reads a local file's bytes (injected so that tests need no files).
using FileReader = std::function<std::expected<std::string, std::string>(const std::string&)>;

// The request as a Bacalhau spec in YAML. A local module becomes an inline
// input source (its bytes as a base64 data: URL, as `bacalhau wasm run`
// does) at /app/FILE; a URL module a urlDownload source there. Fails when
// the request has what a Bacalhau spec cannot say (stdin), or a module
// cannot be read.
std::expected<std::string, std::string> write_bacalhau_spec(const RunRequest& request,
                                                            const FileReader& read_file);

}  // namespace shoal::bacalhau
