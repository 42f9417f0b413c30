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

namespace shoal::protocol {

inline constexpr char kVersion[] = "shoal/1";

inline constexpr char kOk[] = "ok";
inline constexpr char kError[] = "error";
inline constexpr char kLog[] = "log";
inline constexpr char kState[] = "state";
inline constexpr char kEnd[] = "end";

}  // namespace shoal::protocol
