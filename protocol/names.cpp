#include "protocol/names.h"

#include <array>

namespace shoal::names {

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool is_plain(std::string_view part) {
  return !part.empty() && part != "." && part != ".." &&
         part.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

constexpr size_t kNameMax = 255;  // a directory name on Linux file systems

}  // namespace

std::expected<void, std::string> check_output_name(std::string_view name) {
  const std::string shown = "\"" + printable(name) + "\"";
  if (name.empty()) return std::unexpected(std::string("an output's name is empty"));
  if (name.size() > kNameMax)
    return std::unexpected("the output name " + shown + " is longer than 255 bytes");
  for (char c : name)
    if (!is_name_char(c))
      return std::unexpected("the output name " + shown +
                             " may use only letters, digits, '.', '_' and '-'");
  if (name == "." || name == "..")
    return std::unexpected("the output name " + shown + " is not a usable directory name");
  static constexpr std::array<std::string_view, 3> reserved = {"stdout", "stderr", "exitCode"};
  for (auto r : reserved)
    if (name == r)
      return std::unexpected("the output name " + shown +
                             " is taken by the file of that name that `shoal job get` writes; "
                             "choose another");
  return {};
}

bool is_safe_relative(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  for (size_t start = 0;;) {
    size_t slash = path.find('/', start);
    if (!is_plain(path.substr(start, slash == std::string_view::npos ? slash : slash - start)))
      return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

std::expected<std::string, std::string> join_plain(const std::string& dir, std::string_view name) {
  if (!is_plain(name))
    return std::unexpected("\"" + printable(name) +
                           "\" is not a plain name (it is empty, \".\" or \"..\", or holds '/' or "
                           "a NUL byte)");
  return dir + "/" + std::string(name);
}

std::expected<std::string, std::string> join_relative(const std::string& dir,
                                                      std::string_view path) {
  if (!is_safe_relative(path))
    return std::unexpected("\"" + printable(path) +
                           "\" is not a relative path of plain names (it is empty or absolute, "
                           "or has a \".\", \"..\" or empty part, or a NUL byte)");
  return dir + "/" + std::string(path);
}

std::string escaped(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string printable(std::string_view text) {
  std::string out = escaped(text.substr(0, 200));
  if (text.size() > 200) out += "...";
  return out;
}

}  // namespace shoal::names
