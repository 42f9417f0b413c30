#!/bin/bash
# A Bacalhau user's script, unchanged but for the command's name: run a job,
# find it with `job list --output json | jq`, check its state with
# `job describe --output json | jq`, run it again from describe's YAML, and
# download the result with `job get`. Each step a Bacalhau user writes.
set -euo pipefail
: "${SHOAL_BIN:?}" "${SHOAL_TEST_WASM_DIR:?}"
command -v jq >/dev/null || { echo "jq is not installed (tools/setup installs it)"; exit 1; }
work=$(mktemp -d)
export SHOAL_HOME=$work/home
trap '"$SHOAL_BIN" shutdown >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
bacalhau() { "$SHOAL_BIN" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

cd "$work"
cp "$SHOAL_TEST_WASM_DIR/args_env.wasm" .
bacalhau wasm run args_env.wasm hello >/dev/null

# The script.
JOB_ID=$(bacalhau job list --output json | jq -r '.[0].ID')
[[ $JOB_ID == j-* ]] || fail "job list: no .[0].ID ($JOB_ID)"
STATE=$(bacalhau job describe "$JOB_ID" --output json | jq -r '.Job.State.StateType')
[ "$STATE" = Completed ] || fail "describe: .Job.State.StateType is '$STATE'"
EXIT_CODE=$(bacalhau job describe "$JOB_ID" --output json |
  jq -r '.Executions.Items[-1].RunOutput.ExitCode')
[ "$EXIT_CODE" = 0 ] || fail "describe: exit code '$EXIT_CODE'"
NEW_ID=$(bacalhau job describe "$JOB_ID" --output yaml | bacalhau job run --id-only -)
[[ $NEW_ID == j-* && $NEW_ID != "$JOB_ID" ]] || fail "re-run: '$NEW_ID'"
[ "$(bacalhau job list --output json | jq length)" = 2 ] || fail "re-run: not two jobs"
bacalhau job get "$NEW_ID" --output-dir results >/dev/null
grep -qx 'arg\[1\]=hello' results/stdout || fail "job get: stdout is '$(cat results/stdout)'"
[ "$(cat results/exitCode)" = 0 ] || fail "job get: exitCode"
echo "the Bacalhau script ran with shoal: $JOB_ID, again as $NEW_ID"
