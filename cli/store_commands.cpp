// `shoal doctor` (checks the store, and with --repair removes what is
// damaged) and `shoal compact` (gives the room of removed jobs back to the
// disk). Both work on the store directly, not through the broker:
// `doctor` reads it beside a running broker (LMDB readers never wait for
// the writer); `--repair` and `compact` write it, and the store has one
// writer, so they take the broker lock and refuse while a broker runs.
#include <fmt/core.h>

#include "broker/store.h"
#include "cli/commands.h"
#include "host/state_dir.h"
#include "protocol/units.h"

namespace shoal::cli {
namespace {

// Exit status of `shoal doctor` when it found damage.
constexpr int kExitDamaged = 1;

// Takes the broker lock, or says why not (a broker runs).
std::expected<int, std::string> stopped_broker(const host::StateDir& dir, const char* command) {
  if (auto prepared = host::prepare(dir); !prepared) return std::unexpected(prepared.error());
  auto lock = host::lock_broker(dir);
  if (!lock)
    return std::unexpected(std::string(command) +
                           " writes the store, which has one writer, the broker: stop it with "
                           "`shoal shutdown` (running jobs are re-queued when it starts again) "
                           "and run " +
                           command + " again");
  return lock;
}

void print_damage(const broker::CheckReport& r) {
  for (const auto& d : r.damage) fmt::print("damaged: {}: {}\n", d.key, d.why);
}

uint64_t total(const broker::CheckReport& r) {
  uint64_t n = 0;
  for (const auto& [table, count] : r.records) n += count;
  return n;
}

int doctor(bool repair) {
  const host::StateDir dir = host::state_dir();
  if (!repair) {
    auto store = broker::Store::open_read_only(dir.store_dir);
    if (!store) {
      fmt::print(stderr, "shoal: {}\n", store.error());
      return kExitDamaged;
    }
    auto r = (*store)->check();
    if (!r) return fail(r.error());
    print_damage(*r);
    std::string legacy =
        r->legacy ? fmt::format(" ({} written by an older shoal, without checksums)", r->legacy)
                  : "";
    if (r->damage.empty()) {
      fmt::print("{}: {} records checked{}, no damage\n", dir.store_dir, total(*r), legacy);
      return 0;
    }
    fmt::print(
        "{}: {} records checked{}, {} damaged; `shoal doctor --repair` (with the broker "
        "stopped) removes them\n",
        dir.store_dir, total(*r), legacy, r->damage.size());
    return kExitDamaged;
  }
  auto lock = stopped_broker(dir, "shoal doctor --repair");
  if (!lock) return fail(lock.error());
  auto r = broker::Store::repair(dir.store_dir);
  if (!r) {
    fmt::print(stderr, "shoal: {}\n", r.error());
    return kExitDamaged;
  }
  for (const auto& d : r->damage) fmt::print("removed: {}: {}\n", d.key, d.why);
  auto store = broker::Store::open_read_only(dir.store_dir);
  if (!store) return fail(store.error());
  auto after = (*store)->check();
  if (!after) return fail(after.error());
  print_damage(*after);
  fmt::print("{}: {} damaged records removed; {} records checked, {} damaged\n", dir.store_dir,
             r->damage.size() - after->damage.size(), total(*after), after->damage.size());
  return after->damage.empty() ? 0 : kExitDamaged;
}

int compact() {
  const host::StateDir dir = host::state_dir();
  auto lock = stopped_broker(dir, "shoal compact");
  if (!lock) return fail(lock.error());
  auto sizes = broker::Store::compact(dir.store_dir);
  if (!sizes) return fail(sizes.error());
  fmt::print("{}/data.mdb: {} -> {}\n", dir.store_dir, units::format_bytes(sizes->before),
             units::format_bytes(sizes->after));
  return 0;
}

}  // namespace

void add_store_commands(CLI::App& app, int& status) {
  auto* doc = app.add_subcommand(
      "doctor",
      "Check every record of the store and list what is damaged (exit status 1 when something "
      "is); runs beside the broker");
  auto repair = std::make_shared<bool>(false);
  doc->add_flag("--repair", *repair,
                "Remove the damaged records (jobs with their logs and outputs, log chunks, "
                "output files, blobs, index entries); needs the broker stopped");
  doc->callback([&status, repair] { status = doctor(*repair); });

  auto* cmp = app.add_subcommand(
      "compact",
      "Give the room of removed jobs back to the disk: copy the store compacted and put the copy "
      "in its place (needs the broker stopped, and free room for the copy)");
  cmp->callback([&status] { status = compact(); });
}

}  // namespace shoal::cli
