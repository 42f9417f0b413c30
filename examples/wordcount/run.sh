#!/bin/bash
# The wordcount example as a batch: one wordcount job per text file (the map
# step, all submitted at once and run in parallel by the broker's workers),
# then one merge job over the gathered count files (the fan-in).
#
#   examples/wordcount/run.sh TEXT_DIR [RESULT_DIR]
#
# Every regular file in TEXT_DIR is a text. RESULT_DIR (default
# ./wordcount-result) gets parts/N/ (what `shoal job get` downloaded for
# each text), counts/N.txt (the gathered count files), merged/ (the merge
# job's download) and counts.txt, the merged counts: one "WORD COUNT" line
# per word, sorted by word.
#
# SHOAL is the shoal command (default: build/shoal in this repository, else
# shoal on PATH); WASM_DIR where wordcount.wasm and merge.wasm are (default:
# build/tests/examples, where the build compiles them).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 TEXT_DIR [RESULT_DIR]" >&2
  exit 2
fi
texts=$1
result=${2:-wordcount-result}
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${SHOAL:-}" ]; then
  if [ -x "$repo/build/shoal" ]; then SHOAL=$repo/build/shoal; else SHOAL=shoal; fi
fi
wasm=${WASM_DIR:-$repo/build/tests/examples}

mkdir -p "$result/parts" "$result/counts"

# Map: one job per text, submitted without waiting.
ids=()
names=()
for file in "$texts"/*; do
  [ -f "$file" ] || continue
  id=$("$SHOAL" wasm run --wait=false --id-only --name "wordcount $(basename "$file")" \
    "$wasm/wordcount.wasm" -i "$file:/inputs/text.txt")
  ids+=("$id")
  names+=("$(basename "$file")")
done
if [ ${#ids[@]} -eq 0 ]; then
  echo "$0: no files in $texts" >&2
  exit 1
fi
echo "submitted ${#ids[@]} wordcount jobs" >&2

# The exit status of `shoal job wait` is the worst of the jobs'.
if ! "$SHOAL" job wait "${ids[@]}"; then
  for id in "${ids[@]}"; do
    "$SHOAL" job describe "$id" | grep -m1 '^Message' >&2 || true
  done
  echo "$0: some wordcount jobs failed" >&2
  exit 1
fi

# Gather each job's counts.
for i in "${!ids[@]}"; do
  "$SHOAL" job get "${ids[$i]}" --output-dir "$result/parts/$i" >/dev/null
  cp "$result/parts/$i/outputs/counts.txt" "$result/counts/$i.txt"
  echo "${names[$i]}: $(cat "$result/parts/$i/stdout")" >&2
done

# Fan-in: one merge job over the gathered directory.
merge=$("$SHOAL" wasm run --id-only --name "wordcount merge" "$wasm/merge.wasm" \
  -i "$(cd "$result/counts" && pwd):/inputs")
"$SHOAL" job get "$merge" --output-dir "$result/merged" >/dev/null
echo "merged: $(cat "$result/merged/stdout")" >&2
cp "$result/merged/outputs/counts.txt" "$result/counts.txt"
echo "$result/counts.txt"
