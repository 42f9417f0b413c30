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
#include "worker/module_info.h"
#include "worker/v8_platform.h"
#include "worker/watchdog.h"

namespace shoal::worker {
namespace {

using Clock = std::chrono::steady_clock;

// Eager tier-up: every function is compiled by Liftoff first and then by
// TurboFan in the background, so that a module's code is complete (and can
// be serialized into the code cache) soon after its first start, and hot
// loops run optimised code without waiting for V8 to find them. See
// docs/benchmarks.md for the measurements behind this choice.
constexpr char kV8Flags[] = "--no-wasm-dynamic-tiering";

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
  // Only the first params.size() slots are read by the handler: no zeroing
  // (it was a third of this function's time).
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

// Compiled modules of this process, by cache key and memory limit. V8 shares
// a compiled module's code between isolates (FromCompiledModule), so a later
// job pays neither validation nor compilation. Bounded: the oldest entries go.
class ModuleCache {
 public:
  std::optional<Prepared> get(const std::string& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  void put(const std::string& key, Prepared prepared) {
    if (entries_.contains(key)) return;
    if (order_.size() >= kMaxEntries) {
      entries_.erase(order_.front());
      order_.erase(order_.begin());
    }
    entries_.emplace(key, std::move(prepared));
    order_.push_back(key);
  }

 private:
  static constexpr size_t kMaxEntries = 32;
  std::map<std::string, Prepared> entries_;
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
  // fresh context per run would only cost its creation (half of a trivial
  // run's time).
  v8::Global<v8::Context> context;
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator;
  unsigned runs = 0;     // on this isolate
  bool collect = false;  // a finished run left much memory behind
  ModuleCache modules;
  std::unique_ptr<CodeCache> code_cache;
  // Compiled here, not yet in the code cache: code-cache key -> module.
  std::map<std::string, v8::CompiledWasmModule> unsaved;
  std::function<void(const std::string&)> log;

  // The isolate's own objects for what it ran before, so that a later run
  // makes neither the module object of a kept module nor its WASI import
  // functions again (together a tenth of a trivial run): module objects by
  // module key; one Instance slot per unit position (import modules first,
  // the main module last), whose functions find the run's state through it.
  struct HostFunction {
    std::unique_ptr<Binding> binding;
    v8::Global<v8::Function> function;
  };
  std::map<std::string, v8::Global<v8::WasmModuleObject>> module_objects;
  std::vector<std::unique_ptr<Instance>> slots;
  std::map<std::pair<size_t, const wasi::Function*>, HostFunction> host_functions;
  static constexpr size_t kMaxModuleObjects = 32;

  // With the isolate locked.
  void forget_objects() {
    module_objects.clear();
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

std::string code_cache_key(const std::string& module_key) {
  V8Process& p = v8_process();
  return module_key + "|v8 " + v8::V8::GetVersion() + "|" + p.flags +
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
  for (auto& [key, compiled] : e.unsaved) {
    v8::OwnedBuffer code = compiled.Serialize();
    if (code.size == 0) continue;  // V8 had nothing to serialize: compiled again next time
    auto stored = e.code_cache->put(key, {code.buffer.get(), code.size}, complete);
    if (!stored) e.say(stored.error());
  }
  e.unsaved.clear();
  return !e.unsaved.empty();
}

std::expected<uint32_t, RunError> run_wasi_command(std::span<const uint8_t> module,
                                                   wasi::Environment& env,
                                                   const RunOptions& options) {
  using Kind = RunError::Kind;
  const auto started = Clock::now();
  RunStats scratch_stats;
  RunStats& stats = options.stats ? *options.stats : scratch_stats;
  stats = RunStats{};
  Engine& e = engine();
  std::unique_lock engine_lock(e.mu);

  // Every module read and linked on paper first, so that a module we cannot
  // run is refused, naming the import at fault, before V8 sees anything.
  // A module this process prepared before is neither read nor rewritten
  // again.
  struct Unit {
    std::string name;  // "" for the main module
    std::span<const uint8_t> bytes;
    std::vector<uint8_t> limited;
    std::string module_key;  // cache key and memory limit; "" to keep nothing
    std::optional<Prepared> prepared;
    bool from_memory = false;
    std::vector<const wasi::Function*> wasi_imports;
  };
  auto key_of = [&](const std::string& cache_key) {
    return cache_key.empty() ? std::string()
                             : cache_key + ":" + std::to_string(options.memory_limit.value_or(0));
  };
  std::vector<Unit> units;
  for (const ImportModule& m : options.import_modules)
    units.push_back({m.name, m.bytes, {}, key_of(m.cache_key), {}, false, {}});
  units.push_back({"", module, {}, key_of(options.cache_key), {}, false, {}});
  std::map<std::string, const ModuleInfo*> provided;
  for (Unit& u : units) {
    const std::string who = u.name.empty() ? "" : "import module " + u.name + ": ";
    if (!u.module_key.empty())
      if (auto kept = e.modules.get(u.module_key)) u.prepared.emplace(*kept);
    u.from_memory = u.prepared.has_value();
    if (!u.prepared) {
      auto info = inspect_module(u.bytes);
      if (!info) return std::unexpected(RunError{Kind::invalid_module, who + info.error()});
      u.prepared.emplace();
      u.prepared->info = std::move(*info);
      if (options.memory_limit) {
        auto rewritten = limit_memory(u.bytes, *options.memory_limit);
        if (!rewritten)
          return std::unexpected(RunError{Kind::memory_limit, who + rewritten.error()});
        u.limited = std::move(*rewritten);
        u.bytes = u.limited;
      }
    }
    auto wasi_imports = resolve_imports(u.prepared->info, provided);
    if (!wasi_imports) return std::unexpected(RunError{Kind::link, who + wasi_imports.error()});
    u.wasi_imports = std::move(*wasi_imports);
    if (!u.name.empty()) provided[u.name] = &u.prepared->info;
  }
  Unit& main_unit = units.back();
  bool has_entry = false;
  for (const Export& ex : main_unit.prepared->info.exports)
    if (ex.name == options.entry_point && ex.kind == ExternKind::function) has_entry = true;
  if (!has_entry)
    return std::unexpected(
        RunError{Kind::no_entry,
                 "the module exports no function '" + options.entry_point +
                     "' (a WASI command exports _start; choose another with --entry-point)"});

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

  auto keep_object = [&](const std::string& key, v8::Local<v8::WasmModuleObject> mod) {
    if (key.empty()) return;
    if (e.module_objects.size() >= Engine::kMaxModuleObjects) e.module_objects.clear();
    e.module_objects[key].Reset(isolate, mod);
  };
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

  // The compiled module: kept by this process, from the code cache, or
  // compiled now (and then kept, and saved to the code cache later).
  auto obtain = [&](Unit& u,
                    RunStats& st) -> std::expected<v8::Local<v8::WasmModuleObject>, RunError> {
    const std::string who = u.name.empty() ? "" : "import module " + u.name + ": ";
    v8::Local<v8::WasmModuleObject> mod;
    if (u.from_memory) {
      st.source = RunStats::Source::worker_memory;
      if (auto kept = e.module_objects.find(u.module_key); kept != e.module_objects.end())
        return kept->second.Get(isolate);
      if (!v8::WasmModuleObject::FromCompiledModule(isolate, *u.prepared->compiled).ToLocal(&mod))
        return std::unexpected(
            RunError{Kind::invalid_module, who + exception_text(isolate, ctx, tc)});
      keep_object(u.module_key, mod);
      return mod;
    }
    const std::string cache_key = u.module_key.empty() ? "" : code_cache_key(u.module_key);
    if (e.code_cache && !cache_key.empty()) {
      {
        // The entry's bytes are read in place; the read ends with this block.
        auto entry = e.code_cache->find(cache_key);
        if (entry) {
          if (deserialize(isolate, ctx, u.bytes, entry->bytes(), st.cache_note).ToLocal(&mod)) {
            st.source = RunStats::Source::code_cache;
            st.cache_partial = !entry->complete();
            if (st.cache_partial) e.unsaved.emplace(cache_key, mod->GetCompiledModule());
          }
          tc.Reset();
        } else if (entry.error() == CodeCache::Miss::corrupt) {
          st.cache_note = "the cached code is corrupt (checksum mismatch)";
        } else if (entry.error() == CodeCache::Miss::failed) {
          st.cache_note = e.code_cache->error();
        }
      }
      if (!st.cache_note.empty()) {
        e.say("code cache: entry " + cache_key.substr(0, 16) + "...: " + st.cache_note +
              "; removed it");
        e.code_cache->remove(cache_key);
      }
    }
    if (mod.IsEmpty()) {
      auto compiled = v8::WasmModuleObject::Compile(
          isolate, v8::MemorySpan<const uint8_t>(u.bytes.data(), u.bytes.size()));
      if (!compiled.ToLocal(&mod))
        return std::unexpected(
            RunError{Kind::invalid_module, who + exception_text(isolate, ctx, tc)});
      st.source = RunStats::Source::compiled;
      if (e.code_cache && !cache_key.empty())
        e.unsaved.emplace(cache_key, mod->GetCompiledModule());
    }
    if (!u.module_key.empty()) {
      u.prepared->compiled.emplace(mod->GetCompiledModule());
      e.modules.put(u.module_key, *u.prepared);
      keep_object(u.module_key, mod);
    }
    return mod;
  };
  std::vector<v8::Local<v8::WasmModuleObject>> compiled;
  for (Unit& u : units) {
    RunStats import_stats;
    auto mod = obtain(u, u.name.empty() ? stats : import_stats);
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
  // Detached before AfterRun: a stop request after that cannot terminate
  // the isolate, so its cancellation clears every request of this run.
  struct Detach {
    RunControl* c;
    ~Detach() {
      if (c) c->detach();
    }
  } detach{options.control};
  // The timeout and stop requests cover instantiation too: a module's start
  // function runs inside it, before the entry point, and may never return.
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
    if (e.slots.size() <= i) e.slots.push_back(std::make_unique<Instance>());
    Instance& instance = *e.slots[i];
    instance.env = &env;
    instance.exited = &exited;
    v8::Local<v8::Object> wasi_ns = v8::Object::New(isolate);
    for (const wasi::Function* f : u.wasi_imports) {
      Engine::HostFunction& host = e.host_functions[{i, f}];
      if (host.function.IsEmpty()) {
        host.binding = std::make_unique<Binding>(Binding{&instance, f});
        auto fn = v8::Function::New(ctx, call_host, v8::External::New(isolate, host.binding.get()),
                                    static_cast<int>(f->params.size()))
                      .ToLocalChecked();
        host.function.Reset(isolate, fn);
      }
      wasi_ns->Set(ctx, v8_string(f->name), host.function.Get(isolate)).Check();
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

  Instance& main_instance = *e.slots[units.size() - 1];
  auto entry = get(ctx, main_exports, options.entry_point);
  if (!entry->IsFunction())
    return std::unexpected(
        RunError{Kind::no_entry, "export '" + options.entry_point + "' is not a function"});
  stats.prepare = Clock::now() - started;
  v8::MaybeLocal<v8::Value> result =
      entry.As<v8::Function>()->Call(ctx, v8::Undefined(isolate), 0, nullptr);
  if (!main_instance.memory.IsEmpty() &&
      main_instance.memory.Get(isolate)->Buffer()->ByteLength() >= Engine::kCollectAfterBytes)
    e.collect = true;
  if (auto r = interrupted()) return *r;
  if (result.IsEmpty()) {
    std::string message = exception_text(isolate, ctx, tc);
    if (options.memory_limit && !main_instance.memory.IsEmpty()) {
      uint64_t used = main_instance.memory.Get(isolate)->Buffer()->ByteLength();
      if (used * 4 >= *options.memory_limit * 3)
        message += " (memory at " + units::format_bytes(used) + " of its " +
                   units::format_bytes(*options.memory_limit) +
                   " limit: the program probably ran out of memory)";
    }
    return std::unexpected(RunError{Kind::trap, message});
  }
  return 0u;
}

}  // namespace shoal::worker
