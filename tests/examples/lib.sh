# Shared by the example tests: a private state directory with its own broker,
# and beside it a work directory for the test's files (a state directory is
# never an input: docs/remote.md), shut down and removed when the test
# exits; and assertions that fail the test with a message.
set -u
: "${SHOAL_BIN:?}"
test_root=$(mktemp -d "${TMPDIR:-/tmp}/shoal-example-test.XXXXXX")
export SHOAL_HOME=$test_root/state
WORK=$test_root/work
mkdir -p "$SHOAL_HOME" "$WORK"
cleanup() {
  "$SHOAL_BIN" shutdown >/dev/null 2>&1
  rm -rf "$test_root"
}
trap cleanup EXIT
# Any job command starts the broker on demand and returns once it answers.
"$SHOAL_BIN" job list >/dev/null || { echo "FAIL: could not start a broker"; exit 1; }

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [ "$2" != "$3" ]; then
    fail "$1: expected [$2], got [$3]"
  fi
}
# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
  case "$3" in
    *"$2"*) ;;
    *) fail "$1: [$2] not in output:
$3" ;;
  esac
}
finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures failures"
    exit 1
  fi
  echo "all passed"
  exit 0
}
