#!/bin/bash
# examples/python_client.py against a private broker: 100 jobs of exit_code
# with different arguments, each expected to exit with its own index; then a
# run whose expectations are wrong must exit 1 and name the jobs.
. "$(dirname "$0")/lib.sh"
: "${PYTHON:?}" "${PYTHON_CLIENT:?}" "${EXIT_CODE_WASM:?}"

out=$("$PYTHON" "$PYTHON_CLIENT" --timeout 30 --expect-exit '{i}' "$EXIT_CODE_WASM" '{i}' 2>&1)
expect_eq "status of 100 jobs as expected" 0 $?
expect_contains "submission" "submitted 100 jobs" "$out"
expect_contains "live logs of job 0" "live:
exiting with 0
--- job 0 ended Completed, exit code 0" "$out"
expect_contains "summary" "100 jobs: 100 Completed
100 as expected, 0 not" "$out"
# The broker saw them: 100 jobs with the client's label.
listed=$("$SHOAL_BIN" job list --labels client=python --limit 0 --output csv --hide-header | wc -l)
expect_eq "jobs listed with the label" 100 "$listed"

out=$("$PYTHON" "$PYTHON_CLIENT" --timeout 30 --jobs 4 --follow 2 "$EXIT_CODE_WASM" '{i}' 2>&1)
expect_eq "status when jobs exit with other codes" 1 $?
expect_contains "followed job" "--- logs of job 2" "$out"
expect_contains "followed output" "exiting with 2" "$out"
expect_contains "unexpected job named" "job 3 (" "$out"
expect_contains "unexpected reason" "Completed, exit code 3, expected Completed with 0" "$out"
expect_contains "count" "1 as expected, 3 not" "$out"

out=$(SHOAL_HOME="$SHOAL_HOME/nowhere" "$PYTHON" "$PYTHON_CLIENT" "$EXIT_CODE_WASM" 2>&1)
expect_eq "status without a broker" 2 $?
expect_contains "message without a broker" "no broker is running for $SHOAL_HOME/nowhere" "$out"

finish
