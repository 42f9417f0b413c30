#!/bin/bash
# examples/rust (textstats), built by Debian's cargo for wasm32-wasi, run as
# the Bacalhau guide runs Rust programs: arguments (one starting with a dash,
# after --), an environment variable, an input, a nested output directory,
# and its exit statuses, through shoal wasm run and shoal exec.
. "$(dirname "$0")/lib.sh"
if [ -z "${RUST_WASM:-}" ] || [ ! -f "$RUST_WASM" ]; then
  echo "SKIP: examples/rust was not built (Debian's rustc, cargo and libstd-rust-dev-wasm32 are missing; tools/setup installs them)"
  [ "${CI:-}" = true ] && exit 1
  exit 77
fi

printf 'one two three\nfour five\n' > "$WORK/a.txt"
printf 'six\n' > "$WORK/b.txt"
out=$("$SHOAL_BIN" wasm run "$RUST_WASM" -i "$WORK/a.txt:/inputs/a.txt" \
  -i "$WORK/b.txt:/inputs/b.txt" -e LABEL=both -- /inputs/a.txt /inputs/b.txt)
expect_eq "wasm run exit status" 0 "$?"
expect_eq "wasm run output" "       2        5       24 /inputs/a.txt
       1        1        4 /inputs/b.txt
       3        6       28 both" "$out"

id=$("$SHOAL_BIN" wasm run --id-only "$RUST_WASM" -i "$WORK/a.txt:/inputs/a.txt" -- -q /inputs/a.txt)
expect_eq "a dash argument after -- reaches the program" "       2        5       24 total" \
  "$("$SHOAL_BIN" job logs "$id")"
"$SHOAL_BIN" job get "$id" --output-dir "$WORK/got" >/dev/null
expect_eq "the nested output file" "       2        5       24 total" \
  "$(cat "$WORK/got/outputs/counts/total.txt")"

err=$("$SHOAL_BIN" wasm run "$RUST_WASM" -i "$WORK/a.txt:/inputs/a.txt" -- /inputs/missing.txt 2>&1 >/dev/null)
expect_eq "a missing file's exit status" 2 "$?"
expect_contains "a missing file is named" "textstats: /inputs/missing.txt: No such file or directory" "$err"
"$SHOAL_BIN" wasm run "$RUST_WASM" >/dev/null 2>&1
expect_eq "no file's exit status" 3 "$?"

mkdir -p "$WORK/out"
out=$("$SHOAL_BIN" exec --dir "$WORK::/data" --dir "$WORK/out::/outputs" "$RUST_WASM" -- -q /data/b.txt /data/a.txt 2>&1)
expect_eq "shoal exec" "       3        6       28 total" "$out"
expect_eq "shoal exec's output file" "       3        6       28 total" "$(cat "$WORK/out/counts/total.txt")"

finish
