#include "worker/module_info.h"

#include <string_view>

namespace shoal::worker {
namespace {

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  bool done() const { return pos_ >= b_.size(); }
  size_t pos() const { return pos_; }

  std::expected<uint8_t, std::string> byte() {
    if (pos_ >= b_.size()) return std::unexpected(std::string("unexpected end of module"));
    return b_[pos_++];
  }
  std::expected<uint32_t, std::string> u32() {
    uint64_t result = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      auto b = byte();
      if (!b) return std::unexpected(b.error());
      result |= uint64_t{*b & 0x7fu} << shift;
      if (!(*b & 0x80)) {
        if (result > UINT32_MAX) break;
        return static_cast<uint32_t>(result);
      }
    }
    return std::unexpected(std::string("malformed LEB128 integer"));
  }
  std::expected<std::string, std::string> name() {
    auto len = u32();
    if (!len) return std::unexpected(len.error());
    if (*len > b_.size() - pos_) return std::unexpected(std::string("name runs past the end"));
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), *len);
    pos_ += *len;
    return s;
  }
  std::expected<void, std::string> skip(size_t n) {
    if (n > b_.size() - pos_) return std::unexpected(std::string("section runs past the end"));
    pos_ += n;
    return {};
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

#define TRY(var, expr)                                   \
  auto var##_r = (expr);                                 \
  if (!var##_r) return std::unexpected(var##_r.error()); \
  auto var = *var##_r

std::expected<void, std::string> skip_limits(Reader& r) {
  TRY(flags, r.byte());
  TRY(min, r.u32());
  (void)min;
  if (flags & 1) {
    TRY(max, r.u32());
    (void)max;
  }
  return {};
}

std::expected<std::vector<FuncType>, std::string> read_types(Reader& r) {
  TRY(count, r.u32());
  std::vector<FuncType> types;
  for (uint32_t i = 0; i < count; ++i) {
    TRY(form, r.byte());
    if (form != 0x60) return std::unexpected(std::string("type section: unknown type form"));
    FuncType t;
    for (auto* list : {&t.params, &t.results}) {
      TRY(n, r.u32());
      for (uint32_t j = 0; j < n; ++j) {
        TRY(v, r.byte());
        list->push_back(static_cast<ValType>(v));
      }
    }
    types.push_back(std::move(t));
  }
  return types;
}

}  // namespace

std::expected<ModuleInfo, std::string> inspect_module(std::span<const uint8_t> bytes) {
  static constexpr uint8_t kMagic[] = {0x00, 0x61, 0x73, 0x6d};
  if (bytes.size() < 8 || !std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin()))
    return std::unexpected(
        std::string("not a WebAssembly module (it does not start with the bytes \\0asm)"));
  if (bytes[4] != 1 || bytes[5] != 0 || bytes[6] != 0 || bytes[7] != 0)
    return std::unexpected(
        std::string("unsupported WebAssembly binary version (shoal runs version 1)"));

  Reader r(bytes.subspan(8));
  ModuleInfo info;
  std::vector<FuncType> types;
  while (!r.done()) {
    TRY(id, r.byte());
    TRY(size, r.u32());
    size_t end = r.pos() + size;
    if (id == 1) {
      TRY(t, read_types(r));
      types = std::move(t);
    } else if (id == 2) {
      TRY(count, r.u32());
      for (uint32_t i = 0; i < count; ++i) {
        Import imp;
        TRY(mod, r.name());
        TRY(nm, r.name());
        TRY(kind, r.byte());
        imp.module = std::move(mod);
        imp.name = std::move(nm);
        imp.kind = static_cast<ExternKind>(kind);
        switch (imp.kind) {
          case ExternKind::function: {
            TRY(idx, r.u32());
            if (idx >= types.size())
              return std::unexpected("import " + imp.module + "." + imp.name +
                                     " names a type that does not exist");
            imp.type = types[idx];
            break;
          }
          case ExternKind::table: {
            TRY(reftype, r.byte());
            (void)reftype;
            if (auto ok_r = skip_limits(r); !ok_r) return std::unexpected(ok_r.error());
            break;
          }
          case ExternKind::memory: {
            if (auto ok_r = skip_limits(r); !ok_r) return std::unexpected(ok_r.error());
            break;
          }
          case ExternKind::global: {
            TRY(vt, r.byte());
            TRY(mut, r.byte());
            (void)vt, (void)mut;
            break;
          }
          case ExternKind::tag: {
            TRY(attr, r.byte());
            TRY(idx, r.u32());
            (void)attr, (void)idx;
            break;
          }
          default:
            return std::unexpected(std::string("import section: unknown import kind"));
        }
        info.imports.push_back(std::move(imp));
      }
    } else if (id == 7) {
      TRY(count, r.u32());
      for (uint32_t i = 0; i < count; ++i) {
        TRY(nm, r.name());
        TRY(kind, r.byte());
        TRY(idx, r.u32());
        (void)idx;
        info.exports.push_back({std::move(nm), static_cast<ExternKind>(kind)});
      }
    }
    if (r.pos() > end) return std::unexpected("section " + std::to_string(id) + " is malformed");
    if (auto ok_r = r.skip(end - r.pos()); !ok_r) return std::unexpected(ok_r.error());
  }
  return info;
}

std::string describe(const FuncType& type) {
  auto name = [](ValType v) -> std::string_view {
    switch (v) {
      case ValType::i32:
        return "i32";
      case ValType::i64:
        return "i64";
      case ValType::f32:
        return "f32";
      case ValType::f64:
        return "f64";
      case ValType::v128:
        return "v128";
      case ValType::funcref:
        return "funcref";
      case ValType::externref:
        return "externref";
    }
    return "?";
  };
  auto list = [&](const std::vector<ValType>& vs) {
    std::string s = "(";
    for (size_t i = 0; i < vs.size(); ++i) {
      if (i) s += ", ";
      s += name(vs[i]);
    }
    return s + ")";
  };
  return list(type.params) + " -> " + list(type.results);
}

const char* describe(ExternKind kind) {
  switch (kind) {
    case ExternKind::function:
      return "function";
    case ExternKind::table:
      return "table";
    case ExternKind::memory:
      return "memory";
    case ExternKind::global:
      return "global";
    case ExternKind::tag:
      return "tag";
  }
  return "import";
}

}  // namespace shoal::worker
