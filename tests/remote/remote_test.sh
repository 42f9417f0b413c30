#!/bin/bash
# Remote workers and clients over TCP with CURVE, on one machine: a broker
# namespace and two worker namespaces (and one for clients), each joined to
# the broker's by a veth pair. Needs root (ip netns); skips otherwise.
#
#   10.211.1.1 (broker) <-> 10.211.1.2 (pool w1, label zone=a)
#   10.211.2.1 (broker) <-> 10.211.2.2 (pool w2, label zone=b)
#   10.211.3.1 (broker) <-> 10.211.3.2 (clients)
set -u
: "${SHOAL_BIN:?}" "${WASM_DIR:?}"
SKIP=77
[ "${CI:-}" = true ] && SKIP=1  # in CI (as root) a test that cannot run fails
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: the remote tests create network namespaces and need root"
  exit $SKIP
fi

P=$$
NB=shoal-b-$P
NW1=shoal-w1-$P
NW2=shoal-w2-$P
NC=shoal-c-$P
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shoal-remote-test.XXXXXX")
B_HOME=$WORK/broker W1_HOME=$WORK/w1 W2_HOME=$WORK/w2 C_HOME=$WORK/client
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  for ns in $NB $NW1 $NW2 $NC; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  done
  sleep 0.2
  for ns in $NB $NW1 $NW2 $NC; do ip netns del "$ns" 2>/dev/null; done
  if [ "${failures:-0}" -ne 0 ]; then
    # On stderr, last: the test runner shows the end of a long log only.
    {
      echo "--- broker log"; tail -n 40 "$B_HOME/broker.log" 2>/dev/null
      echo "--- w1 log"; tail -n 10 "$W1_HOME/worker.log" 2>/dev/null
      echo "--- w2 log"; tail -n 10 "$W2_HOME/worker.log" 2>/dev/null
      echo "--- failures"; printf '%s\n' "${FAILED[@]}"
    } >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

