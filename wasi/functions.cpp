#include "wasi/functions.h"

#include <algorithm>
#include <array>
#include <type_traits>
#include <utility>

#include "wasi/calls.h"

namespace shoal::wasi {
namespace {

// The wasm type of a handler's parameter: an integer of 4 bytes or fewer
// travels as an i32, one of 8 bytes as an i64.
template <typename T>
constexpr char wasm_type() {
  static_assert(std::is_integral_v<T> && (sizeof(T) <= 4 || sizeof(T) == 8),
                "a WASI handler's parameters are integers of at most 4 bytes, or 8");
  return sizeof(T) == 8 ? 'I' : 'i';
}

// What the table knows of the handler F, from its type alone: its wasm
// parameters, whether it returns an errno, and `invoke`, which reads each
// argument from its slot as F's parameter type (an i32 slot holds the value
// zero-extended; a narrower parameter keeps its low bits, as a cast of the
// i32 would).
template <auto F>
struct Call;

template <typename R, typename... P, R (*F)(Environment&, const GuestMemory&, P...)>
struct Call<F> {
  static_assert(std::is_same_v<R, Errno> || std::is_void_v<R>,
                "a WASI handler returns an Errno, or nothing (proc_exit)");
  static constexpr std::array<char, sizeof...(P)> kParams{wasm_type<P>()...};
  static constexpr bool kReturnsErrno = std::is_same_v<R, Errno>;

  static Errno invoke(Environment& env, const GuestMemory& mem, const uint64_t* slots) {
    (void)slots;  // sched_yield has none
    return [&]<size_t... I>(std::index_sequence<I...>) {
      if constexpr (kReturnsErrno) {
        return F(env, mem, static_cast<P>(slots[I])...);
      } else {
        F(env, mem, static_cast<P>(slots[I])...);
        return Errno::success;
      }
    }
    (std::index_sequence_for<P...>{});
  }
};

template <auto F>
constexpr Function bind(std::string_view name) {
  return {name,
          {Call<F>::kParams.data(), Call<F>::kParams.size()},
          Call<F>::kReturnsErrno,
          &Call<F>::invoke};
}

// The name the guest imports is the handler's own.
#define SHOAL_WASI_FUNCTION(name) bind<&calls::name>(#name)

constexpr Function kFunctions[] = {
    SHOAL_WASI_FUNCTION(args_get),
    SHOAL_WASI_FUNCTION(args_sizes_get),
    SHOAL_WASI_FUNCTION(clock_res_get),
    SHOAL_WASI_FUNCTION(clock_time_get),
    SHOAL_WASI_FUNCTION(environ_get),
    SHOAL_WASI_FUNCTION(environ_sizes_get),
    SHOAL_WASI_FUNCTION(fd_advise),
    SHOAL_WASI_FUNCTION(fd_allocate),
    SHOAL_WASI_FUNCTION(fd_close),
    SHOAL_WASI_FUNCTION(fd_datasync),
    SHOAL_WASI_FUNCTION(fd_fdstat_get),
    SHOAL_WASI_FUNCTION(fd_fdstat_set_flags),
    SHOAL_WASI_FUNCTION(fd_fdstat_set_rights),
    SHOAL_WASI_FUNCTION(fd_filestat_get),
    SHOAL_WASI_FUNCTION(fd_filestat_set_size),
    SHOAL_WASI_FUNCTION(fd_filestat_set_times),
    SHOAL_WASI_FUNCTION(fd_pread),
    SHOAL_WASI_FUNCTION(fd_prestat_dir_name),
    SHOAL_WASI_FUNCTION(fd_prestat_get),
    SHOAL_WASI_FUNCTION(fd_pwrite),
    SHOAL_WASI_FUNCTION(fd_read),
    SHOAL_WASI_FUNCTION(fd_readdir),
    SHOAL_WASI_FUNCTION(fd_renumber),
    SHOAL_WASI_FUNCTION(fd_seek),
    SHOAL_WASI_FUNCTION(fd_sync),
    SHOAL_WASI_FUNCTION(fd_tell),
    SHOAL_WASI_FUNCTION(fd_write),
    SHOAL_WASI_FUNCTION(path_create_directory),
    SHOAL_WASI_FUNCTION(path_filestat_get),
    SHOAL_WASI_FUNCTION(path_filestat_set_times),
    SHOAL_WASI_FUNCTION(path_link),
    SHOAL_WASI_FUNCTION(path_open),
    SHOAL_WASI_FUNCTION(path_readlink),
    SHOAL_WASI_FUNCTION(path_remove_directory),
    SHOAL_WASI_FUNCTION(path_rename),
    SHOAL_WASI_FUNCTION(path_symlink),
    SHOAL_WASI_FUNCTION(path_unlink_file),
    SHOAL_WASI_FUNCTION(poll_oneoff),
    SHOAL_WASI_FUNCTION(proc_exit),
    SHOAL_WASI_FUNCTION(proc_raise),
    SHOAL_WASI_FUNCTION(random_get),
    SHOAL_WASI_FUNCTION(sched_yield),
    SHOAL_WASI_FUNCTION(sock_accept),
    SHOAL_WASI_FUNCTION(sock_recv),
    SHOAL_WASI_FUNCTION(sock_send),
    SHOAL_WASI_FUNCTION(sock_shutdown),
};

#undef SHOAL_WASI_FUNCTION

static_assert(std::size(kFunctions) == 46);
static_assert(std::ranges::is_sorted(kFunctions, {}, &Function::name));

}  // namespace

std::span<const Function> preview1_functions() {
  return kFunctions;
}

const Function* find_function(std::string_view name) {
  auto it = std::lower_bound(std::begin(kFunctions), std::end(kFunctions), name,
                             [](const Function& f, std::string_view n) { return f.name < n; });
  if (it == std::end(kFunctions) || it->name != name) return nullptr;
  return &*it;
}

}  // namespace shoal::wasi
