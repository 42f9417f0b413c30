// Parsing the values of `shoal wasm run`'s -i/--input and -o/--output flags
// and its module argument, in Bacalhau's syntax, without Bacalhau's
// misparse of URLs that carry a port.
//
// --input takes either form:
//   SRC[:DST]                          e.g. https://host:8443/a.txt:/inputs/a.txt
//   src=SRC,dst=DST[,opt=K=V]...       keys also: source, target, destination,
//                                      option (any case); fields may be
//                                      "double-quoted" (with "" for a quote)
// and the mix Bacalhau documents, SRC[:DST],dst=DST,opt=K=V.
//
// SRC is an http or https URL, or a local path (a file or a directory;
// file://PATH is the same as PATH). Other schemes (ipfs, s3, ...) are refused.
//
// Where SRC ends and DST begins: DST is a guest path and must be absolute,
// so the separator is the last ':' that is followed by '/' but not by "//",
// looking only after a URL's host and port. Thus
//   http://127.0.0.1:8080/a.txt:/inputs/a.txt  -> the URL, /inputs/a.txt
//   https://host:8443/x                        -> the URL, default DST
//   https://host:8443:/inputs/x                -> https://host:8443, /inputs/x
//   https://web.archive.org/web/1/https://e.com/x  -> all URL (":/" + "/")
// A relative DST is therefore never split off: `./a.txt:inputs/a.txt` names
// a local file "./a.txt:inputs/a.txt" (and the error says so). Use the
// src=,dst= form for a SRC that itself contains ":/".
//
// Default DST (Bacalhau's is always /inputs; shoal keeps each input's name
// so that several inputs do not collide):
//   a local directory  -> /inputs
//   a local file       -> /inputs/<its file name>
//   a URL              -> /inputs/<the last segment of its path, %-decoded>;
//                         a URL whose path ends in '/' (or is empty) has no
//                         name, and needs an explicit DST.
//
// DST is returned normalised: no empty or "." components, no trailing '/';
// ".." and "/" itself are refused.
//
// Errors are messages that name the flag and its value, then the problem:
//   --input ./missing.txt: no such file or directory
// Local paths are returned as given; the caller makes them absolute.
// All functions are pure except for the PathProbe, and thread-safe.
#pragma once

#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "bacalhau/request.h"

namespace shoal::cli {

enum class SourceKind { url, local };

using bacalhau::PathKind;
using bacalhau::PathProbe;
using bacalhau::probe_local_path;

struct InputFlag {
  SourceKind kind = SourceKind::local;
  std::string source;         // the URL, or the local path as given (file:// removed)
  std::string target;         // absolute, normalised guest path
  bool is_directory = false;  // a local directory (never for a URL)
  // opt=K=V pairs, not interpreted here: the caller refuses those it does
  // not support.
  std::map<std::string, std::string> options;
  bool operator==(const InputFlag&) const = default;
};

// One --input value. Local sources are probed (a missing one is an error,
// and the probe decides the default DST); URLs are checked for form only.
std::expected<InputFlag, std::string> parse_input(std::string_view value,
                                                  const PathProbe& probe = probe_local_path);

struct OutputFlag {
  std::string name;  // letters, digits, '.', '_', '-'; not "." or ".."
  std::string path;  // absolute, normalised guest path
  bool operator==(const OutputFlag&) const = default;
};

// One --output value, NAME:PATH (split at the first ':'), e.g.
// results:/custom/path.
std::expected<OutputFlag, std::string> parse_output(std::string_view value);

struct ModuleArg {
  SourceKind kind = SourceKind::local;
  std::string source;  // the URL, or the local path as given (file:// removed)
  // Bacalhau's optional ":TARGET" (where the module would appear in the
  // guest), split off by the same rule as --input's DST; nullopt if absent.
  std::optional<std::string> target;
  bool operator==(const ModuleArg&) const = default;
};

// The module positional argument of `shoal wasm run`: an http(s) URL or a
// local path, optionally followed by :TARGET. The file system is not
// consulted: the caller reads the module and reports a missing one.
std::expected<ModuleArg, std::string> parse_module(std::string_view value);

using bacalhau::normalize_guest_path;

}  // namespace shoal::cli