failures=0
FAILED=()
fail() {
  echo "FAIL: $*"
  FAILED+=("FAIL: $*")
  failures=$((failures + 1))
}
expect_eq() {
  if [ "$2" != "$3" ]; then fail "$1: expected [$2], got [$3]"; fi
}
expect_contains() {
  case "$3" in
    *"$2"*) ;;
    *) fail "$1: [$2] not in [$3]" ;;
  esac
}
json() {  # json EXPR < document: a Python expression over `j`; "(not JSON)" for
  # anything else, in one line, so that a failing run's log keeps its FAIL
  # lines and the broker's log within the lines the test runner shows
  /usr/bin/python3 -c "
import json, sys
try:
    j = json.load(sys.stdin)
except ValueError:
    print('(not JSON)')
    sys.exit(1)
print($1)"
}
wait_for() {  # wait_for SECONDS COMMAND...: until the command succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

# --- the network
if ! ip netns add $NB 2>/dev/null; then
  echo "SKIP: ip netns does not work here"
  exit $SKIP
fi
ip netns add $NW1 && ip netns add $NW2 && ip netns add $NC || exit 1
link() {  # link N NAMESPACE: a veth pair bN-P (broker side) / pN-P
  ip link add b$1-$P type veth peer name p$1-$P || exit 1
  ip link set b$1-$P netns $NB
  ip link set p$1-$P netns $2
  ip -n $NB addr add 10.211.$1.1/24 dev b$1-$P
  ip -n $2 addr add 10.211.$1.2/24 dev p$1-$P
  ip -n $NB link set b$1-$P up
  ip -n $2 link set p$1-$P up
  ip -n $2 link set lo up
}
ip -n $NB link set lo up
link 1 $NW1
link 2 $NW2
link 3 $NC

# --- keys
at() {  # at HOME NAMESPACE COMMAND...: shoal with that state directory, in that namespace
  local home=$1 ns=$2
  shift 2
  ip netns exec "$ns" env SHOAL_HOME="$home" "$SHOAL_BIN" "$@"
}
SERVER_KEY=$(at "$B_HOME" $NB keys)
W1_KEY=$(at "$W1_HOME" $NW1 keys generate)
W2_KEY=$(at "$W2_HOME" $NW2 keys generate)
C_KEY=$(at "$C_HOME" $NC keys generate)
expect_eq "server key length" 40 "${#SERVER_KEY}"
at "$B_HOME" $NB keys add-worker "$W1_KEY" --name w1 >/dev/null
at "$B_HOME" $NB keys add-worker "$W2_KEY" --name w2 >/dev/null
at "$B_HOME" $NB keys add-client "$C_KEY" --name laptop >/dev/null
expect_eq "keys list" "client  laptop               $C_KEY
worker  w1                   $W1_KEY
worker  w2                   $W2_KEY" "$(at "$B_HOME" $NB keys list)"

# --- the broker (no local workers; clients over TCP may read $WORK/data) and two pools
mkdir -p "$WORK/data"
ip netns exec $NB env SHOAL_HOME="$B_HOME" "$SHOAL_BIN" serve --workers 0 --quiet \
  --listen tcp://0.0.0.0:7700 --data-root "$WORK/data" >/dev/null 2>&1 &
PIDS+=($!)
disown
start_pool() {  # start_pool HOME NAMESPACE LINK LABEL: sets POOL_PID
  ip netns exec "$2" env SHOAL_HOME="$1" "$SHOAL_BIN" worker --connect "tcp://10.211.$3.1:7701" \
    --server-key "$SERVER_KEY" --slots 1 --label "$4" >/dev/null 2>&1 &
  POOL_PID=$!
  disown
  PIDS+=($POOL_PID)
}
start_pool "$W1_HOME" $NW1 1 zone=a
W1_POOL=$POOL_PID
start_pool "$W2_HOME" $NW2 2 zone=b
W2_POOL=$POOL_PID
HOST=$(hostname)
W1_NAME=$HOST-$W1_POOL-1
W2_NAME=$HOST-$W2_POOL-1
joined() { grep -q "remote worker $1 joined" "$B_HOME/broker.log" 2>/dev/null; }
wait_for 20 joined "$W1_NAME" || fail "pool w1 did not join"
wait_for 20 joined "$W2_NAME" || fail "pool w2 did not join"

client() {  # shoal on the client host
  ip netns exec $NC env SHOAL_HOME="$C_HOME" SHOAL_CONNECT=tcp://10.211.3.1:7700 \
    SHOAL_SERVER_KEY="$SERVER_KEY" "$SHOAL_BIN" "$@"
}

# --- node list: each remote pool by its host, with its labels and slots
# (the broker has no local workers)
expect_eq "node list" "$(printf '%s\n' "$HOST-$W1_POOL,remote,connected,zone=a,1,0" \
  "$HOST-$W2_POOL,remote,connected,zone=b,1,0" | sort)" \
  "$(client node list --output csv --hide-header | cut -d, -f1-6 | sort)"
expect_eq "node describe" "zone: \"b\"" \
  "$(client node describe "$HOST-$W2_POOL" | grep -o 'zone: "b"')"
describe() { client job describe "$1" --output json; }  # Bacalhau's model
state_of() { describe "$1" | json 'j["Job"]["State"]["StateType"]'; }
# The worker of a job's latest execution, and its executions' states
# (shoal's executions table: ID,ATTEMPT,WORKER,STATE,...).
executions_csv() { client job executions "$1" --output csv --hide-header; }
worker_of() { executions_csv "$1" | tail -n 1 | cut -d, -f3; }
execution_states() { executions_csv "$1" | cut -d, -f4 | paste -sd' '; }
in_state() { [ "$(state_of "$1")" = "$2" ]; }

# --- 1. local-file and URL inputs on a remote worker; outputs come back byte-identical
mkdir -p "$WORK/data/tree/sub" "$WORK/www" "$WORK/got"
head -c 300000 /dev/urandom >"$WORK/data/blob.bin"
printf 'nested\n' >"$WORK/data/tree/sub/leaf.txt"
head -c 70000 /dev/urandom >"$WORK/www/page.bin"
ip netns exec $NB /usr/bin/python3 -m http.server 7780 --bind 127.0.0.1 \
  --directory "$WORK/www" >/dev/null 2>&1 &
PIDS+=($!)
disown
wait_for 10 ip netns exec $NB /usr/bin/python3 -c \
  "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7780/page.bin')" ||
  fail "the HTTP server did not start"
out=$(client wasm run --id-only --wait --constraints zone=a \
  -i "$WORK/data/blob.bin:/inputs/blob.bin" -i "$WORK/data/tree:/tree" \
  -i "http://127.0.0.1:7780/page.bin:/web/page.bin" \
  "$WASM_DIR/relay.wasm" -- 0 /inputs/blob.bin /tree/sub/leaf.txt /web/page.bin)
expect_eq "inputs job exit status" 0 $?
ID1=$out
expect_eq "inputs job logs" "start
copied blob.bin 300000
copied leaf.txt 7
copied page.bin 70000
done" "$(client job logs "$ID1")"
expect_eq "inputs job ran on w1" "$W1_NAME" "$(worker_of "$ID1")"
client job get "$ID1" --output-dir "$WORK/got" >/dev/null || fail "job get"
cmp -s "$WORK/data/blob.bin" "$WORK/got/outputs/blob.bin" || fail "blob.bin differs"
cmp -s "$WORK/www/page.bin" "$WORK/got/outputs/page.bin" || fail "page.bin differs"
expect_eq "leaf.txt" "nested" "$(cat "$WORK/got/outputs/leaf.txt" 2>&1)"
HASH=$(sha256sum "$WASM_DIR/relay.wasm" | cut -d' ' -f1)
[ -f "$W1_HOME/worker/modules/$HASH.wasm" ] || fail "the module is not in w1's cache"
cmp -s "$WASM_DIR/relay.wasm" "$W1_HOME/worker/modules/$HASH.wasm" || fail "w1's cached module differs"

# stdin and an inline input travel inside the run (the worker has none of the
# broker's files).
printf 'from stdin\n' >"$WORK/stdin.txt"
expect_eq "remote stdin" "FROM STDIN" \
  "$(client wasm run --constraints zone=a --stdin "$WORK/stdin.txt" "$WASM_DIR/stdin_echo.wasm")"
inline_spec='{"Type": "batch", "Constraints": [{"Key": "zone", "Operator": "=", "Values": ["a"]}],
  "Tasks": [{"Engine": {"Type": "wasm", "Params": {"EntryModule": "/app/cat.wasm",
    "Parameters": ["/inputs/inline.txt"]}},
  "InputSources": [{"Target": "/app/cat.wasm",
      "Source": {"Type": "local", "Params": {"SourcePath": "'"$WASM_DIR"'/cat_files.wasm"}}},
    {"Target": "/inputs/inline.txt",
      "Source": {"Type": "inline", "Params": {"URL": "data:,inline%20bytes%0A"}}}]}]}'
