#!/bin/bash
# examples/wordcount: run.sh and wordcount.py on four generated texts (one
# empty) must produce exactly the merged counts below.
. "$(dirname "$0")/lib.sh"
: "${PYTHON:?}" "${WORDCOUNT_DIR:?}" "${WASM_DIR:?}"
export SHOAL=$SHOAL_BIN WASM_DIR

work=$WORK
mkdir -p "$work/texts" "$work/empty"
printf 'The cat sat on the mat.\n' > "$work/texts/a.txt"
printf "the Dog, the CAT!\nDogs don't sit.\n" > "$work/texts/b.txt"
printf 'sat sat\tsat 42' > "$work/texts/c.txt"
: > "$work/texts/d.txt"
expected='42 1
cat 2
dog 1
dogs 1
don 1
mat 1
on 1
sat 4
sit 1
t 1
the 4'

out=$(cd "$work" && "$WORDCOUNT_DIR/run.sh" texts result 2>"$work/run.err")
expect_eq "run.sh status" 0 $?
expect_eq "run.sh prints the result's path" "result/counts.txt" "$out"
expect_eq "merged counts from run.sh" "$expected" "$(cat "$work/result/counts.txt" 2>&1)"
expect_eq "gathered count files" 4 "$(ls "$work/result/counts" | wc -l)"
expect_contains "map summary" "b.txt: /inputs/text.txt: 8 words, 7 distinct" "$(cat "$work/run.err")"
expect_contains "empty text" "d.txt: /inputs/text.txt: 0 words, 0 distinct" "$(cat "$work/run.err")"
expect_contains "merge summary" "merged: 18 words, 11 distinct" "$(cat "$work/run.err")"

out=$("$PYTHON" "$WORDCOUNT_DIR/wordcount.py" "$work/texts" 2>"$work/py.err")
expect_eq "wordcount.py status" 0 $?
expect_eq "merged counts from wordcount.py" "$expected" "$out"
expect_contains "wordcount.py summary" "4 texts, 11 distinct words" "$(cat "$work/py.err")"

"$WORDCOUNT_DIR/run.sh" "$work/empty" "$work/none" 2>"$work/empty.err"
expect_eq "run.sh status on an empty directory" 1 $?
expect_contains "run.sh message on an empty directory" "no files in $work/empty" \
  "$(cat "$work/empty.err")"

finish
