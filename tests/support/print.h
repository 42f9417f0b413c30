// Lets Boost.Test print WASI errnos by name in failed assertions.
#pragma once

#include <ostream>

#include "wasi/errno.h"

namespace shoal::wasi {
inline std::ostream& operator<<(std::ostream& os, Errno e) {
  return os << errno_name(e);
}
}  // namespace shoal::wasi
