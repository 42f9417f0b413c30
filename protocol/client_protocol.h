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

#include <array>
#include <cstdint>
#include <string_view>

namespace shoal::protocol {

inline constexpr char kVersion[] = "shoal/1";

inline constexpr char kOk[] = "ok";
inline constexpr char kError[] = "error";
inline constexpr char kLog[] = "log";
inline constexpr char kState[] = "state";
inline constexpr char kEnd[] = "end";

// The most bytes of an output file one `output` reply carries; a larger
// file is asked for in parts (`offset`, `length`).
// The commands a client sends (docs/protocol.md). Both ends take the names
// from this table; the broker adds a handler per command.
enum class Command {
  kPing,
  kSubmit,
  kGet,
  kList,
  kLogs,
  kWatch,
  kStop,
  kDelete,
  kPrune,
  kOutput,
  kShutdown,
  kNodes,
  kMetrics,
  kRerun
};

struct CommandInfo {
  Command command;
  std::string_view name;
  bool needs_job;    // the body names a job by "id" (a unique prefix)
  bool reads_store;  // answered after everything before it is committed
  // The "id" may name a job array (protocol/array.h): its tasks, all of them.
  bool takes_array = false;
  // ... only when the body asks for it with "array": true (the reply for an
  // array is not shaped as the one for a job).
  bool array_when_asked = false;
  // The body's fields that are switches (true or false), space-separated:
  // any other value is refused with the field's name before the command
  // runs.
  std::string_view switches = "";
};

inline constexpr std::array<CommandInfo, 14> kCommands{{
    {Command::kPing, "ping", false, false},
    {Command::kSubmit, "submit", false, false},
    {Command::kGet, "get", true, true, true, true, "array"},
    {Command::kList, "list", false, true, false, false, "reversed"},
    {Command::kLogs, "logs", true, true, false, false, "follow from_now"},
    {Command::kWatch, "watch", true, false, true, false, "logs states"},
    {Command::kStop, "stop", true, false, true},
    {Command::kDelete, "delete", true, true},
    {Command::kPrune, "prune", false, true},
    {Command::kOutput, "output", true, true},
    {Command::kShutdown, "shutdown", false, false},
    {Command::kNodes, "nodes", false, false},
    {Command::kMetrics, "metrics", false, false},
    {Command::kRerun, "rerun", true, false},
}};

// The entry of a command; the table is in enum order.
constexpr const CommandInfo& info(Command c) {
  return kCommands[static_cast<size_t>(c)];
}
constexpr std::string_view name(Command c) {
  return info(c).name;
}

// The entry named `name`, or nullptr for an unknown command.
constexpr const CommandInfo* find_command(std::string_view command) {
  for (const auto& c : kCommands)
    if (c.name == command) return &c;
  return nullptr;
}

static_assert([] {
  for (size_t i = 0; i < kCommands.size(); ++i)
    if (static_cast<size_t>(kCommands[i].command) != i) return false;
  return true;
}());

inline constexpr uint64_t kOutputPart = uint64_t{4} << 20;

}  // namespace shoal::protocol
