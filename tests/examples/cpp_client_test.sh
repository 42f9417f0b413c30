#!/bin/bash
# examples/cpp_client.cpp (the C++ client library) against a private broker:
# one hello job per name, printed in order; then a module that is not wasm.
. "$(dirname "$0")/lib.sh"
: "${CPP_CLIENT:?}" "${HELLO_WASM:?}"

out=$("$CPP_CLIENT" "$HELLO_WASM" Ada Grace Linus 2>&1)
expect_eq "status" 0 $?
expect_eq "lines" 4 "$(printf '%s\n' "$out" | wc -l)"
expect_contains "first job" "Completed: Hello, Ada!" "$out"
expect_contains "order" "Hello, Ada!
j-" "$out"
expect_contains "last job" "Completed: Hello, Linus!" "$out"
expect_contains "summary" "3 jobs, 0 failed" "$out"
listed=$("$SHOAL_BIN" job list --labels example=cpp_client --limit 0 --output csv --hide-header | wc -l)
expect_eq "jobs listed with the label" 3 "$listed"

echo "not wasm" >"$SHOAL_HOME/bad.wasm"
out=$("$CPP_CLIENT" "$SHOAL_HOME/bad.wasm" Ada 2>&1)
expect_eq "status for a bad module" 2 $?
expect_contains "message for a bad module" "is not a WebAssembly module" "$out"

finish
