// A small synchronous client of shoal's REST API (Bacalhau's v1 API,
// docs/http-api.md), on Boost.Beast: requests with JSON bodies, Bacalhau's
// error body read back into a message, a response body streamed to a sink
// (the results tar), and the WebSocket log stream. The `shoal` command
// uses it when --api-host/--api-port name an endpoint (cli/backend.h).
//
// Each call opens a connection of its own and closes it. Errors are values:
// a sentence naming the endpoint and the cause ("cannot reach the REST API
// at http://127.0.0.1:1234: Connection refused"), or, for an answer that is
// not 200, the error body's Message (and Hint when there is one).
//
// Threading: an HttpClient holds no connection between calls; one object
// may be used by one thread at a time.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace shoal::apiclient {

struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 1234;
  // Sent as Authorization: Bearer TOKEN when not empty (BACALHAU_API_KEY).
  std::string token;
  std::string url() const;  // "http://127.0.0.1:1234"
};

struct Response {
  unsigned status = 0;
  std::string body;
  std::string content_type;
};

// Receives a response body piece by piece; an error stops the transfer.
using BodySink = std::function<std::expected<void, std::string>(std::string_view bytes)>;

class HttpClient {
 public:
  explicit HttpClient(Endpoint endpoint);

  // One request; `target` is the path and query ("/api/v1/agent/alive").
  // Any status is a Response; only a failure to connect, send or read is
  // an error.
  std::expected<Response, std::string> request(std::string_view method, std::string_view target,
                                               std::string_view body = {}) const;

  // A request whose answer must be 200 with a JSON body; another status is
  // an error carrying the error body's Message.
  std::expected<nlohmann::json, std::string> call(std::string_view method, std::string_view target,
                                                  std::string_view body = {}) const;

  // GET `target`, its body handed to `sink` as it arrives (any size); not
  // 200: the error body's Message.
  std::expected<void, std::string> download(std::string_view target, const BodySink& sink) const;

  // Opens the WebSocket at `target` and hands each text frame to
  // `on_frame` until the server closes the stream.
  std::expected<void, std::string> websocket(
      std::string_view target, const std::function<void(std::string_view)>& on_frame) const;

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Endpoint endpoint_;
};

// The message of a Bacalhau error body (`Message`, then `Hint`), else the
// body itself, else "HTTP STATUS".
std::string error_message(const Response& response);

// `text` percent-encoded for a path segment or query value.
std::string encode(std::string_view text);

}  // namespace shoal::apiclient
