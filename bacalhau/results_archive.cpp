#include "bacalhau/results_archive.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>

namespace shoal::bacalhau {

namespace {

constexpr size_t kBlock = 512;

std::string octal(uint64_t value, size_t width) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + (value & 7)));
    value >>= 3;
  } while (value);
  if (digits.size() < width - 1) digits.insert(0, width - 1 - digits.size(), '0');
  return digits;
}

// One 512-byte ustar header.
std::string header(const std::string& name, uint64_t size, char type) {
  std::string h(kBlock, '\0');
  std::memcpy(h.data(), name.data(), std::min<size_t>(name.size(), 100));
  auto put = [&](size_t at, const std::string& s) {
    std::memcpy(h.data() + at, s.data(), s.size());
  };
  put(100, octal(type == '5' ? 0755 : 0644, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(0, 12));
  h[156] = type;
  put(257, std::string("ustar\0"
                       "00",
                       8));
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  put(148, octal(sum, 7));
  h[155] = ' ';
  return h;
}

uint64_t read_octal(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n && p[i]; ++i)
    if (p[i] >= '0' && p[i] <= '7') v = v * 8 + static_cast<uint64_t>(p[i] - '0');
  return v;
}

}  // namespace

struct ResultsWriter::Impl {
  z_stream z{};
  std::string deflate(std::string_view in, int flush) {
    std::string out;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    char buf[64 * 1024];
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      ::deflate(&z, flush);
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0 || z.avail_in > 0);
    return out;
  }
};

ResultsWriter::ResultsWriter() : impl_(std::make_unique<Impl>()) {
  ::deflateInit2(&impl_->z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
}

ResultsWriter::~ResultsWriter() {
  ::deflateEnd(&impl_->z);
}

std::string ResultsWriter::add(const std::string& path, std::string_view bytes) {
  std::string out;
  if (path.size() > 100) {
    std::string long_name = path + '\0';
    out += impl_->deflate(header("././@LongLink", long_name.size(), 'L'), Z_NO_FLUSH);
    long_name.resize((long_name.size() + kBlock - 1) / kBlock * kBlock, '\0');
    out += impl_->deflate(long_name, Z_NO_FLUSH);
  }
  out += impl_->deflate(header(path, bytes.size(), '0'), Z_NO_FLUSH);
  out += impl_->deflate(bytes, Z_NO_FLUSH);
  if (size_t pad = (kBlock - bytes.size() % kBlock) % kBlock)
    out += impl_->deflate(std::string(pad, '\0'), Z_NO_FLUSH);
  return out;
}

std::string ResultsWriter::finish() {
  return impl_->deflate(std::string(2 * kBlock, '\0'), Z_FINISH);
}

struct ResultsReader::Impl {
  std::filesystem::path dir;
  z_stream z{};
  bool done = false;    // the two zero blocks were read
  std::string pending;  // tar bytes not yet taken
  // The entry being read: bytes of data left, padding after them.
  uint64_t left = 0, pad = 0;
  char type = 0;
  std::string long_name, name;
  std::ofstream file;
  std::vector<std::filesystem::path> written;

  std::expected<std::filesystem::path, std::string> place(const std::string& path) {
    std::filesystem::path rel = std::filesystem::path(path).lexically_normal();
    if (path.empty() || rel.is_absolute() || rel.string().starts_with(".."))
      return std::unexpected("results archive entry '" + path + "': not a path inside " +
                             dir.string());
    return dir / rel;
  }

  std::expected<void, std::string> start_entry(const char* h);
  std::expected<void, std::string> take(std::string_view tar);
};

std::expected<void, std::string> ResultsReader::Impl::start_entry(const char* h) {
  type = h[156];
  left = read_octal(h + 124, 12);
  pad = (kBlock - left % kBlock) % kBlock;
  name = long_name.empty() ? std::string(h, strnlen(h, 100)) : long_name;
  if (type == 'L') return {};
  long_name.clear();
  if (type != '0' && type != '\0' && type != '5')
    return std::unexpected("results archive entry '" + name + "': not a file or a directory");
  auto at = place(name);
  if (!at) return std::unexpected(at.error());
  std::error_code ec;
  std::filesystem::create_directories(type == '5' ? *at : at->parent_path(), ec);
  if (ec) return std::unexpected(at->parent_path().string() + ": " + ec.message());
  if (type == '5') return {};
  // Never over a file that exists, nor through a symlink there.
  file = std::ofstream(*at, std::ios::binary | std::ios::noreplace);
  if (!file.is_open()) {
    if (std::filesystem::exists(std::filesystem::symlink_status(*at, ec)))
      return std::unexpected(at->string() +
                             " already exists: results never replace a file; write them to a new "
                             "or empty directory");
    return std::unexpected(at->string() + ": cannot be written");
  }
  written.push_back(*at);
  return {};
}

std::expected<void, std::string> ResultsReader::Impl::take(std::string_view tar) {
  pending.append(tar);
  size_t at = 0;
  while (!done) {
    if (left > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, pending.size() - at));
      if (n == 0) break;
      if (type == 'L')
        long_name.append(pending, at, n);
      else if (type != '5')
        file.write(pending.data() + at, static_cast<std::streamsize>(n));
      at += n;
      left -= n;
      if (left == 0 && type == 'L') long_name.resize(strnlen(long_name.c_str(), long_name.size()));
      if (left == 0 && file.is_open()) file.close();
      continue;
    }
    if (pad > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(pad, pending.size() - at));
      if (n == 0) break;
      at += n;
      pad -= n;
      continue;
    }
    if (pending.size() - at < kBlock) break;
    const char* h = pending.data() + at;
    at += kBlock;
    if (std::all_of(h, h + kBlock, [](char c) { return c == '\0'; })) {
      done = true;  // the first of the two zero blocks ends it
      break;
    }
    if (auto ok = start_entry(h); !ok) return ok;
    if (left == 0 && file.is_open()) file.close();
  }
  pending.erase(0, at);
  return {};
}

ResultsReader::ResultsReader(std::filesystem::path dir) : impl_(std::make_unique<Impl>()) {
  impl_->dir = std::move(dir);
  ::inflateInit2(&impl_->z, 16 + MAX_WBITS);
}

ResultsReader::~ResultsReader() {
  ::inflateEnd(&impl_->z);
}

std::expected<void, std::string> ResultsReader::feed(std::string_view compressed) {
  auto& z = impl_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  char buf[64 * 1024];
  while (z.avail_in > 0) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int r = ::inflate(&z, Z_NO_FLUSH);
    if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
      return std::unexpected(std::string("the results archive is not gzip data: ") +
                             (z.msg ? z.msg : "inflate failed"));
    if (auto ok = impl_->take(std::string_view(buf, sizeof buf - z.avail_out)); !ok) return ok;
    if (r == Z_STREAM_END) break;
  }
  return {};
}

std::expected<std::vector<std::filesystem::path>, std::string> ResultsReader::finish() {
  if (!impl_->done) return std::unexpected(std::string("the results archive ended early"));
  return impl_->written;
}

}  // namespace shoal::bacalhau
