#include "worker/engine.h"

#include <libplatform/libplatform.h>
#include <malloc.h>
#include <unistd.h>
#include <v8.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "protocol/units.h"
#include "wasi/functions.h"
#include "worker/code_cache.h"
#include "worker/memory_limit.h"
#include "worker/module_id.h"
#include "worker/module_info.h"
#include "worker/v8_platform.h"
#include "worker/watchdog.h"

namespace shoal::worker {
namespace {

using Clock = std::chrono::steady_clock;

// Lazy compilation with eager tier-up: a function is compiled when it is
// first called, by Liftoff, and then at once by TurboFan in the background.
// A start compiles only what the program calls (a 30 MB module's first
// start: 0.8 s instead of 21 s of TurboFan for functions never called), the
// code of what it called can be serialized as soon as TurboFan has done it
// (V8 10.2 serializes nothing while Liftoff code remains, but does serialize
// functions never compiled, as "compile on first call"), and hot functions
// run optimised code from their next call without waiting for V8 to find
// them. See docs/benchmarks.md for the measurements behind this choice.
constexpr char kV8Flags[] = "--no-wasm-dynamic-tiering --wasm-lazy-compilation";

struct V8Process {
  std::unique_ptr<TrackingPlatform> platform;
  std::string flags;
  bool trap_handler = false;
};

// V8 is initialised once per process and never torn down: workers live as
// long as the process, and V8 cannot be re-initialised after disposal.
V8Process& v8_process() {
  static V8Process* process = [] {
    auto* p = new V8Process;
    p->flags = kV8Flags;
    if (const char* extra = std::getenv("SHOAL_V8_FLAGS"); extra && *extra)
      p->flags += std::string(" ") + extra;
    v8::V8::SetFlagsFromString(p->flags.c_str());
    // Guard pages and a signal handler instead of a bounds check on every
    // memory access. Must precede V8::Initialize.
    p->trap_handler = v8::V8::EnableWebAssemblyTrapHandler(true);
    p->platform = std::make_unique<TrackingPlatform>();
    v8::V8::InitializePlatform(p->platform.get());
    v8::V8::Initialize();
    return p;
  }();
  return *process;
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
  // Only the first params.size() slots are read by the handler, so the
  // rest are left unset.
  uint64_t args[16];
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

// The wasm frames of a trap, innermost first, as V8 wrote them into the
// error's `stack` (function names from the module's name section, else
// wasm-function[N]; byte offsets in the module), one "\n    at ..." line
// each, at most kTrapFrames (V8 records ten), with V8's wasm://wasm/HASH:
// prefix left out and a frame repeated in a row (a recursion) said once.
// Empty when V8 recorded none.
constexpr size_t kTrapFrames = 20;
std::string trap_backtrace(v8::Isolate* isolate, v8::Local<v8::Context> ctx,
                           const v8::TryCatch& tc) {
  if (!tc.HasCaught() || tc.Exception().IsEmpty() || !tc.Exception()->IsObject()) return "";
  v8::Local<v8::Value> stack;
  auto key = v8::String::NewFromUtf8Literal(isolate, "stack");
  if (!tc.Exception().As<v8::Object>()->Get(ctx, key).ToLocal(&stack) || !stack->IsString())
    return "";
  v8::String::Utf8Value text(isolate, stack);
  if (!*text) return "";
  std::string out, last;
  size_t frames = 0, repeated = 0;
  auto flush_repeats = [&] {
    if (repeated > 0)
      out += "\n    ... the same frame " + std::to_string(repeated) + " more time" +
             (repeated == 1 ? "" : "s");
    repeated = 0;
  };
  std::string_view all(*text, static_cast<size_t>(text.length()));
  for (size_t at = all.find('\n'); at != std::string_view::npos && frames < kTrapFrames;) {
    size_t end = all.find('\n', at + 1);
    std::string line(all.substr(at + 1, end == std::string_view::npos ? end : end - at - 1));
    at = end;
    if (line.find("wasm") == std::string::npos) continue;  // not a frame of the guest
    if (size_t p = line.find("wasm://wasm/"); p != std::string::npos) {
      size_t colon = line.find(':', p + 12);
      if (colon != std::string::npos) line.erase(p, colon + 1 - p);
    }
    ++frames;
    if (line == last) {  // a recursion: said once, with its count
      ++repeated;
      continue;
    }
    flush_repeats();
    out += "\n" + line;
    last = std::move(line);
  }
  flush_repeats();
  return out;
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

// A module ready to instantiate: its compiled code and what the checks
// before compiling found, so that a later run repeats neither.
struct Prepared {
  std::optional<v8::CompiledWasmModule> compiled;
  ModuleInfo info;
};

// The modules this process compiled, by ModuleId (module_id.h). V8 shares
// a compiled module's code between isolates (FromCompiledModule), so a later
// run pays neither validation nor compilation; the current isolate's module
// object is kept in the same entry, so that a later run does not make it
// again either. Bounded: the oldest entries go. With the engine's mutex
// held; objects are dropped (forget_objects) before their isolate goes.
class KeptModules {
 public:
  std::optional<Prepared> get(const ModuleId& id) const {
    auto it = entries_.find(id.key());
    if (it == entries_.end()) return std::nullopt;
    return it->second.prepared;
  }
  void put(const ModuleId& id, Prepared prepared) {
    std::string key = id.key();
    if (entries_.contains(key)) return;
    if (order_.size() >= kMaxEntries) {
      entries_.erase(order_.front());
      order_.erase(order_.begin());
    }
    entries_.emplace(key, Entry{std::move(prepared), {}});
    order_.push_back(std::move(key));
  }
  // The isolate's module object for `id`, or empty.
  v8::MaybeLocal<v8::WasmModuleObject> object(const ModuleId& id, v8::Isolate* isolate) const {
    auto it = entries_.find(id.key());
    if (it == entries_.end() || it->second.object.IsEmpty()) return {};
    return it->second.object.Get(isolate);
  }
  void keep_object(const ModuleId& id, v8::Isolate* isolate,
                   v8::Local<v8::WasmModuleObject> object) {
    if (auto it = entries_.find(id.key()); it != entries_.end())
      it->second.object.Reset(isolate, object);
  }
  void forget_objects() {
    for (auto& [key, entry] : entries_) entry.object.Reset();
  }

 private:
  struct Entry {
    Prepared prepared;
    v8::Global<v8::WasmModuleObject> object;
  };
  static constexpr size_t kMaxEntries = 32;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> order_;
};

// What a deserialization through WebAssembly.compileStreaming needs; the
// streaming callback finds it in the isolate's data slot.
struct StreamingRequest {
  std::span<const uint8_t> wire;
  std::span<const uint8_t> code;
  bool accepted = false;  // V8 took the code (same version, flags, CPU)
};
constexpr uint32_t kStreamingSlot = 0;

void on_streaming(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  auto streaming = v8::WasmStreaming::Unpack(isolate, info.Data());
  auto* req = static_cast<StreamingRequest*>(isolate->GetData(kStreamingSlot));
  if (req) req->accepted = streaming->SetCompiledModuleBytes(req->code.data(), req->code.size());
  if (!req || !req->accepted) {
    streaming->Abort(v8::String::NewFromUtf8Literal(isolate, "code not accepted"));
    return;
  }
  streaming->OnBytesReceived(req->wire.data(), req->wire.size());
  streaming->Finish(true);
}

// The process's engine state: one isolate at a time, reused across runs,
// the modules it compiled, and the code cache.
struct Engine {
  std::mutex mu;  // one run (or idle work) at a time
  v8::Isolate* isolate = nullptr;
  // One context for the isolate's life: guests never run JavaScript, and
  // everything a run creates (instance, memory, imports) is its own, so a
  // fresh context per run would only cost its creation.
  v8::Global<v8::Context> context;
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator;
  unsigned runs = 0;     // on this isolate
  bool collect = false;  // a finished run left much memory behind
  KeptModules modules;
  std::unique_ptr<CodeCache> code_cache;
  // Compiled here, or grown here from a cache entry (whose size is kept:
  // code of the same size is not stored again), not yet in the code
  // cache: code-cache key -> module.
  struct Unsaved {
    v8::CompiledWasmModule compiled;
    size_t stored_size = 0;
  };
  std::map<std::string, Unsaved> unsaved;
  std::function<void(const std::string&)> log;
  std::function<void(const std::string&)> stored;  // EngineSettings::stored

  // The isolate's WASI import functions, so that a later run does not make
  // them again: one Instance slot per unit position (import modules first,
  // the main module last), whose functions find the run's state through it.
  struct HostFunction {
    std::unique_ptr<Binding> binding;
    v8::Global<v8::Function> function;
  };
  std::vector<std::unique_ptr<Instance>> slots;
  std::map<std::pair<size_t, const wasi::Function*>, HostFunction> host_functions;

  // With the isolate locked.
  void forget_objects() {
    modules.forget_objects();
    host_functions.clear();
  }

  // An isolate is replaced after this many runs or when its JS heap grew
  // past this: the host's own objects are few, so growth means a leak.
  static constexpr unsigned kMaxRuns = 10000;
  static constexpr size_t kMaxHeapBytes = 64u << 20;
  // A run whose linear memory reached this much is collected after it ends,
  // instead of whenever V8 gets to it.
  static constexpr uint64_t kCollectAfterBytes = 16u << 20;

  void say(const std::string& line) {
    if (log) log(line);
  }

  v8::Isolate* get_isolate() {
    if (isolate) return isolate;
    v8_process();
    if (!allocator) allocator.reset(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator = allocator.get();
    isolate = v8::Isolate::New(params);
    isolate->SetWasmStreamingCallback(on_streaming);
    runs = 0;
    return isolate;
  }

  void retire_isolate() {
    if (!isolate) return;
    {
      v8::Locker locker(isolate);
      forget_objects();
      context.Reset();
    }
    isolate->Dispose();
    isolate = nullptr;
  }

  // After a run, with no scope of the isolate open.
  void check_isolate() {
    if (!isolate) return;
    bool retire = isolate->IsDead() || ++runs >= kMaxRuns;
    if (!retire) {
      v8::Locker locker(isolate);
      v8::HeapStatistics heap;
      isolate->GetHeapStatistics(&heap);
      retire = heap.used_heap_size() > kMaxHeapBytes;
    }
    if (retire) retire_isolate();
    // Small runs leave their memories to V8's own pace; now and then they
    // are collected anyway, to keep an idle worker small.
    if (runs % 256 == 0) collect = true;
  }
};

Engine& engine() {
  static Engine* e = new Engine;  // never destroyed: V8 outlives static destructors
  return *e;
}

// The code cache's key for a module (module_id.h): its identity, and what
// else makes V8's code differ from one process to another.
std::string code_cache_key(const ModuleId& id) {
  V8Process& p = v8_process();
  return id.key() + "|v8 " + v8::V8::GetVersion() + "|" + p.flags +
         (p.trap_handler ? "|trap-handler" : "|bounds-checks");
}

// Deserializes `code` through V8's streaming compilation (the one public
// API that accepts serialized code). Empty when V8 refused the code;
// `note` then says why.
v8::MaybeLocal<v8::WasmModuleObject> deserialize(v8::Isolate* isolate, v8::Local<v8::Context> ctx,
                                                 std::span<const uint8_t> wire,
                                                 std::span<const uint8_t> code, std::string& note) {
  StreamingRequest req{wire, code};
  isolate->SetData(kStreamingSlot, &req);
  struct Clear {
    v8::Isolate* i;
    ~Clear() { i->SetData(kStreamingSlot, nullptr); }
  } clear{isolate};
  auto webassembly = get(ctx, ctx->Global(), "WebAssembly").As<v8::Object>();
  auto compile = get(ctx, webassembly, "compileStreaming");
  if (!compile->IsFunction()) {
    note = "this V8 has no WebAssembly.compileStreaming";
    return {};
  }
  v8::Local<v8::Value> arg = v8::Undefined(isolate);
  v8::Local<v8::Value> result;
  if (!compile.As<v8::Function>()->Call(ctx, webassembly, 1, &arg).ToLocal(&result) ||
      !result->IsPromise()) {
    note = "WebAssembly.compileStreaming failed";
    return {};
  }
  auto promise = result.As<v8::Promise>();
  isolate->PerformMicrotaskCheckpoint();  // runs the streaming callback
  if (!req.accepted) {
    note = "V8 refused the cached code (another V8 build, flags or CPU)";
    return {};
  }
  // Deserialized code settles the promise at once. When V8 could not use
  // the code after all, it compiles the wire bytes in the background
  // instead: wait for that (bounded), then say the entry was not used.
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  bool fell_back = false;
  while (promise->State() == v8::Promise::kPending && Clock::now() < deadline) {
    fell_back = true;
    if (!v8::platform::PumpMessageLoop(v8_process().platform->inner(), isolate)) ::usleep(200);
    isolate->PerformMicrotaskCheckpoint();
  }
  if (promise->State() != v8::Promise::kFulfilled || !promise->Result()->IsWasmModuleObject()) {
    note = "V8 could not compile the module through the cache";
    return {};
  }
  if (fell_back) note = "V8 could not deserialize the cached code and compiled the module";
  return promise->Result().As<v8::WasmModuleObject>();
}

}  // namespace

std::string v8_version() {
  return v8::V8::GetVersion();
}

std::string v8_flags() {
  return v8_process().flags;
}

void configure_engine(EngineSettings settings) {
  Engine& e = engine();
  std::lock_guard lock(e.mu);
  e.log = std::move(settings.log);
  e.stored = std::move(settings.stored);
  e.code_cache.reset();
  if (settings.code_cache_dir.empty()) return;
  auto cache = CodeCache::open(settings.code_cache_dir);
  if (!cache) {
    e.say(cache.error() + "; compiling every module (no code cache)");
    return;
  }
  e.code_cache = std::move(*cache);
}

bool engine_idle_work(std::chrono::milliseconds wait, bool release_memory) {
  Engine& e = engine();
  std::lock_guard lock(e.mu);
  if (e.isolate) {
    v8::Locker locker(e.isolate);
    v8::Isolate::Scope scope(e.isolate);
    while (v8::platform::PumpMessageLoop(v8_process().platform->inner(), e.isolate)) {
    }
    if (e.collect || release_memory) e.isolate->LowMemoryNotification();
    e.collect = false;
  }
  if (release_memory) ::malloc_trim(0);
  // The code is complete once V8's background compilation has finished;
  // before that, functions still waiting for TurboFan would be serialized
  // as "compile on first call".
  const auto deadline = Clock::now() + wait;
  while (!e.unsaved.empty() && v8_process().platform->background_work_pending() &&
         Clock::now() < deadline)
    ::usleep(2000);
  if (!e.code_cache) e.unsaved.clear();
  const bool complete = !v8_process().platform->background_work_pending();
  if (e.unsaved.empty() || (!complete && wait.count() == 0)) return !e.unsaved.empty();
  for (auto& [key, unsaved] : e.unsaved) {
    v8::OwnedBuffer code = unsaved.compiled.Serialize();
    if (code.size == 0) continue;  // V8 had nothing to serialize: compiled again next time
    // The entry it came from: no function was compiled since (code grows).
    if (code.size == unsaved.stored_size) continue;
    auto stored = e.code_cache->put(key, {code.buffer.get(), code.size}, complete);
    if (!stored)
      e.say(stored.error());
    else if (e.stored)
      e.stored("code cache: stored " + units::format_bytes(code.size) +
               (unsaved.stored_size ? " (grown from " + units::format_bytes(unsaved.stored_size) +
                                          ": this run compiled more functions)"
                                    : ""));
  }
  e.unsaved.clear();
  return !e.unsaved.empty();
}

namespace {

using Kind = RunError::Kind;
using RunResult = std::expected<uint32_t, RunError>;

// A run's end before its entry point is called.
std::unexpected<RunResult> ended(RunResult r) {
  return std::unexpected(std::move(r));
}
std::unexpected<RunResult> ended(RunError e) {
  return std::unexpected(RunResult(std::unexpected(std::move(e))));
}

// One module of a run: an import module, or the main module (name "").
struct Unit {
  std::string name;
  std::span<const uint8_t> bytes;  // with its memory limit applied
  std::vector<uint8_t> limited;    // the rewritten bytes, when there is a limit
  ModuleId id;
  std::optional<Prepared> prepared;
  bool from_memory = false;  // kept by this process from an earlier run
  std::vector<const wasi::Function*> wasi_imports;

  // The prefix of a message about this module.
  std::string who() const { return name.empty() ? "" : "import module " + name + ": "; }
};

// The link plan: every module read and linked on paper first, so that a
// module we cannot run is refused, naming the import at fault, before V8
// sees anything. A module this process prepared before is neither read nor
// rewritten again.
std::expected<std::vector<Unit>, RunError> plan_units(Engine& e, std::span<const uint8_t> module,
                                                      const RunOptions& options) {
  auto id_of = [&](const std::string& sha256) {
    return ModuleId{sha256, options.memory_limit.value_or(0)};
  };
  std::vector<Unit> units;
  for (const ImportModule& m : options.import_modules)
    units.push_back({m.name, m.bytes, {}, id_of(m.cache_key), {}, false, {}});
  units.push_back({"", module, {}, id_of(options.cache_key), {}, false, {}});
  std::map<std::string, const ModuleInfo*> provided;
  for (Unit& u : units) {
    if (u.id.kept())
      if (auto kept = e.modules.get(u.id)) u.prepared.emplace(*kept);
    u.from_memory = u.prepared.has_value();
    if (!u.prepared) {
      auto info = inspect_module(u.bytes);
      if (!info) return std::unexpected(RunError{Kind::invalid_module, u.who() + info.error()});
      u.prepared.emplace();
      u.prepared->info = std::move(*info);
      if (options.memory_limit) {
        auto rewritten = limit_memory(u.bytes, *options.memory_limit);
        if (!rewritten)
          return std::unexpected(RunError{Kind::memory_limit, u.who() + rewritten.error()});
        u.limited = std::move(*rewritten);
        u.bytes = u.limited;
      }
    }
    auto wasi_imports = resolve_imports(u.prepared->info, provided);
    if (!wasi_imports) return std::unexpected(RunError{Kind::link, u.who() + wasi_imports.error()});
    u.wasi_imports = std::move(*wasi_imports);
    if (!u.name.empty()) provided[u.name] = &u.prepared->info;
  }
  for (const Export& ex : units.back().prepared->info.exports)
    if (ex.name == options.entry_point && ex.kind == ExternKind::function) return units;
  return std::unexpected(RunError{
      Kind::no_entry, "the module exports no function '" + options.entry_point +
                          "' (a WASI command exports _start; choose another with --entry-point)"});
}

// What a run holds while it is in V8: the engine, its isolate (locked) and
// context (entered), and the TryCatch of the run.
struct InV8 {
  Engine& e;
  v8::Isolate* isolate;
  v8::Local<v8::Context> ctx;
  v8::TryCatch& tc;

  RunError error(Kind kind, const std::string& prefix) const {
    std::string text = prefix + exception_text(isolate, ctx, tc);
    if (kind == Kind::trap || kind == Kind::import_trap) text += trap_backtrace(isolate, ctx, tc);
    return RunError{kind, text};
  }
};

// The module from the code cache, or empty (st.cache_note says why, when an
// entry was there but not used; such an entry is removed).
v8::Local<v8::WasmModuleObject> from_code_cache(const InV8& v, const Unit& u,
                                                const std::string& cache_key, RunStats& st) {
  v8::Local<v8::WasmModuleObject> mod;
  {
    // The entry's bytes are read in place; the read ends with this block.
    auto entry = v.e.code_cache->find(cache_key);
    if (entry) {
      if (deserialize(v.isolate, v.ctx, u.bytes, entry->bytes(), st.cache_note).ToLocal(&mod)) {
        st.source = RunStats::Source::code_cache;
        st.cache_partial = !entry->complete();
        // The run may call functions the entry does not hold; they are
        // compiled on their first call, and stored too once compiled.
        v.e.unsaved.emplace(cache_key,
                            Engine::Unsaved{mod->GetCompiledModule(), entry->bytes().size()});
      }
      v.tc.Reset();
    } else if (entry.error() == CodeCache::Miss::corrupt) {
      st.cache_note = "the cached code is corrupt (checksum mismatch)";
    } else if (entry.error() == CodeCache::Miss::failed) {
      st.cache_note = v.e.code_cache->error();
    }
  }
  if (!st.cache_note.empty()) {
    v.e.say("code cache: entry " + cache_key.substr(0, 16) + "...: " + st.cache_note +
            "; removed it");
    v.e.code_cache->remove(cache_key);
  }
  return mod;
}

// The compiled module, from one of three sources: kept by this process,
// the code cache, or compiled now (and then kept, and saved to the code
// cache later).
std::expected<v8::Local<v8::WasmModuleObject>, RunError> obtain_module(const InV8& v, Unit& u,
                                                                       RunStats& st) {
  v8::Local<v8::WasmModuleObject> mod;
  if (u.from_memory) {
    st.source = RunStats::Source::worker_memory;
    if (v.e.modules.object(u.id, v.isolate).ToLocal(&mod)) return mod;
    if (!v8::WasmModuleObject::FromCompiledModule(v.isolate, *u.prepared->compiled).ToLocal(&mod))
      return std::unexpected(v.error(Kind::invalid_module, u.who()));
    v.e.modules.keep_object(u.id, v.isolate, mod);
    return mod;
  }
  const std::string cache_key = u.id.kept() ? code_cache_key(u.id) : "";
  if (v.e.code_cache && !cache_key.empty()) mod = from_code_cache(v, u, cache_key, st);
  if (mod.IsEmpty()) {
    auto compiled = v8::WasmModuleObject::Compile(
        v.isolate, v8::MemorySpan<const uint8_t>(u.bytes.data(), u.bytes.size()));
    if (!compiled.ToLocal(&mod)) return std::unexpected(v.error(Kind::invalid_module, u.who()));
    st.source = RunStats::Source::compiled;
    if (v.e.code_cache && !cache_key.empty())
      v.e.unsaved.emplace(cache_key, Engine::Unsaved{mod->GetCompiledModule()});
  }
  if (u.id.kept()) {
    u.prepared->compiled.emplace(mod->GetCompiledModule());
    v.e.modules.put(u.id, *u.prepared);
    v.e.modules.keep_object(u.id, v.isolate, mod);
  }
  return mod;
}

// Stops a run from outside, over its instantiation (a start function may
// never return) and its entry point alike: the watchdog at the timeout, and
// the stop requests of its RunControl. Says why a call into the guest
// returned empty.
class RunGuard {
 public:
  RunGuard(v8::Isolate* isolate, const RunOptions& options, wasi::Environment& env,
           const bool& exited)
      : isolate_(isolate), options_(options), env_(env), exited_(exited) {
    if (options.control) options.control->attach(isolate);
    if (options.timeout) watchdog_.emplace(isolate, *options.timeout);
  }
  // Detached before the run's end (AfterRun): a stop request after that
  // cannot terminate the isolate, so its cancellation clears every request
  // of this run.
  ~RunGuard() {
    watchdog_.reset();
    if (options_.control) options_.control->detach();
  }
  RunGuard(const RunGuard&) = delete;
  RunGuard& operator=(const RunGuard&) = delete;

  // Why a call into the guest returned empty: an exit, the watchdog, a stop
  // request, or a trap (nullopt).
  std::optional<RunResult> interrupted() {
    if (watchdog_) timed_out_ = watchdog_->stop();
    const bool cancelled = options_.control && options_.control->cancelled();
    if (exited_ || timed_out_ || cancelled) isolate_->CancelTerminateExecution();
    if (exited_) return *env_.exit_code();
    if (cancelled) return std::unexpected(RunError{Kind::cancelled, "stopped on request"});
    if (timed_out_)
      return std::unexpected(RunError{
          Kind::timeout, "timed out after " + format_seconds(*options_.timeout) + " (--timeout)"});
    return std::nullopt;
  }

 private:
  v8::Isolate* isolate_;
  const RunOptions& options_;
  wasi::Environment& env_;
  const bool& exited_;
  std::optional<Watchdog> watchdog_;
  bool timed_out_ = false;
};

v8::Local<v8::String> v8_string(v8::Isolate* isolate, std::string_view s) {
  return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(s.size()))
      .ToLocalChecked();
}

// The wasi_snapshot_preview1 object for the unit at `position`: the
// isolate's host functions for that slot, made on first use.
v8::Local<v8::Object> wasi_namespace(const InV8& v, size_t position, Instance& instance,
                                     const Unit& u) {
  v8::Local<v8::Object> ns = v8::Object::New(v.isolate);
  for (const wasi::Function* f : u.wasi_imports) {
    Engine::HostFunction& host = v.e.host_functions[{position, f}];
    if (host.function.IsEmpty()) {
      host.binding = std::make_unique<Binding>(Binding{&instance, f});
      auto fn =
          v8::Function::New(v.ctx, call_host, v8::External::New(v.isolate, host.binding.get()),
                            static_cast<int>(f->params.size()))
              .ToLocalChecked();
      host.function.Reset(v.isolate, fn);
    }
    ns->Set(v.ctx, v8_string(v.isolate, f->name), host.function.Get(v.isolate)).Check();
  }
  return ns;
}

// Instantiates the import modules in order, each with WASI and the exports
// of the ones before it, runs their setup, then instantiates the main
// module. Returns the main module's exports.
std::expected<v8::Local<v8::Object>, RunResult> instantiate(
    const InV8& v, std::vector<Unit>& units,
    const std::vector<v8::Local<v8::WasmModuleObject>>& compiled, wasi::Environment& env,
    bool& exited, RunGuard& guard) {
  auto webassembly = get(v.ctx, v.ctx->Global(), "WebAssembly").As<v8::Object>();
  auto instance_ctor = get(v.ctx, webassembly, "Instance").As<v8::Function>();
  // The exports of the import modules instantiated so far, by name.
  v8::Local<v8::Object> provided_exports = v8::Object::New(v.isolate);
  for (size_t i = 0; i < units.size(); ++i) {
    Unit& u = units[i];
    if (v.e.slots.size() <= i) v.e.slots.push_back(std::make_unique<Instance>());
    Instance& instance = *v.e.slots[i];
    instance.env = &env;
    instance.exited = &exited;
    v8::Local<v8::Object> imports = v8::Object::New(v.isolate);
    imports->Set(v.ctx, v8_string(v.isolate, wasi::kModuleName), wasi_namespace(v, i, instance, u))
        .Check();
    for (size_t j = 0; j < i; ++j)
      imports
          ->Set(v.ctx, v8_string(v.isolate, units[j].name),
                get(v.ctx, provided_exports, units[j].name).As<v8::Object>())
          .Check();
    v8::Local<v8::Value> argv[] = {compiled[i], imports};
    v8::Local<v8::Object> wasm_instance;
    const bool is_main = u.name.empty();
    if (!instance_ctor->NewInstance(v.ctx, 2, argv).ToLocal(&wasm_instance)) {
      if (auto r = guard.interrupted()) return ended(*r);
      if (is_main) return ended(v.error(Kind::trap, ""));
      return ended(v.error(Kind::import_trap, "import module " + u.name + " failed to start: "));
    }
    auto exports = get(v.ctx, wasm_instance, "exports").As<v8::Object>();
    auto memory = get(v.ctx, exports, "memory");
    if (memory->IsWasmMemoryObject())
      instance.memory.Reset(v.isolate, memory.As<v8::WasmMemoryObject>());
    if (is_main) return exports;
    // A WASI reactor sets itself up (constructors, libc) in _initialize.
    auto init = get(v.ctx, exports, "_initialize");
    if (init->IsFunction() &&
        init.As<v8::Function>()->Call(v.ctx, v8::Undefined(v.isolate), 0, nullptr).IsEmpty()) {
      if (auto r = guard.interrupted()) return ended(*r);
      return ended(
          v.error(Kind::import_trap, "import module " + u.name + " trapped while starting: "));
    }
    provided_exports->Set(v.ctx, v8_string(v.isolate, u.name), exports).Check();
  }
  return ended(RunError{Kind::no_entry, "no main module"});
}

// Calls the entry point and says how the run ended.
std::expected<uint32_t, RunError> call_entry(const InV8& v, v8::Local<v8::Object> exports,
                                             Instance& main_instance, const RunOptions& options,
                                             RunGuard& guard, RunStats& stats,
                                             Clock::time_point started) {
  auto entry = get(v.ctx, exports, options.entry_point);
  if (!entry->IsFunction())
    return std::unexpected(
        RunError{Kind::no_entry, "export '" + options.entry_point + "' is not a function"});
  stats.prepare = Clock::now() - started;
  v8::MaybeLocal<v8::Value> result =
      entry.As<v8::Function>()->Call(v.ctx, v8::Undefined(v.isolate), 0, nullptr);
  uint64_t used = 0;
  if (!main_instance.memory.IsEmpty())
    used = main_instance.memory.Get(v.isolate)->Buffer()->ByteLength();
  if (used >= Engine::kCollectAfterBytes) v.e.collect = true;
  if (auto r = guard.interrupted()) return *r;
  if (!result.IsEmpty()) return 0u;
  RunError error = v.error(Kind::trap, "");
  if (options.memory_limit && !main_instance.memory.IsEmpty() &&
      used * 4 >= *options.memory_limit * 3)
    error.message += " (memory at " + units::format_bytes(used) + " of its " +
                     units::format_bytes(*options.memory_limit) +
                     " limit: the program probably ran out of memory)";
  return std::unexpected(error);
}

}  // namespace

std::string run_error_text(const RunError& error) {
  switch (error.kind) {
    case RunError::Kind::trap:
      return "the program trapped: " + error.message;
    case RunError::Kind::timeout:
      return "the program " + error.message;
    case RunError::Kind::cancelled:
      return "stopped";
    default:
      return error.message;
  }
}

std::string refusal_note(const std::expected<uint32_t, RunError>& result,
                         const wasi::Environment& env) {
  const bool failed = result ? *result != 0 : result.error().kind == RunError::Kind::trap;
  return failed ? env.refusal_text() : "";
}

std::string run_end_message(const std::expected<uint32_t, RunError>& result,
                            const wasi::Environment& env) {
  const std::string note = refusal_note(result, env);
  if (result) return note;
  return run_error_text(result.error()) + (note.empty() ? "" : "; " + note);
}

std::expected<uint32_t, RunError> run_wasi_command(std::span<const uint8_t> module,
                                                   wasi::Environment& env,
                                                   const RunOptions& options) {
  const auto started = Clock::now();
  RunStats scratch_stats;
  RunStats& stats = options.stats ? *options.stats : scratch_stats;
  stats = RunStats{};
  Engine& e = engine();
  std::unique_lock engine_lock(e.mu);
  auto planned = plan_units(e, module, options);
  if (!planned) return std::unexpected(planned.error());
  std::vector<Unit>& units = *planned;

  v8::Isolate* isolate = e.get_isolate();
  // Runs last, when every handle of the run is gone: whatever ended the run
  // (proc_exit, the watchdog, a stop request) must not end the next one.
  struct AfterRun {
    Engine& e;
    ~AfterRun() {
      {
        v8::Locker locker(e.isolate);
        v8::Isolate::Scope scope(e.isolate);
        e.isolate->CancelTerminateExecution();
        while (v8::platform::PumpMessageLoop(v8_process().platform->inner(), e.isolate)) {
        }
      }
      e.check_isolate();
    }
  } after_run{e};
  v8::Locker locker(isolate);
  v8::Isolate::Scope isolate_scope(isolate);
  bool exited = false;
  v8::HandleScope handles(isolate);
  if (e.context.IsEmpty()) e.context.Reset(isolate, v8::Context::New(isolate));
  v8::Local<v8::Context> ctx = e.context.Get(isolate);
  v8::Context::Scope context_scope(ctx);
  v8::TryCatch tc(isolate);
  // No message object per throw: with one requested, V8 walks the stack to
  // locate every exception thrown, including each one the guest throws and
  // catches itself (wasm exception handling, a longjmp lowered to it). What a
  // run reports comes from the exception and its `stack`, which V8 records
  // when the error is made.
  tc.SetCaptureMessage(false);
  const InV8 v{e, isolate, ctx, tc};
  // The run's state leaves the slots when the run ends, however it ends.
  struct ClearSlots {
    Engine& e;
    ~ClearSlots() {
      for (auto& slot : e.slots) {
        slot->env = nullptr;
        slot->exited = nullptr;
        slot->memory.Reset();
      }
    }
  } clear_slots{e};

  std::vector<v8::Local<v8::WasmModuleObject>> compiled;
  for (Unit& u : units) {
    RunStats import_stats;
    auto mod = obtain_module(v, u, u.name.empty() ? stats : import_stats);
    if (!mod) return std::unexpected(mod.error());
    compiled.push_back(*mod);
  }
  RunGuard guard(isolate, options, env, exited);
  auto exports = instantiate(v, units, compiled, env, exited, guard);
  if (!exports) return exports.error();
  return call_entry(v, *exports, *e.slots[units.size() - 1], options, guard, stats, started);
}

}  // namespace shoal::worker
