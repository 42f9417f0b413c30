// The socket side of cli/backend.h, the choice between the transports, and
// the endpoint the flags and environment name.
#include "cli/backend.h"

#include <cstdlib>

#include "api/routes.h"
#include "broker/serve_config.h"
#include "cli/http_backend.h"
#include "host/state_dir.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

std::string& current_command() {
  static std::string name;
  return name;
}

// The first of the variables that is set and not empty.
std::optional<std::pair<std::string, std::string>> first_set(
    std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (const char* v = std::getenv(n); v && *v) return std::make_pair(std::string(n), v);
  return std::nullopt;
}

std::expected<uint16_t, std::string> port_of(const std::string& name, const std::string& text) {
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("0123456789") != std::string::npos || std::stoul(text) == 0 ||
      std::stoul(text) > 65535)
    return std::unexpected(name + " '" + text + "' is not a port number (1 to 65535)");
  return static_cast<uint16_t>(std::stoul(text));
}

// The socket's answers to agent requests: the API's own handler (api/),
// run here, so that both transports give the same JSON. The broker's
// settings are those of its serve configuration.
std::expected<json, std::string> local_agent(client::Client& c, const std::string& what) {
  broker::BrokerOptions stored;
  stored.dir = host::state_dir_at(c.state_dir());
  (void)broker::load_serve_config(stored);
  api::ApiOptions o;
  o.state_dir = c.state_dir();
  o.workers = stored.workers;
  o.labels = stored.labels;
  o.host = stored.api.host;
  o.port = stored.api.enabled ? stored.api.port : 0;
  api::Context context{o, std::nullopt};
  api::Request request;
  request.method = "GET";
  request.path = "/api/v1/agent/" + what;
  auto r = api::route(request, context);
  auto body = json::parse(r.body, nullptr, false);
  if (r.status != 200 || body.is_discarded())
    return std::unexpected("agent " + what + ": " + r.body);
  return body;
}

class SocketBackend final : public Backend {
 public:
  explicit SocketBackend(client::Client c) : c_(std::move(c)) {}
  std::expected<std::string, std::string> submit(const bacalhau::RunRequest&,
                                                 const client::Submission& job) override {
    return c_.submit(job);
  }
  std::expected<json, std::string> describe(const std::string& id) override {
    return c_.describe(id);
  }
  std::expected<client::ListPage, std::string> page(const client::ListQuery& q) override {
    return c_.page(q);
  }
  std::expected<json, std::string> wait(const std::string& id, const client::WaitCallbacks& cb,
                                        std::optional<std::chrono::milliseconds> limit) override {
    return c_.wait(id, cb, limit);
  }
  std::expected<json, std::string> logs(const std::string& id, client::Stream stream, bool follow,
                                        const client::ChunkHandler& on_chunk,
                                        const std::string& execution) override {
    return c_.logs(id, stream, follow, on_chunk, execution);
  }
  std::expected<std::vector<std::filesystem::path>, std::string> fetch_outputs(
      const std::string& id, const std::filesystem::path& dir) override {
    return c_.fetch_outputs(id, dir);
  }
  std::expected<json, std::string> stop(const std::string& id, const std::string& reason) override {
    return c_.stop(id, reason);
  }
  std::expected<json, std::string> rerun(const std::string& id,
                                         const std::string& reason) override {
    return c_.rerun(id, reason);
  }
  std::expected<json, std::string> agent(const std::string& what) override {
    return local_agent(c_, what);
  }
  client::Client* socket() override { return &c_; }

 private:
  client::Client c_;
};

std::expected<client::Client, std::string> connect_local(bool start_broker) {
  client::Options o;
  o.start_broker = start_broker;
  return client::Client::connect(o);
}

}  // namespace

void set_command_name(std::string name) {
  current_command() = std::move(name);
}

const std::string& command_name() {
  return current_command();
}

std::expected<std::optional<apiclient::Endpoint>, std::string> api_endpoint() {
  auto host = first_set({"SHOAL_API_HOST", "BACALHAU_API_HOST"});
  auto port = first_set({"SHOAL_API_PORT", "BACALHAU_API_PORT"});
  if (!host && !port) return std::nullopt;
  apiclient::Endpoint e;
  if (host) {
    std::string h = host->second;
    if (h.starts_with("https://"))
      return std::unexpected(host->first + " " + h + ": shoal's REST API is plain http://");
    if (h.starts_with("http://")) {
      h = h.substr(7);
      if (!h.empty() && h.back() == '/') h.pop_back();
      if (auto colon = h.rfind(':');
          colon != std::string::npos && h.find(']') == std::string::npos) {
        auto p = port_of(host->first, h.substr(colon + 1));
        if (!p) return std::unexpected(p.error());
        e.port = *p;
        h.resize(colon);
      }
    }
    if (h.empty() || h.find('/') != std::string::npos)
      return std::unexpected(host->first + " '" + host->second +
                             "' is not a host or http://HOST:PORT");
    e.host = h == "0.0.0.0" ? "127.0.0.1" : h;
  }
  if (port) {
    auto p = port_of(port->first, port->second);
    if (!p) return std::unexpected(p.error());
    e.port = *p;
  }
  if (auto token = first_set({"SHOAL_API_TOKEN", "BACALHAU_API_KEY"})) e.token = token->second;
  return e;
}

std::expected<std::unique_ptr<Backend>, std::string> open_backend(bool start_broker) {
  auto endpoint = api_endpoint();
  if (!endpoint) return std::unexpected(endpoint.error());
  if (*endpoint) return make_http_backend(**endpoint);
  auto c = connect_local(start_broker);
  if (!c) return std::unexpected(c.error());
  return std::make_unique<SocketBackend>(std::move(*c));
}

std::expected<client::Client, std::string> connect_socket_only(bool start_broker) {
  auto endpoint = api_endpoint();
  if (!endpoint) return std::unexpected(endpoint.error());
  if (*endpoint) {
    auto chosen = first_set({"SHOAL_API_HOST", "SHOAL_API_PORT"});
    return std::unexpected("shoal " + command_name() + " does not work over the REST API (" +
                           (*endpoint)->url() + ", chosen by " +
                           (chosen ? "--api-host/--api-port or SHOAL_API_HOST/SHOAL_API_PORT"
                                   : "BACALHAU_API_HOST/BACALHAU_API_PORT") +
                           "): run it without them, on the broker's host");
  }
  return connect_local(start_broker);
}

}  // namespace shoal::cli
