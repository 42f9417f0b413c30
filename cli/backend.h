// Where a `shoal` command's requests go, behind one seam: the local (or
// --connect) broker's ZeroMQ socket (client/client.h), or a REST API
// endpoint over HTTP (apiclient/http_client.h) when --api-host/--api-port,
// SHOAL_API_HOST/SHOAL_API_PORT or Bacalhau's BACALHAU_API_HOST/
// BACALHAU_API_PORT name one (docs/http-api.md, "The CLI over HTTP").
//
// Every call answers in shoal's own types whichever the transport: the job
// JSON of docs/protocol.md (over HTTP read back from Bacalhau's models by
// bacalhau/model_reader.h), output chunks as the program wrote them, the
// files of `shoal job get`. So each command renders one way for both.
// A command that only the socket serves asks for the socket (`socket()`);
// over HTTP it is refused with a message naming the command and the flag.
//
// Threading: a Backend is used by one thread at a time.
#pragma once

#include <chrono>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apiclient/http_client.h"
#include "bacalhau/request.h"
#include "client/client.h"

namespace shoal::cli {

class Backend {
 public:
  virtual ~Backend() = default;

  // Submits `request`, whose bytes `job` holds (cli/submit.cpp builds
  // both): the socket sends `job`; HTTP PUTs `request` as a Bacalhau job
  // (bacalhau/spec.h's writer: the modules inline as data URLs).
  virtual std::expected<std::string, std::string> submit(const bacalhau::RunRequest& request,
                                                         const client::Submission& job) = 0;
  // As client::Client's calls of the same names (client/client.h).
  virtual std::expected<nlohmann::json, std::string> describe(const std::string& id) = 0;
  // Over HTTP, `query.after` and the page's `next` are the API's
  // next_token (the same cursor: the broker's); an array's tasks are
  // listed over the socket only.
  virtual std::expected<client::ListPage, std::string> page(const client::ListQuery& query) = 0;
  virtual std::expected<nlohmann::json, std::string> wait(
      const std::string& id, const client::WaitCallbacks& callbacks,
      std::optional<std::chrono::milliseconds> limit) = 0;
  // An `execution` other than "" is read over the socket only.
  virtual std::expected<nlohmann::json, std::string> logs(const std::string& id,
                                                          client::Stream stream, bool follow,
                                                          const client::ChunkHandler& on_chunk,
                                                          const std::string& execution = "") = 0;
  virtual std::expected<std::vector<std::filesystem::path>, std::string> fetch_outputs(
      const std::string& id, const std::filesystem::path& dir) = 0;
  // Over HTTP, DELETE .../jobs/{id}?reason=; a job array's id is stopped
  // over the socket only.
  virtual std::expected<nlohmann::json, std::string> stop(const std::string& id,
                                                          const std::string& reason = "") = 0;

  // Runs the job again (client::Client::rerun); over HTTP, PUT
  // .../jobs/{id}/rerun with the reason, then the job as it is now.
  virtual std::expected<nlohmann::json, std::string> rerun(const std::string& id,
                                                           const std::string& reason = "") = 0;

  // The answer of GET /api/v1/agent/WHAT (alive, version, node, config):
  // the same JSON whichever the transport (over the socket, the API's own
  // handler answers it in this process once the broker answers).
  virtual std::expected<nlohmann::json, std::string> agent(const std::string& what) = 0;

  // The socket's client; null over HTTP.
  virtual client::Client* socket() = 0;
};

// The REST API endpoint the flags or the environment name, if any: the
// host (a name, an address, or a URL http://HOST[:PORT]) from
// SHOAL_API_HOST, else BACALHAU_API_HOST, else 127.0.0.1; the port from
// SHOAL_API_PORT, else BACALHAU_API_PORT, else the URL's, else 1234; the
// token from SHOAL_API_TOKEN, else BACALHAU_API_KEY. None of the host and
// port variables set: nullopt. A malformed port or URL is an error.
std::expected<std::optional<apiclient::Endpoint>, std::string> api_endpoint();

// The command being run ("job describe"), for messages; set once by
// run_cli before the command's callback runs.
void set_command_name(std::string name);
const std::string& command_name();

// The backend for this command: HTTP when an endpoint is named, else the
// broker's socket (starting a local broker when none runs, unless
// `start_broker` is false).
std::expected<std::unique_ptr<Backend>, std::string> open_backend(bool start_broker = true);

// The socket backend's client for a command only the socket serves; over
// HTTP, fails saying that `shoal COMMAND` does not work over the REST API
// and which flag or variable chose it.
std::expected<client::Client, std::string> connect_socket_only(bool start_broker = true);

}  // namespace shoal::cli
