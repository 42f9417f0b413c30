#include "worker/engine.h"

#include <libplatform/libplatform.h>
#include <v8.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "wasi/functions.h"
#include "worker/memory_limit.h"
#include "worker/module_info.h"
#include "worker/watchdog.h"

namespace shoal::worker {
namespace {

// V8 is initialised once per process and never torn down: workers live as
// long as the process, and V8 cannot be re-initialised after disposal.
void ensure_v8() {
  static std::once_flag once;
  static std::unique_ptr<v8::Platform> platform;
  std::call_once(once, [] {
    platform = v8::platform::NewDefaultPlatform();
    v8::V8::InitializePlatform(platform.get());
    v8::V8::Initialize();
  });
}

// The state one module instance shares with its host functions: the WASI
// environment (one per run), the instance's own memory (its WASI calls pass
// pointers into it), and the run's exit flag.
struct Instance {
  wasi::Environment* env = nullptr;
  v8::Global<v8::WasmMemoryObject> memory;
  bool* exited = nullptr;
};

struct Binding {
  Instance* instance;
  const wasi::Function* function;
};

// A JS exception thrown by proc_exit to unwind the guest at once.
constexpr char kExitMarker[] = "shoal.proc_exit";

void call_host(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* b = static_cast<Binding*>(info.Data().As<v8::External>()->Value());
  v8::Isolate* isolate = info.GetIsolate();
  uint64_t args[16] = {};
  const std::string_view params = b->function->params;
  for (size_t i = 0; i < params.size(); ++i) {
    v8::Local<v8::Value> v = info[static_cast<int>(i)];
    if (params[i] == 'i') {
      args[i] = static_cast<uint32_t>(
          v->IsInt32() ? v.As<v8::Int32>()->Value()
                       : v->Int32Value(isolate->GetCurrentContext()).FromMaybe(0));
    } else {
      args[i] = v->IsBigInt() ? v.As<v8::BigInt>()->Uint64Value() : 0;
    }
  }
  uint8_t* base = nullptr;
  uint64_t size = 0;
  if (!b->instance->memory.IsEmpty()) {
    v8::Local<v8::ArrayBuffer> buffer = b->instance->memory.Get(isolate)->Buffer();
    base = static_cast<uint8_t*>(buffer->Data());
    size = buffer->ByteLength();
  }
  wasi::GuestMemory mem(base, size);
  wasi::Errno e = b->function->handler(*b->instance->env, mem, args);
  if (!b->function->returns_errno) {
    // proc_exit: wasi-libc follows the call with `unreachable`, so the guest
    // must not resume. An exception unwinds it now; terminating as well keeps
    // a guest that catches foreign exceptions from carrying on.
    *b->instance->exited = true;
    isolate->ThrowException(v8::String::NewFromUtf8Literal(isolate, kExitMarker));
    isolate->TerminateExecution();
    return;
  }
  info.GetReturnValue().Set(static_cast<uint32_t>(e));
}

std::string exception_text(v8::Isolate* isolate, v8::Local<v8::Context> ctx,
                           const v8::TryCatch& tc) {
  if (!tc.HasCaught() || tc.Exception().IsEmpty()) return "unknown error";
  v8::String::Utf8Value text(isolate, tc.Exception());
  return *text ? *text : "unknown error";
  (void)ctx;
}

v8::Local<v8::Value> get(v8::Local<v8::Context> ctx, v8::Local<v8::Object> obj,
                         std::string_view key) {
  v8::Isolate* isolate = ctx->GetIsolate();
  auto k = v8::String::NewFromUtf8(isolate, key.data(), v8::NewStringType::kNormal,
                                   static_cast<int>(key.size()))
               .ToLocalChecked();
  return obj->Get(ctx, k).FromMaybe(v8::Local<v8::Value>(v8::Undefined(isolate)));
}

wasi::Function const* wasi_function_for(const Import& imp, std::string& why) {
  using worker::ValType;
  const wasi::Function* f = nullptr;
  if (imp.module == wasi::kModuleName && imp.kind == ExternKind::function)
    f = wasi::find_function(imp.name);
  if (!f) {
    why = "the module imports " + imp.module + "." + imp.name + " (" + describe(imp.kind) +
          "), which shoal does not provide";
    return nullptr;
  }
  FuncType expected;
  for (char c : f->params) expected.params.push_back(c == 'i' ? ValType::i32 : ValType::i64);
  if (f->returns_errno) expected.results.push_back(ValType::i32);
  if (!(imp.type == expected)) {
    why = "the module imports " + imp.module + "." + imp.name + " as " + describe(imp.type) +
          ", but WASI defines it as " + describe(expected);
    return nullptr;
  }
  return f;
}

// Checks one module's imports: WASI functions are bound by name and type;
// any other import must be an export, of the same kind, of an import module
// instantiated before. Returns the WASI functions to bind, in import order.
std::expected<std::vector<const wasi::Function*>, std::string> resolve_imports(
    const ModuleInfo& info, const std::map<std::string, const ModuleInfo*>& provided) {
  std::vector<const wasi::Function*> out;
  for (const Import& imp : info.imports) {
    std::string why;
    if (imp.module == wasi::kModuleName) {
      const wasi::Function* f = wasi_function_for(imp, why);
      if (!f) return std::unexpected(why);
      out.push_back(f);
      continue;
    }
    auto it = provided.find(imp.module);
    if (it == provided.end()) {
      std::string names;
      for (const auto& [name, _] : provided) names += (names.empty() ? "" : ", ") + name;
      why = "the module imports " + imp.module + "." + imp.name + " (" + describe(imp.kind) +
            "), which shoal does not provide";
      if (!provided.empty())
        why += " (no import module is named '" + imp.module + "'; the import modules are " + names +
               ")";
      return std::unexpected(why);
    }
    const Export* ex = nullptr;
    for (const Export& e : it->second->exports)
      if (e.name == imp.name) ex = &e;
    if (!ex)
      return std::unexpected("the module imports " + imp.module + "." + imp.name + " (" +
                             describe(imp.kind) + "), which import module " + imp.module +
                             " does not export");
    if (ex->kind != imp.kind)
      return std::unexpected("the module imports " + imp.module + "." + imp.name + " as a " +
                             describe(imp.kind) + ", but import module " + imp.module +
                             " exports it as a " + describe(ex->kind));
  }
  return out;
}

std::string format_seconds(std::chrono::nanoseconds d) {
  double s = std::chrono::duration<double>(d).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

// Compiled modules of this process, by cache key and memory limit. V8 shares
// a compiled module's code between isolates (FromCompiledModule), so a later
// job pays neither validation nor compilation. Bounded: the oldest entries go.
class ModuleCache {
 public:
  std::optional<v8::CompiledWasmModule> get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void put(const std::string& key, v8::CompiledWasmModule compiled) {
    std::lock_guard lock(mu_);
    if (entries_.contains(key)) return;
    if (order_.size() >= kMaxEntries) {
      entries_.erase(order_.front());
      order_.erase(order_.begin());
    }
    entries_.emplace(key, std::move(compiled));
    order_.push_back(key);
  }

 private:
  static constexpr size_t kMaxEntries = 32;
  std::mutex mu_;
  std::map<std::string, v8::CompiledWasmModule> entries_;
  std::vector<std::string> order_;
};

ModuleCache& module_cache() {
  static ModuleCache cache;
  return cache;
}

}  // namespace

std::string v8_version() {
  return v8::V8::GetVersion();
}

std::expected<uint32_t, RunError> run_wasi_command(std::span<const uint8_t> module,
                                                   wasi::Environment& env,
                                                   const RunOptions& options) {
  using Kind = RunError::Kind;

  // Every module read and linked on paper first, so that a module we cannot
  // run is refused, naming the import at fault, before V8 sees anything.
  struct Unit {
    std::string name;  // "" for the main module
    std::span<const uint8_t> bytes;
    std::vector<uint8_t> limited;
    std::string cache_key;
    ModuleInfo info;
    std::vector<const wasi::Function*> wasi_imports;
  };
  std::vector<Unit> units;
  for (const ImportModule& m : options.import_modules)
    units.push_back({m.name, m.bytes, {}, m.cache_key, {}, {}});
  units.push_back({"", module, {}, options.cache_key, {}, {}});
  std::map<std::string, const ModuleInfo*> provided;
  for (Unit& u : units) {
    const std::string who = u.name.empty() ? "" : "import module " + u.name + ": ";
    auto info = inspect_module(u.bytes);
    if (!info) return std::unexpected(RunError{Kind::invalid_module, who + info.error()});
    u.info = std::move(*info);
    auto wasi_imports = resolve_imports(u.info, provided);
    if (!wasi_imports) return std::unexpected(RunError{Kind::link, who + wasi_imports.error()});
    u.wasi_imports = std::move(*wasi_imports);
    if (!u.name.empty()) provided[u.name] = &u.info;
  }
  Unit& main_unit = units.back();
  bool has_entry = false;
  for (const Export& ex : main_unit.info.exports)
    if (ex.name == options.entry_point && ex.kind == ExternKind::function) has_entry = true;
  if (!has_entry)
    return std::unexpected(
        RunError{Kind::no_entry,
                 "the module exports no function '" + options.entry_point +
                     "' (a WASI command exports _start; choose another with --entry-point)"});

  if (options.memory_limit) {
    for (Unit& u : units) {
      auto rewritten = limit_memory(u.bytes, *options.memory_limit);
      if (!rewritten)
        return std::unexpected(
            RunError{Kind::memory_limit,
                     (u.name.empty() ? "" : "import module " + u.name + ": ") + rewritten.error()});
      u.limited = std::move(*rewritten);
      u.bytes = u.limited;
    }
  }

  ensure_v8();
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator(
      v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = allocator.get();
  v8::Isolate* isolate = v8::Isolate::New(params);
  struct IsolateDisposer {
    v8::Isolate* i;
    ~IsolateDisposer() { i->Dispose(); }
  } disposer{isolate};

  bool exited = false;
  std::vector<std::unique_ptr<Instance>> instances;
  std::vector<std::unique_ptr<Binding>> bindings;

  v8::Isolate::Scope isolate_scope(isolate);
  v8::HandleScope handles(isolate);
  v8::Local<v8::Context> ctx = v8::Context::New(isolate);
  v8::Context::Scope context_scope(ctx);
  v8::TryCatch tc(isolate);

  auto compile = [&](Unit& u) -> std::expected<v8::Local<v8::WasmModuleObject>, RunError> {
    std::string key;
    if (!u.cache_key.empty())
      key = u.cache_key + ":" + std::to_string(options.memory_limit.value_or(0));
    v8::Local<v8::WasmModuleObject> mod;
    std::optional<v8::CompiledWasmModule> cached =
        key.empty() ? std::nullopt : module_cache().get(key);
    if (cached && v8::WasmModuleObject::FromCompiledModule(isolate, *cached).ToLocal(&mod))
      return mod;
    auto compiled = v8::WasmModuleObject::Compile(
        isolate, v8::MemorySpan<const uint8_t>(u.bytes.data(), u.bytes.size()));
    if (!compiled.ToLocal(&mod))
      return std::unexpected(
          RunError{Kind::invalid_module, (u.name.empty() ? "" : "import module " + u.name + ": ") +
                                             exception_text(isolate, ctx, tc)});
    if (!key.empty()) module_cache().put(key, mod->GetCompiledModule());
    return mod;
  };
  std::vector<v8::Local<v8::WasmModuleObject>> compiled;
  for (Unit& u : units) {
    auto mod = compile(u);
    if (!mod) return std::unexpected(mod.error());
    compiled.push_back(*mod);
  }

  auto v8_string = [&](std::string_view s) {
    return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kNormal,
                                   static_cast<int>(s.size()))
        .ToLocalChecked();
  };
  auto webassembly = get(ctx, ctx->Global(), "WebAssembly").As<v8::Object>();
  auto instance_ctor = get(ctx, webassembly, "Instance").As<v8::Function>();
  // The exports of the import modules instantiated so far, by name.
  v8::Local<v8::Object> provided_exports = v8::Object::New(isolate);

  if (options.control) options.control->attach(isolate);
  struct Detach {
    RunControl* c;
    ~Detach() {
      if (c) c->detach();
    }
  } detach{options.control};
  std::optional<Watchdog> watchdog;
  if (options.timeout) watchdog.emplace(isolate, *options.timeout);
  bool timed_out = false;
  // Why a call into the guest returned empty: an exit, the watchdog, a stop
  // request, or a trap (nullopt).
  auto interrupted = [&]() -> std::optional<std::expected<uint32_t, RunError>> {
    if (watchdog) timed_out = watchdog->stop();
    const bool cancelled = options.control && options.control->cancelled();
    if (exited || timed_out || cancelled) isolate->CancelTerminateExecution();
    if (exited) return *env.exit_code();
    if (cancelled) return std::unexpected(RunError{Kind::cancelled, "stopped on request"});
    if (timed_out)
      return std::unexpected(RunError{
          Kind::timeout, "timed out after " + format_seconds(*options.timeout) + " (--timeout)"});
    return std::nullopt;
  };

  v8::Local<v8::Object> main_exports;
  for (size_t i = 0; i < units.size(); ++i) {
    Unit& u = units[i];
    instances.push_back(std::make_unique<Instance>());
    Instance& instance = *instances.back();
    instance.env = &env;
    instance.exited = &exited;
    v8::Local<v8::Object> wasi_ns = v8::Object::New(isolate);
    for (const wasi::Function* f : u.wasi_imports) {
      bindings.push_back(std::make_unique<Binding>(Binding{&instance, f}));
      auto fn = v8::Function::New(ctx, call_host, v8::External::New(isolate, bindings.back().get()),
                                  static_cast<int>(f->params.size()))
                    .ToLocalChecked();
      wasi_ns->Set(ctx, v8_string(f->name), fn).Check();
    }
    v8::Local<v8::Object> imports = v8::Object::New(isolate);
    imports->Set(ctx, v8_string(wasi::kModuleName), wasi_ns).Check();
    for (size_t j = 0; j < i; ++j)
      imports
          ->Set(ctx, v8_string(units[j].name),
                get(ctx, provided_exports, units[j].name).As<v8::Object>())
          .Check();
    v8::Local<v8::Value> argv[] = {compiled[i], imports};
    v8::Local<v8::Object> wasm_instance;
    const bool is_main = u.name.empty();
    if (!instance_ctor->NewInstance(ctx, 2, argv).ToLocal(&wasm_instance)) {
      if (auto r = interrupted()) return *r;
      std::string text = exception_text(isolate, ctx, tc);
      if (is_main) return std::unexpected(RunError{Kind::trap, text});
      return std::unexpected(
          RunError{Kind::import_trap, "import module " + u.name + " failed to start: " + text});
    }
    auto exports = get(ctx, wasm_instance, "exports").As<v8::Object>();
    auto memory = get(ctx, exports, "memory");
    if (memory->IsWasmMemoryObject())
      instance.memory.Reset(isolate, memory.As<v8::WasmMemoryObject>());
    if (is_main) {
      main_exports = exports;
      break;
    }
    // A WASI reactor sets itself up (constructors, libc) in _initialize.
    auto init = get(ctx, exports, "_initialize");
    if (init->IsFunction() &&
        init.As<v8::Function>()->Call(ctx, v8::Undefined(isolate), 0, nullptr).IsEmpty()) {
      if (auto r = interrupted()) return *r;
      return std::unexpected(RunError{
          Kind::import_trap, "import module " + u.name +
                                 " trapped while starting: " + exception_text(isolate, ctx, tc)});
    }
    provided_exports->Set(ctx, v8_string(u.name), exports).Check();
  }

  Instance& main_instance = *instances.back();
  auto entry = get(ctx, main_exports, options.entry_point);
  if (!entry->IsFunction())
    return std::unexpected(
        RunError{Kind::no_entry, "export '" + options.entry_point + "' is not a function"});
  v8::MaybeLocal<v8::Value> result =
      entry.As<v8::Function>()->Call(ctx, v8::Undefined(isolate), 0, nullptr);
  if (auto r = interrupted()) return *r;
  if (result.IsEmpty()) {
    std::string message = exception_text(isolate, ctx, tc);
    if (options.memory_limit && !main_instance.memory.IsEmpty()) {
      uint64_t used = main_instance.memory.Get(isolate)->Buffer()->ByteLength();
      if (used * 4 >= *options.memory_limit * 3)
        message += " (memory at " + std::to_string(used >> 20) + " MiB of its " +
                   std::to_string(*options.memory_limit >> 20) +
                   " MiB limit: the program probably ran out of memory)";
    }
    return std::unexpected(RunError{Kind::trap, message});
  }
  return 0u;
}

}  // namespace shoal::worker
