#include "broker/provision/slurm_provider.h"

#include <sstream>

#include "broker/provision/command.h"

namespace shoal::broker::provision {

namespace {

constexpr std::string_view kCommentPrefix = "shoal-pilot=";

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t start = s.find_first_not_of(" \n");
  return start == std::string::npos ? "" : s.substr(start);
}

// "sbatch ...: exit status 1: sbatch: error: ...", Slurm's stderr on one line.
std::string failure(const std::vector<std::string>& argv, const CommandResult& r) {
  std::string err = trim(r.err.empty() ? r.out : r.err);
  for (auto& c : err)
    if (c == '\n') c = ' ';
  return argv.front() + " failed (exit status " + std::to_string(r.status) +
         "): " + (err.empty() ? "(no message)" : err);
}

class SlurmProvider final : public Provider {
 public:
  explicit SlurmProvider(SlurmOptions o) : o_(std::move(o)) {}
  std::string engine() const override { return "slurm"; }

  std::expected<std::string, SubmitError> submit(const PilotRequest& p) override {
    std::vector<std::string> argv = {bin("sbatch"),
                                     "--parsable",
                                     "--job-name=" + job_name(),
                                     "--comment=" + std::string(kCommentPrefix) + p.name,
                                     "--partition=" + p.placement.partition,
                                     "--nodes=1",
                                     "--ntasks=1",
                                     "--cpus-per-task=" + std::to_string(p.slots),
                                     "--output=" + p.log_file};
    if (!p.placement.feature.empty()) argv.push_back("--constraint=" + p.placement.feature);
    if (p.time_limit_minutes > 0) argv.push_back("--time=" + std::to_string(p.time_limit_minutes));
    argv.insert(argv.end(), p.extra_options.begin(), p.extra_options.end());
    auto r = run_command(argv, p.script);
    if (!r) return std::unexpected(SubmitError{r.error(), false});
    std::string id = r->status == 0 ? parse_sbatch(r->out) : "";
    if (!id.empty()) return id;
    std::string message =
        r->status == 0 ? "sbatch answered no job id: " + trim(r->out) : failure(argv, *r);
    return std::unexpected(SubmitError{message, refused_by_slurm(*r)});
  }

  std::expected<void, std::string> cancel(const std::string& job_id) override {
    std::vector<std::string> argv = {bin("scancel"), job_id};
    auto r = run_command(argv);
    if (!r) return std::unexpected(r.error());
    // A job already gone: "Invalid job id specified"; nothing to end.
    if (r->status != 0 && r->err.find("Invalid job id") == std::string::npos)
      return std::unexpected(failure(argv, *r));
    return {};
  }

  std::expected<std::vector<PilotStatus>, std::string> list() override {
    std::vector<std::string> argv = {bin("squeue"), "--noheader", "--name=" + job_name(),
                                     "--format=%i|%T|%N|%k|%r"};
    auto r = run_command(argv);
    if (!r) return std::unexpected(r.error());
    if (r->status != 0) return std::unexpected(failure(argv, *r));
    return parse_squeue(r->out);
  }

 private:
  std::string job_name() const { return "shoal-pilot-" + o_.broker_id; }
  std::string bin(const char* name) const {
    return o_.bin_dir.empty() ? name : o_.bin_dir + "/" + name;
  }
  // Slurm's controller answered and refused this job (a partition or
  // feature it lacks, a limit): asking again would be refused again.
  static bool refused_by_slurm(const CommandResult& r) {
    if (r.status == 0) return false;
    for (const char* transient : {"Unable to contact", "Socket timed out", "Zero Bytes",
                                  "Communication connection failure", "try again"})
      if (r.err.find(transient) != std::string::npos) return false;
    return r.err.find("Batch job submission failed") != std::string::npos ||
           r.err.find("invalid partition") != std::string::npos;
  }
  SlurmOptions o_;
};

}  // namespace

std::string parse_sbatch(const std::string& text) {
  std::string id = trim(text);
  id = id.substr(0, id.find(';'));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) return "";
  return id;
}

std::vector<PilotStatus> parse_squeue(const std::string& text) {
  std::vector<PilotStatus> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    size_t start = 0;
    for (int i = 0; i < 4; ++i) {
      size_t bar = line.find('|', start);
      if (bar == std::string::npos) break;
      f.push_back(line.substr(start, bar - start));
      start = bar + 1;
    }
    if (f.size() != 4) continue;
    f.push_back(trim(line.substr(start)));  // the reason: the rest of the line
    PilotStatus s;
    s.job_id = trim(f[0]);
    s.state = trim(f[1]);
    s.node = trim(f[2]);
    std::string comment = trim(f[3]);
    s.reason = f[4] == "None" ? "" : f[4];
    if (s.job_id.empty() || s.job_id.find_first_not_of("0123456789_") != std::string::npos ||
        !comment.starts_with(kCommentPrefix))
      continue;
    s.name = comment.substr(kCommentPrefix.size());
    if (s.node == "(null)" || s.node.starts_with("(")) s.node.clear();
    out.push_back(std::move(s));
  }
  return out;
}

std::unique_ptr<Provider> slurm_provider(SlurmOptions options) {
  return std::make_unique<SlurmProvider>(std::move(options));
}

}  // namespace shoal::broker::provision
