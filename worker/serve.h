// `shoal-worker serve`: one worker of the broker's pool. Connects a DEALER
// to the broker, says it is ready, runs one job at a time on its main thread
// while a watch thread keeps heartbeats flowing both ways and forwards the
// job's output as it is written, and reports how the job ended.
#pragma once

namespace shoal::worker {

// argv: serve --endpoint ENDPOINT --name NAME. Returns the exit status.
int serve_command(int argc, char** argv);

}  // namespace shoal::worker
