// /api/v1/orchestrator/jobs*: not served yet.
#include "api/routes.h"

namespace shoal::api {

std::optional<Response> route_jobs(const Request&, Context&) {
  return std::nullopt;
}

}  // namespace shoal::api
