// Decoding data: URLs (RFC 2397), the payload of Bacalhau's `inline` input
// sources: data:[MEDIATYPE][;base64],DATA
//
// As browsers read them (the WHATWG fetch standard): DATA is percent-decoded
// first; then, with ;base64, it is base64-decoded with ASCII whitespace
// ignored and the '=' padding optional. Without ;base64 the percent-decoded
// bytes are the data. The media type is returned as written (empty when
// absent) and never interpreted. Pure and thread-safe.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace shoal::bacalhau {

struct DataUrl {
  std::string media_type;  // e.g. "text/plain;charset=utf-8", or ""
  bool base64 = false;
  std::string data;  // the decoded bytes
};

// Fails with a message saying what is wrong: "does not start with data:",
// "has no ',' before its data", "%4 is not a percent escape",
// "'*' is not a base64 character", "base64 data ends in the middle of a byte".
std::expected<DataUrl, std::string> decode_data_url(std::string_view url);

// data:application/octet-stream;base64,... (or MEDIA_TYPE) for `bytes`.
std::string encode_data_url(std::string_view bytes,
                            std::string_view media_type = "application/octet-stream");

}  // namespace shoal::bacalhau
