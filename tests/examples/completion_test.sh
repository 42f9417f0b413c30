#!/bin/bash
# The completion script the build wrote with `shoal completion bash`, sourced
# in this bash: what _shoal offers for a few command lines, including job ids
# from a running (private) broker; and the manual page.
. "$(dirname "$0")/lib.sh"
: "${COMPLETION:?}" "${EXIT_CODE_WASM:?}"
# shellcheck source=/dev/null
. "$COMPLETION"

# complete_line WORD... (the first is the shoal it runs for job ids): the sorted completions with the cursor on the last word.
complete_line() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  _shoal
  [ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}

expect_eq "registered" "complete -F _shoal shoal" "$(complete -p shoal)"
expect_eq "the script is what shoal completion bash prints" "$(cat "$COMPLETION")" \
  "$("$SHOAL_BIN" completion bash)"
expect_eq "commands" \
  "agent compact completion config doctor exec help job keys node serve shutdown version wasm worker " \
  "$(complete_line shoal '')"
# Flags come from the command tree, so none is missing (--no-wait once was).
expect_eq "job get flags" "--no-wait " "$(complete_line shoal job get --no)"
expect_eq "a flag's value is skipped when finding the command" "--follow " \
  "$(complete_line shoal job logs --stream stdout --fo)"
expect_eq "keys subcommands" "add-client add-worker generate list remove " \
  "$(complete_line shoal keys '')"
expect_eq "worker flags" "--server-key --slots --state-dir " "$(complete_line shoal worker --s)"
expect_eq "a command's prefix" "job " "$(complete_line shoal j)"
expect_eq "job subcommands" \
  "delete describe executions get history list logs prune rerun run stop validate wait " \
  "$(complete_line shoal job '')"
expect_eq "wasm run flags" "--wait --wait-timeout-secs " "$(complete_line shoal wasm run --wa)"
expect_eq "flags after other flags" "--id-only --import-modules --input " \
  "$(complete_line shoal wasm run -e A=B --i)"
expect_eq "list formats" "csv json table yaml " "$(complete_line shoal job list --output '')"
expect_eq "describe formats" "human json yaml " "$(complete_line shoal job describe --output '')"
expect_eq "log streams" "stderr stdout " "$(complete_line shoal job logs --stream std)"
expect_eq "--wait=VALUE" "false " "$(complete_line shoal wasm run --wait = f)"
expect_eq "a free-form value" "" "$(complete_line shoal wasm run --name '')"

dir=$SHOAL_HOME/files
mkdir -p "$dir/sub"
touch "$dir/prog.wasm" "$dir/notes.txt"
expect_eq "modules" "$dir/prog.wasm $dir/sub " "$(complete_line shoal wasm run "$dir/")"
expect_eq "input files" "$dir/notes.txt $dir/prog.wasm $dir/sub " \
  "$(complete_line shoal wasm run -i "$dir/")"
touch "$dir/job.yaml" "$dir/job.json"
expect_eq "import modules" "$dir/prog.wasm $dir/sub " \
  "$(complete_line shoal wasm run -I "$dir/")"
expect_eq "job specs" "$dir/job.json $dir/job.yaml $dir/sub " \
  "$(complete_line shoal job run "$dir/")"
expect_eq "job run flags" "--dry-run " "$(complete_line shoal job run --dr)"

id=$("$SHOAL_BIN" wasm run --id-only "$EXIT_CODE_WASM" 0)
expect_eq "job id completion" "$id " "$(complete_line "$SHOAL_BIN" job describe "${id:0:6}")"
expect_eq "no ids that do not match" "" "$(complete_line "$SHOAL_BIN" job logs j-zzz)"
# Without a broker, nothing is offered and none is started.
expect_eq "no broker, no ids" "" "$(SHOAL_HOME=$SHOAL_HOME/none complete_line "$SHOAL_BIN" job get j-)"
expect_eq "no broker started" "no" "$([ -e "$SHOAL_HOME/none" ] && echo yes || echo no)"

# The manual page: generated from the same commands, and valid roff.
manual=$("$SHOAL_BIN" manual)
expect_contains "manual header" ".TH SHOAL 1" "$manual"
rendered=$(printf '%s\n' "$manual" | MANWIDTH=200 man -l - 2>&1)
expect_contains "manual lists job list" "shoal job list" "$rendered"
expect_contains "manual lists its flags" "--order-reversed" "$rendered"
expect_contains "manual lists completion" "shoal completion bash" "$rendered"
expect_eq "manual renders without warnings" "" "$(printf '%s\n' "$manual" | groff -man -Tutf8 -ww -z 2>&1)"

finish
