#include "bacalhau/data_url.h"

#include <cctype>

namespace shoal::bacalhau {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::expected<std::string, std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    int hi = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
    int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      return std::unexpected("'" + std::string(in.substr(i, 3)) + "' is not a percent escape");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

std::expected<std::string, std::string> base64_decode(std::string_view in) {
  std::string chars;
  for (char c : in)
    if (!is_ascii_space(c)) chars.push_back(c);
  // Padding: at most two '=', only at the end, and only where it belongs.
  size_t pad = 0;
  while (!chars.empty() && chars.back() == '=' && pad < 2) {
    chars.pop_back();
    ++pad;
  }
  if (pad > 0 && (chars.size() + pad) % 4 != 0)
    return std::unexpected(std::string("base64 data has misplaced '=' padding"));
  if (chars.size() % 4 == 1)
    return std::unexpected(std::string("base64 data ends in the middle of a byte"));
  std::string out;
  out.reserve(chars.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : chars) {
    int v = base64_value(c);
    if (v < 0) {
      std::string shown = std::isprint(static_cast<unsigned char>(c))
                              ? std::string(1, c)
                              : "\\x" + std::string(1, "0123456789abcdef"[(c >> 4) & 15]) +
                                    "0123456789abcdef"[c & 15];
      return std::unexpected("'" + shown + "' is not a base64 character");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace

std::expected<DataUrl, std::string> decode_data_url(std::string_view url) {
  if (url.size() < 5 || std::tolower(static_cast<unsigned char>(url[0])) != 'd' ||
      std::tolower(static_cast<unsigned char>(url[1])) != 'a' ||
      std::tolower(static_cast<unsigned char>(url[2])) != 't' ||
      std::tolower(static_cast<unsigned char>(url[3])) != 'a' || url[4] != ':')
    return std::unexpected(std::string("does not start with data:"));
  std::string_view rest = url.substr(5);
  size_t comma = rest.find(',');
  if (comma == std::string_view::npos)
    return std::unexpected(std::string("has no ',' before its data"));
  DataUrl out;
  std::string_view meta = rest.substr(0, comma);
  while (!meta.empty() && is_ascii_space(meta.back())) meta.remove_suffix(1);
  // ";base64" ends the metadata, in any case, with optional spaces before it.
  if (meta.size() >= 7) {
    std::string tail(meta.substr(meta.size() - 7));
    for (auto& c : tail) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (tail == ";base64") {
      out.base64 = true;
      meta.remove_suffix(7);
      while (!meta.empty() && is_ascii_space(meta.back())) meta.remove_suffix(1);
    }
  }
  out.media_type = std::string(meta);
  auto bytes = percent_decode(rest.substr(comma + 1));
  if (!bytes) return std::unexpected(bytes.error());
  if (!out.base64) {
    out.data = std::move(*bytes);
    return out;
  }
  auto decoded = base64_decode(*bytes);
  if (!decoded) return std::unexpected(decoded.error());
  out.data = std::move(*decoded);
  return out;
}

std::string encode_data_url(std::string_view bytes, std::string_view media_type) {
  std::string out = "data:" + std::string(media_type) + ";base64,";
  out.reserve(out.size() + (bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(n >> s) & 63]);
  }
  size_t left = bytes.size() - i;
  if (left) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (left == 2) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(left == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace shoal::bacalhau