expect_eq "remote inline input" "== /inputs/inline.txt ==
inline bytes" "$(echo "$inline_spec" | client job run -)"

# A path outside the data root is refused, the broker's own keys included.
for path in /etc/hostname "$B_HOME/keys/server.key"; do
  err=$(client wasm run --constraints zone=a -i "$path:/in/f" "$WASM_DIR/relay.wasm" -- 0 2>&1)
  expect_eq "input $path exit status" 125 $?
  expect_contains "input $path" "invalid job: input $path: outside the broker's data roots" "$err"
done

# --- 2. constraints route jobs; one no worker matches waits, saying why
ID2=$(client wasm run --id-only --constraints 'zone in (b,c)' "$WASM_DIR/relay.wasm" -- 0)
expect_eq "zone b job exit status" 0 $?
expect_eq "zone b job ran on w2" "$W2_NAME" "$(worker_of "$ID2")"
ID3=$(client wasm run --wait=false --constraints 'zone=c' "$WASM_DIR/relay.wasm" -- 0)
wait_for 10 eval 'describe "$ID3" | grep -q "no connected worker matches"' ||
  fail "the unmatched job does not say why it waits"
expect_eq "unmatched job state" Queued "$(state_of "$ID3")"
client job stop "$ID3" >/dev/null
bad=$(client wasm run --constraints 'zone in (a' "$WASM_DIR/relay.wasm" 2>&1)
expect_eq "bad selector exit status" 125 $?
expect_contains "bad selector" "--constraints: 'zone in (a': unbalanced '('" "$bad"

