// libFuzzer target: resolve_path with any guest path, in each of its three
// modes, against a tree with symlinks that point outside. Whatever the path,
// the walk ends in base or beneath it, and so does the entry it names.
//
// Input: one byte choosing the mode, then the path.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_tree.h"
#include "wasi/path_walk.h"

using namespace shoal;

namespace {

fuzz::FuzzTree& tree() {
  static fuzz::FuzzTree t;
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static wasi::UniqueFd base(::open(tree().base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const wasi::FinalSymlink modes[] = {
      wasi::FinalSymlink::follow, wasi::FinalSymlink::follow_if_slash, wasi::FinalSymlink::never};
  auto mode = modes[data[0] % 3];
  std::string_view path(reinterpret_cast<const char*>(data + 1), size - 1);
  auto r = wasi::resolve_path(base.get(), path, mode);
  if (!r) return 0;
  std::string dir = fuzz::fd_path(r->dir);
  if (!tree().inside(dir)) fuzz::escaped("'" + std::string(path) + "' walked to " + dir);
  if (r->name.empty()) fuzz::escaped("'" + std::string(path) + "' left an empty name");
  std::string entry = r->entry();
  if (entry.find('/') != std::string::npos)
    fuzz::escaped("'" + std::string(path) + "' left a name with a slash: " + r->name);
  // ".." stays the name only for calls that create or remove (Linux answers
  // those lexically); everything else names an entry of dir.
  if (entry == "..") {
    if (mode != wasi::FinalSymlink::never)
      fuzz::escaped("'" + std::string(path) + "' left '..' as the name");
    return 0;
  }
  wasi::UniqueFd target(::openat(r->dir, entry.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!target.valid()) return 0;
  std::string where = fuzz::fd_path(target.get());
  struct stat st;
  // A symlink left alone is fine wherever it points: it is not followed.
  if (::fstatat(target.get(), "", &st, AT_EMPTY_PATH) == 0 && S_ISLNK(st.st_mode)) return 0;
  if (!tree().inside(where)) fuzz::escaped("'" + std::string(path) + "' names " + where);
  return 0;
}
