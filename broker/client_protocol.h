// The client protocol's constants (docs/protocol.md).
//
// A request is a multipart message on the broker's ROUTER:
//   [protocol "shoal/1"] [command] [JSON body] [binary frames...]
// A reply:
//   [protocol] [kind] [JSON body] [binary frames...]
// where kind is "ok" (the final answer), "error" (final; body {"error": msg}),
// or, for streaming commands, any number of "log" and "state" messages before
// a final "end".
#pragma once

#include <cstdint>

namespace shoal::protocol {

inline constexpr char kVersion[] = "shoal/1";

inline constexpr char kOk[] = "ok";
inline constexpr char kError[] = "error";
inline constexpr char kLog[] = "log";
inline constexpr char kState[] = "state";
inline constexpr char kEnd[] = "end";

// The most bytes of an output file one `output` reply carries; a larger
// file is asked for in parts (`offset`, `length`).
inline constexpr uint64_t kOutputPart = uint64_t{4} << 20;

}  // namespace shoal::protocol
