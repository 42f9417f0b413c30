// The functions of wasi_snapshot_preview1, described so that any engine can
// bind them as imports without knowing what each one does.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "wasi/environment.h"
#include "wasi/errno.h"
#include "wasi/guest_memory.h"

namespace shoal::wasi {

inline constexpr std::string_view kModuleName = "wasi_snapshot_preview1";

// The engine decodes the guest's arguments into `args` (i32 zero-extended,
// i64 as is, one slot per letter of `params`) and builds a fresh GuestMemory
// for each call. The handler reads exactly those slots, each as its typed
// parameter (calls.h) says.
using Handler = Errno (*)(Environment& env, const GuestMemory& mem, const uint64_t* args);

struct Function {
  std::string_view name;
  // One letter per parameter: 'i' for i32, 'I' for i64. Derived from the
  // handler's declaration in calls.h, never written by hand.
  std::string_view params;
  // Every function returns an i32 errno except proc_exit, which returns
  // nothing: after it the engine must unwind the guest (Environment::exit_code
  // is set).
  bool returns_errno;
  Handler handler;
};

// All 46 functions, sorted by name.
std::span<const Function> preview1_functions();

// The function called `name`, or nullptr.
const Function* find_function(std::string_view name);

}  // namespace shoal::wasi
