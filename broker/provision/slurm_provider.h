// Slurm as a Provider (provider.h): pilots are batch jobs submitted with
// `sbatch` (the script on its stdin), listed with `squeue`, ended with
// `scancel`, each run as a child process with an argument vector. Every
// pilot of one broker has the job name `shoal-pilot-<broker id>` and the
// comment `shoal-pilot=<pilot name>`, by which a restarted broker finds
// them again. Errors name the command and carry Slurm's stderr. Used by
// one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "broker/provision/provider.h"

namespace shoal::broker::provision {

struct SlurmOptions {
  std::string broker_id;  // names this broker's pilots
  std::string bin_dir;    // where sbatch, squeue, scancel are; empty: $PATH
};

std::unique_ptr<Provider> slurm_provider(SlurmOptions options);

// `squeue -o '%i|%T|%N|%k|%r'` lines into statuses; lines that are not
// this format, or whose comment is not `shoal-pilot=NAME`, are skipped.
std::vector<PilotStatus> parse_squeue(const std::string& text);

// sbatch --parsable's answer: "ID" or "ID;CLUSTER"; the id, or nothing.
std::string parse_sbatch(const std::string& text);

}  // namespace shoal::broker::provision
