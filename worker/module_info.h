// What a wasm binary imports and exports, read from its sections before V8
// sees it, so that a module we cannot run is refused with a message that
// names the import or export at fault.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace shoal::worker {

enum class ValType : uint8_t {
  i32 = 0x7f,
  i64 = 0x7e,
  f32 = 0x7d,
  f64 = 0x7c,
  v128 = 0x7b,
  funcref = 0x70,
  externref = 0x6f,
};
enum class ExternKind : uint8_t { function = 0, table = 1, memory = 2, global = 3, tag = 4 };

struct FuncType {
  std::vector<ValType> params;
  std::vector<ValType> results;
  bool operator==(const FuncType&) const = default;
};

struct Import {
  std::string module;
  std::string name;
  ExternKind kind;
  FuncType type;  // for functions
};

struct Export {
  std::string name;
  ExternKind kind;
};

struct ModuleInfo {
  std::vector<Import> imports;
  std::vector<Export> exports;
};

// Reads the type, import and export sections. Fails with a message when the
// bytes are not a wasm binary (magic, version) or those sections are
// malformed; the rest of the module is left for the engine to validate.
std::expected<ModuleInfo, std::string> inspect_module(std::span<const uint8_t> bytes);

// "(i32, i64) -> i32"
std::string describe(const FuncType& type);
const char* describe(ExternKind kind);

}  // namespace shoal::worker
