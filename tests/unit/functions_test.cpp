#include <boost/test/unit_test.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "wasi/functions.h"

using shoal::wasi::find_function;
using shoal::wasi::preview1_functions;

namespace {

// wasi_snapshot_preview1 as its witx declares it (WebAssembly/WASI,
// legacy/preview1/witx/wasi_snapshot_preview1.witx): each function's
// parameters by witx type, how many results it has besides the errno, and
// whether it returns an errno at all (proc_exit does not).
struct WitxFunction {
  std::string name;
  std::vector<std::string> params;
  int results;  // other than the errno: each is a pointer the caller passes
  bool returns_errno = true;
};

const std::vector<WitxFunction> kWitx = {
    {"args_get", {"pointer", "pointer"}, 0},
    {"args_sizes_get", {}, 2},
    {"environ_get", {"pointer", "pointer"}, 0},
    {"environ_sizes_get", {}, 2},
    {"clock_res_get", {"clockid"}, 1},
    {"clock_time_get", {"clockid", "timestamp"}, 1},
    {"fd_advise", {"fd", "filesize", "filesize", "advice"}, 0},
    {"fd_allocate", {"fd", "filesize", "filesize"}, 0},
    {"fd_close", {"fd"}, 0},
    {"fd_datasync", {"fd"}, 0},
    {"fd_fdstat_get", {"fd"}, 1},
    {"fd_fdstat_set_flags", {"fd", "fdflags"}, 0},
    {"fd_fdstat_set_rights", {"fd", "rights", "rights"}, 0},
    {"fd_filestat_get", {"fd"}, 1},
    {"fd_filestat_set_size", {"fd", "filesize"}, 0},
    {"fd_filestat_set_times", {"fd", "timestamp", "timestamp", "fstflags"}, 0},
    {"fd_pread", {"fd", "iovec_array", "filesize"}, 1},
    {"fd_prestat_get", {"fd"}, 1},
    {"fd_prestat_dir_name", {"fd", "pointer", "size"}, 0},
    {"fd_pwrite", {"fd", "ciovec_array", "filesize"}, 1},
    {"fd_read", {"fd", "iovec_array"}, 1},
    {"fd_readdir", {"fd", "pointer", "size", "dircookie"}, 1},
    {"fd_renumber", {"fd", "fd"}, 0},
    {"fd_seek", {"fd", "filedelta", "whence"}, 1},
    {"fd_sync", {"fd"}, 0},
    {"fd_tell", {"fd"}, 1},
    {"fd_write", {"fd", "ciovec_array"}, 1},
    {"path_create_directory", {"fd", "string"}, 0},
    {"path_filestat_get", {"fd", "lookupflags", "string"}, 1},
    {"path_filestat_set_times",
     {"fd", "lookupflags", "string", "timestamp", "timestamp", "fstflags"},
     0},
    {"path_link", {"fd", "lookupflags", "string", "fd", "string"}, 0},
    {"path_open", {"fd", "lookupflags", "string", "oflags", "rights", "rights", "fdflags"}, 1},
    {"path_readlink", {"fd", "string", "pointer", "size"}, 1},
    {"path_remove_directory", {"fd", "string"}, 0},
    {"path_rename", {"fd", "string", "fd", "string"}, 0},
    {"path_symlink", {"string", "fd", "string"}, 0},
    {"path_unlink_file", {"fd", "string"}, 0},
    {"poll_oneoff", {"const_pointer", "pointer", "size"}, 1},
    {"proc_exit", {"exitcode"}, 0, false},
    {"proc_raise", {"signal"}, 0},
    {"sched_yield", {}, 0},
    {"random_get", {"pointer", "size"}, 0},
    {"sock_accept", {"fd", "fdflags"}, 1},
    {"sock_recv", {"fd", "iovec_array", "riflags"}, 2},
    {"sock_send", {"fd", "ciovec_array", "siflags"}, 1},
    {"sock_shutdown", {"fd", "sdflags"}, 0},
};

// The core wasm type of each witx type (typenames.witx): 64-bit integers and
// flags are an i64, every other scalar an i32, a string or an array a
// pointer and a length.
const std::map<std::string, std::string> kLowered = {
    {"fd", "i"},       {"size", "i"},      {"pointer", "i"},      {"const_pointer", "i"},
    {"clockid", "i"},  {"exitcode", "i"},  {"signal", "i"},       {"advice", "i"},
    {"whence", "i"},   {"fdflags", "i"},   {"lookupflags", "i"},  {"oflags", "i"},
    {"fstflags", "i"}, {"riflags", "i"},   {"siflags", "i"},      {"sdflags", "i"},
    {"filesize", "I"}, {"filedelta", "I"}, {"timestamp", "I"},    {"dircookie", "I"},
    {"rights", "I"},   {"string", "ii"},   {"iovec_array", "ii"}, {"ciovec_array", "ii"},
};

std::string lowered(const WitxFunction& f) {
  std::string out;
  for (const std::string& p : f.params) out += kLowered.at(p);
  out += std::string(static_cast<size_t>(f.results), 'i');
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(all_46_functions_are_there_once_and_sorted) {
  auto fs = preview1_functions();
  BOOST_TEST(fs.size() == 46u);
  std::set<std::string_view> names;
  for (size_t i = 0; i < fs.size(); ++i) {
    names.insert(fs[i].name);
    if (i) BOOST_TEST((fs[i - 1].name < fs[i].name), fs[i - 1].name << " < " << fs[i].name);
  }
  BOOST_TEST(names.size() == 46u);
}

BOOST_AUTO_TEST_CASE(every_function_is_found_by_name) {
  for (const auto& f : preview1_functions()) BOOST_TEST(find_function(f.name) == &f);
  BOOST_TEST(find_function("fd_frobnicate") == nullptr);
}

BOOST_AUTO_TEST_CASE(the_signatures_derived_from_the_handlers_are_the_witx_ones) {
  BOOST_TEST(kWitx.size() == preview1_functions().size());
  for (const WitxFunction& w : kWitx) {
    const auto* f = find_function(w.name);
    BOOST_TEST_REQUIRE(f != nullptr, w.name << " is not provided");
    BOOST_TEST(std::string(f->params) == lowered(w), w.name);
    BOOST_TEST(f->returns_errno == w.returns_errno, w.name);
  }
}

BOOST_AUTO_TEST_CASE(signatures_match_the_specification) {
  BOOST_TEST((find_function("fd_write")->params == "iiii"));
  BOOST_TEST((find_function("fd_seek")->params == "iIii"));
  BOOST_TEST((find_function("path_open")->params == "iiiiiIIii"));
  BOOST_TEST((find_function("clock_time_get")->params == "iIi"));
  BOOST_TEST(!find_function("proc_exit")->returns_errno);
  BOOST_TEST(find_function("proc_raise")->returns_errno);
}