# --- 3. strangers are refused
STRANGER=$WORK/stranger
at "$STRANGER" $NC keys generate >/dev/null
err=$(ip netns exec $NC env SHOAL_HOME="$STRANGER" SHOAL_CONNECT=tcp://10.211.3.1:7700 \
  SHOAL_SERVER_KEY="$SERVER_KEY" "$SHOAL_BIN" job list 2>&1)
expect_eq "unauthorised client exit status" 125 $?
expect_contains "unauthorised client" "refused by the broker at tcp://10.211.3.1:7700 (status 400)" "$err"
WRONG=$(at "$STRANGER" $NC keys)  # some other server's key
err=$(ip netns exec $NC env SHOAL_HOME="$C_HOME" SHOAL_CONNECT=tcp://10.211.3.1:7700 \
  SHOAL_SERVER_KEY="$WRONG" "$SHOAL_BIN" job list 2>&1)
expect_eq "wrong server key exit status" 125 $?
expect_contains "wrong server key" "tcp://10.211.3.1:7700" "$err"
ip netns exec $NC env SHOAL_HOME="$STRANGER" "$SHOAL_BIN" worker --connect tcp://10.211.3.1:7701 \
  --server-key "$SERVER_KEY" --slots 1 --label zone=x >/dev/null 2>&1 &
STRANGER_POOL=$!
disown
PIDS+=($STRANGER_POOL)
wait_for 10 grep -q "refused a worker at 10.211.3.2" "$B_HOME/broker.log" ||
  fail "the unauthorised worker was not refused"
# The refusal says how many keys of the role the broker could read.
grep -q "refused a client at 10.211.3.2: .*; authorised client keys: 1$" "$B_HOME/broker.log" ||
  fail "the client refusal does not count the authorised client keys"
grep -q "refused a worker at 10.211.3.2: .*; authorised worker keys: 2$" "$B_HOME/broker.log" ||
  fail "the worker refusal does not count the authorised worker keys"
if joined "$HOST-$STRANGER_POOL-1"; then fail "the unauthorised worker joined"; fi
kill -9 $STRANGER_POOL 2>/dev/null

# --- 4. a cut link mid-job: the job runs again after the link returns, once
ID4=$(client wasm run --wait=false --constraints zone=a "$WASM_DIR/relay.wasm" -- 5)
wait_for 20 in_state "$ID4" Running || fail "the link job did not start"
ip -n $NB link set b1-$P down
wait_for 20 in_state "$ID4" Queued || fail "the job was not re-queued when its link went down"
sleep 1
ip -n $NB link set b1-$P up
wait_for 60 eval '[ "$(state_of "$ID4")" = Completed ]' || fail "the link job did not complete"
doc=$(describe "$ID4")
expect_eq "link job executions" "Failed Completed" "$(execution_states "$ID4")"
expect_contains "link job first execution" "stopped answering" \
  "$(echo "$doc" | json 'j["Executions"]["Items"][0]["ComputeState"]["Message"]')"
expect_eq "link job logs" "start
done" "$(client job logs "$ID4")"

# --- 5. a remote pool killed mid-job: the job runs again on the other host
ID5=$(client wasm run --wait=false --constraints 'zone in (a,b)' "$WASM_DIR/relay.wasm" -- 4)
wait_for 20 in_state "$ID5" Running || fail "the kill job did not start"
first=$(worker_of "$ID5")
if [ "$first" = "$W1_NAME" ]; then victim=$NW1 other=$W2_NAME; else victim=$NW2 other=$W1_NAME; fi
for pid in $(ip netns pids $victim); do kill -9 "$pid"; done
wait_for 60 eval '[ "$(state_of "$ID5")" = Completed ]' || fail "the kill job did not complete"
doc=$(describe "$ID5")
expect_eq "kill job executions" "Failed Completed" "$(execution_states "$ID5")"
expect_eq "kill job second worker" "$other" "$(worker_of "$ID5")"
expect_eq "kill job exit code" 0 \
  "$(echo "$doc" | json 'j["Executions"]["Items"][-1]["RunOutput"]["ExitCode"]')"

if [ "$failures" -ne 0 ]; then
  echo "$failures failures"
  exit 1
fi
echo "all passed"
