// The REST API side of cli/backend.h: each call made over HTTP to shoal's
// Bacalhau-compatible API (docs/http-api.md) and its answer read back into
// shoal's types (bacalhau/model_reader.h).
#pragma once

#include <memory>

#include "apiclient/http_client.h"
#include "cli/backend.h"

namespace shoal::cli {

std::unique_ptr<Backend> make_http_backend(const apiclient::Endpoint& endpoint);

}  // namespace shoal::cli
