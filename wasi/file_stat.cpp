#include "wasi/file_stat.h"

namespace shoal::wasi {

abi::Filetype filetype_of(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return abi::Filetype::regular_file;
    case S_IFDIR:
      return abi::Filetype::directory;
    case S_IFLNK:
      return abi::Filetype::symbolic_link;
    case S_IFCHR:
      return abi::Filetype::character_device;
    case S_IFBLK:
      return abi::Filetype::block_device;
    case S_IFSOCK:
      return abi::Filetype::socket_stream;
    default:
      return abi::Filetype::unknown;
  }
}

namespace {
uint64_t nanos(const struct timespec& ts) {
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

Errno store_filestat(const GuestMemory& mem, uint32_t ptr, const struct stat& st) {
  auto b = mem.bytes(ptr, abi::filestat::size);
  if (!b) return b.error();
  std::memset(b->data(), 0, b->size());
  using namespace abi::filestat;
  auto put = [&](uint32_t off, uint64_t v) { std::memcpy(b->data() + off, &v, 8); };
  put(dev, st.st_dev);
  put(ino, st.st_ino);
  (*b)[filetype] = static_cast<uint8_t>(filetype_of(st.st_mode));
  put(nlink, st.st_nlink);
  put(fsize, static_cast<uint64_t>(st.st_size));
  put(atim, nanos(st.st_atim));
  put(mtim, nanos(st.st_mtim));
  put(ctim, nanos(st.st_ctim));
  return Errno::success;
}

}  // namespace shoal::wasi
