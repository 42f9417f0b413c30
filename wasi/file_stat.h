// Host stat results in WASI's terms.
#pragma once

#include <sys/stat.h>

#include "wasi/abi.h"
#include "wasi/guest_memory.h"

namespace shoal::wasi {

abi::Filetype filetype_of(mode_t mode);

// Writes a WASI filestat for `st` at ptr.
Errno store_filestat(const GuestMemory& mem, uint32_t ptr, const struct stat& st);

}  // namespace shoal::wasi
