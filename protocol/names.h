// Names a client gives that become parts of host paths (an output's name, a
// file's path inside an output directory), and the one way the broker joins
// such a name onto a directory it trusts. Every path the broker builds from
// client or worker data goes through join_plain or join_relative, where it
// is built: a string that could climb out of the directory (`/`, `..`, a NUL
// byte) is refused there, whatever a client checked before sending it.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace shoal::names {

// An output's name: the directory it is collected into on the broker and
// written to by `shoal job get`. 1 to 255 letters, digits, '.', '_' and '-';
// not "." or ".."; not "stdout", "stderr" or "exitCode", the files `job get`
// writes beside the outputs. The error says what is wrong with `name`.
std::expected<void, std::string> check_output_name(std::string_view name);

// Whether `path` is a relative path of plain components: not empty, no
// leading '/', no empty, "." or ".." component, no NUL byte.
bool is_safe_relative(std::string_view path);

// `dir` + "/" + `name`, where `name` must be one plain component (no '/',
// not "." or "..", no NUL, not empty). The error names `name`.
std::expected<std::string, std::string> join_plain(const std::string& dir, std::string_view name);

// `dir` + "/" + `path`, where `path` must pass is_safe_relative.
std::expected<std::string, std::string> join_relative(const std::string& dir,
                                                      std::string_view path);

// `text` with its control bytes (a NUL, a newline, a tab, an escape)
// written as \xHH, so that it stays on one line of a table or a log.
std::string escaped(std::string_view text);

// A name or path as shown in a message: escaped, and at most 200 bytes, so
// that a hostile name cannot forge lines of a log or flood it.
std::string printable(std::string_view text);

}  // namespace shoal::names
