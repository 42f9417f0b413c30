// shoal's version line. The client knows V8's version from V8's headers,
// so printing it does not load V8.
#pragma once

#include <string>

namespace shoal::cli {

// "shoal 0.1.0 (V8 10.2.154.26)"
std::string version_line();

}  // namespace shoal::cli
