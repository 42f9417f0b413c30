// PUT|POST /api/v1/orchestrator/jobs: not served yet.
#include "api/routes.h"

namespace shoal::api {

Response submit_job(const Request& request, Context&) {
  return error_response(request, 501, "submitting jobs over HTTP is not served yet",
                        "NotImplemented");
}

}  // namespace shoal::api
