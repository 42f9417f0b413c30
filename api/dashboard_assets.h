// The dashboard's files (dashboard/), embedded in the binary at build time
// by dashboard/embed.py: the page, its script and its style sheet. Constant
// data; any thread may read it.
#pragma once

#include <span>
#include <string_view>

namespace shoal::api {

struct DashboardAsset {
  std::string_view path;          // "/", "/app.js", "/app.css"
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view bytes;
};

std::span<const DashboardAsset> dashboard_assets();

}  // namespace shoal::api
