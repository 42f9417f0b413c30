// GET /api/v1/orchestrator/jobs/{id}/logs: Bacalhau's WebSocket log stream.
// The socket is upgraded first; then the job's output, from the start (with
// tail=true: from now, Bacalhau's meaning), one text frame per line
// ({"value":{"Type":1|2,"Line":"…\n"}}, 1 stdout, 2 stderr); with follow=true also what it writes
// until it ends. An error (an unknown job) is one frame {"error":"…","value":{"Type":0,"Line":""}}.
// The stream ends with a close frame, code 1000.
//
// Runs on a thread of the log-stream pool (api/server.cpp) with a broker
// client of its own for the stream's whole life: a followed stream waits on
// the broker for as long as the job runs.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/server.h"

namespace shoal::api {

// Whether `target` (path and query) names a job's log stream.
bool is_log_stream(std::string_view target);

// A browser cannot set headers on a WebSocket: the dashboard sends the API's
// token as an offered subprotocol, kTokenProtocol followed by the token's
// bytes in lowercase hex (api/server.cpp checks it), and offers
// kLogProtocol beside it, which the upgrade's answer names (never the
// token's entry).
inline constexpr std::string_view kTokenProtocol = "bearer.shoal.";
inline constexpr std::string_view kLogProtocol = "shoal";
// The subprotocols a Sec-WebSocket-Protocol header offers, in order.
std::vector<std::string_view> offered_protocols(std::string_view header);

// Serves one log stream on `socket`, whose upgrade request is `request`
// (`buffer` holds any bytes read past it). Returns when the stream ends or
// the peer goes away.
// `streamed` is called once the stream has sent its last frame (or failed),
// before the close handshake, which may take up to a few seconds more.
void serve_log_stream(boost::asio::ip::tcp::socket socket, boost::beast::flat_buffer buffer,
                      const boost::beast::http::request<boost::beast::http::string_body>& request,
                      const ApiOptions& options, const std::function<void()>& streamed);

// Answers a log stream that cannot be served (every thread of the pool is
// streaming): the upgrade is accepted, as for a stream, and `why` sent as
// the stream's one error frame before the close, so that a browser or a
// Bacalhau client shows the reason instead of waiting on an unanswered
// upgrade.
void refuse_log_stream(boost::asio::ip::tcp::socket socket,
                       const boost::beast::http::request<boost::beast::http::string_body>& request,
                       const std::string& why);

}  // namespace shoal::api
