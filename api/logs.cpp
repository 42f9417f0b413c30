#include "api/logs.h"

#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>  // before Boost.Asio 1.74, which uses std::exchange without it

#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "api/url.h"
#include "client/client.h"

namespace shoal::api {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using nlohmann::json;

constexpr std::string_view kPrefix = "/api/v1/orchestrator/jobs/";

// How long a stream's thread waits, after the close handshake, for the
// peer to close its TCP end.
constexpr auto kCloseGrace = std::chrono::seconds(5);

struct PeerGone {};  // thrown out of the chunk handler when a write fails

// Splits each stream's chunks into lines and sends each as a frame.
class LineFramer {
 public:
  explicit LineFramer(websocket::stream<boost::asio::ip::tcp::socket>& ws) : ws_(ws) {}

  void add(const std::string& stream, const std::string& data) {
    int type = stream == "stderr" ? 2 : 1;
    std::string& pending = pending_[type - 1];
    pending += data;
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      send(type, pending.substr(start, nl + 1 - start));
    pending.erase(0, start);
  }

  void flush() {
    for (int type : {1, 2})
      if (!pending_[type - 1].empty()) send(type, std::exchange(pending_[type - 1], ""));
  }

  void send_json(const json& frame) {
    beast::error_code ec;
    ws_.text(true);
    ws_.write(boost::asio::buffer(frame.dump()), ec);
    if (ec) throw PeerGone{};
  }

 private:
  void send(int type, const std::string& line) {
    send_json({{"value", {{"Type", type}, {"Line", line}}}});
  }

  websocket::stream<boost::asio::ip::tcp::socket>& ws_;
  std::string pending_[2];
};

void stream_logs(LineFramer& framer, const std::string& id, bool follow,
                 client::Client::LogsFrom from, const ApiOptions& options) {
  auto error = [&](const std::string& why) {
    framer.send_json({{"error", why}, {"value", {{"Type", 0}, {"Line", ""}}}});
  };
  client::Options o;
  o.state_dir = options.state_dir;
  o.start_broker = false;
  auto c = client::Client::connect(o);
  if (!c) return error("failed to open log stream for job " + id + ": " + c.error());
  auto end = c->logs(
      id, client::Stream::all, follow,
      [&](const std::string& s, const std::string& d) { framer.add(s, d); }, "", from);
  framer.flush();
  if (!end) error("failed to open log stream for job " + id + ": " + end.error());
}

// Closes the stream as Beast does (our close frame, the peer's, then the
// teardown, which reads until the peer closes its TCP end), but within
// kCloseGrace: a peer that answers the close and keeps its socket open
// (python-websocket's close() once recv() has seen our close frame) would
// otherwise hold this stream's thread, one of the pool's, for as long as
// it keeps the socket. After the grace the socket is shut down, which ends
// the teardown's read.
void close_within_grace(websocket::stream<boost::asio::ip::tcp::socket>& ws) {
  std::mutex m;
  std::condition_variable cv;
  bool closed = false;
  const int fd = ws.next_layer().native_handle();
  std::thread guard([&] {
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, kCloseGrace, [&] { return closed; })) ::shutdown(fd, SHUT_RDWR);
  });
  beast::error_code ec;
  ws.close(websocket::close_code::normal, ec);
  {
    std::lock_guard lock(m);
    closed = true;
  }
  cv.notify_one();
  guard.join();
}

}  // namespace

std::vector<std::string_view> offered_protocols(std::string_view header) {
  std::vector<std::string_view> out;
  while (!header.empty()) {
    auto comma = header.find(',');
    auto item = header.substr(0, comma);
    header = comma == std::string_view::npos ? "" : header.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool is_log_stream(std::string_view target) {
  auto path = target.substr(0, target.find('?'));
  if (!path.starts_with(kPrefix) || !path.ends_with("/logs")) return false;
  auto id = path.substr(kPrefix.size(), path.size() - kPrefix.size() - 5);
  return !id.empty() && id.find('/') == std::string_view::npos;
}

namespace {

// Completes the upgrade, naming kLogProtocol in the answer when the client
// offered it; false when the handshake failed.
bool accept_upgrade(websocket::stream<boost::asio::ip::tcp::socket>& ws,
                    const beast::http::request<beast::http::string_body>& request) {
  auto offered = request[beast::http::field::sec_websocket_protocol];
  for (auto p : offered_protocols(std::string_view(offered.data(), offered.size())))
    if (p == kLogProtocol)
      ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(beast::http::field::sec_websocket_protocol,
                beast::string_view(kLogProtocol.data(), kLogProtocol.size()));
      }));
  beast::error_code ec;
  ws.accept(request, ec);
  return !ec;
}

}  // namespace

void refuse_log_stream(boost::asio::ip::tcp::socket socket,
                       const beast::http::request<beast::http::string_body>& request,
                       const std::string& why) {
  websocket::stream<boost::asio::ip::tcp::socket> ws(std::move(socket));
  if (!accept_upgrade(ws, request)) return;
  LineFramer framer(ws);
  try {
    framer.send_json({{"error", why}, {"value", {{"Type", 0}, {"Line", ""}}}});
  } catch (const PeerGone&) {
    return;
  }
  close_within_grace(ws);
}

void serve_log_stream(boost::asio::ip::tcp::socket socket, beast::flat_buffer buffer,
                      const beast::http::request<beast::http::string_body>& request,
                      const ApiOptions& options, const std::function<void()>& streamed) {
  struct Streamed {
    const std::function<void()>& f;
    bool called = false;
    void operator()() {
      if (!std::exchange(called, true)) f();
    }
    ~Streamed() { (*this)(); }
  } done{streamed};
  websocket::stream<boost::asio::ip::tcp::socket> ws(std::move(socket));
  if (!accept_upgrade(ws, request)) return;
  (void)buffer;
  std::string target(request.target());
  auto q = target.find('?');
  auto query = parse_query(q == std::string::npos ? "" : target.substr(q + 1));
  auto path = percent_decode(target.substr(0, q));
  std::string id = path.substr(kPrefix.size(), path.size() - kPrefix.size() - 5);
  auto follow = query.find("follow");
  const std::string follow_value = follow == query.end() ? "false" : follow->second;
  bool following = follow_value.empty() || follow_value == "true" || follow_value == "1";
  LineFramer framer(ws);
  try {
    // Said in the stream, as Bacalhau's server says errors after the
    // upgrade, rather than read as something else.
    std::string refused;
    if (!following && follow_value != "false" && follow_value != "0")
      refused = "invalid follow '" + follow_value + "': true or false";
    auto tail = query.find("tail");
    const std::string tail_value = tail == query.end() ? "false" : tail->second;
    const bool tailing = tail_value.empty() || tail_value == "true" || tail_value == "1";
    if (!tailing && tail_value != "false" && tail_value != "0")
      refused = "invalid tail '" + tail_value + "': true or false";
    if (!refused.empty())
      framer.send_json({{"error", refused}, {"value", {{"Type", 0}, {"Line", ""}}}});
    else
      stream_logs(framer, id, following,
                  tailing ? client::Client::LogsFrom::now : client::Client::LogsFrom::start,
                  options);
  } catch (const PeerGone&) {
    return;
  }
  done();
  close_within_grace(ws);
}

}  // namespace shoal::api
