#!/usr/bin/env bash
# Smoke test of the test Slurm cluster (tests/slurm/cluster.sh): starts one
# in a temporary directory, checks with real sbatch jobs that it places and
# ends jobs as shoal's pilots will need, and stops it. Root only.
#
# Checks: a job lands on each node (-w NODE); the gpu partition and the
# feature constraints pick the right node, an unknown feature is refused;
# a job on a node reaches a TCP port on the host's bridge address (where
# shoal's broker listens); squeue --format shows a job's name and comment;
# scancel ends a running job and its processes; a job past its time limit
# is ended by Slurm (state TIMEOUT, SIGTERM first).
#
# Exit status: 0 all passed, 1 a check failed, 77 a prerequisite is missing
# (1 under CI=true: in CI a test that cannot run fails).
#   bash tests/slurm/smoke_test.sh         KEEP=1 keeps the directory
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cluster=$here/cluster.sh
SKIP=77 WHY=SKIP
if [ "${CI:-}" = true ]; then SKIP=1 WHY=FAIL; fi

for v in $(compgen -e | grep -E '^(SLURM|SBATCH|SALLOC|SRUN|SQUEUE|SINFO|SCONTROL|SCANCEL)_' || true); do
  unset "$v"
done

if [ "$(id -u)" != 0 ]; then
  echo "$WHY: the Slurm test cluster needs root (network namespaces, slurmd)"
  exit $SKIP
fi
missing=()
for c in munged munge slurmctld slurmd sbatch squeue scancel scontrol sinfo ip nsenter unshare python3; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
if [ ${#missing[@]} -ne 0 ]; then
  echo "$WHY: missing ${missing[*]}: apt-get install slurmctld slurmd slurm-client munge iproute2 python3"
  exit $SKIP
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shoal-slurm-test.XXXXXX")
failures=0
FAILED=()
fail() {
  echo "FAIL: $*"
  FAILED+=("$*")
  failures=$((failures + 1))
}
pass() { echo "ok: $*"; }

cleanup() {
  local rc=$? t0=$SECONDS
  bash "$cluster" stop "$WORK" || fail "cluster.sh stop failed"
  echo "stop took $((SECONDS - t0)) s"
  if [ $failures -ne 0 ]; then
    {
      echo "--- slurmctld log"; tail -n 30 "$WORK/ctld/slurmctld.log" 2>/dev/null
      for f in "$WORK"/nodes/*/slurmd.log; do echo "--- $f"; tail -n 10 "$f"; done
      echo "--- $failures failed:"; printf '  %s\n' "${FAILED[@]}"
    } >&2
  fi
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  [ $failures -eq 0 ] || rc=1
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
if ! bash "$cluster" start "$WORK"; then
  fail "cluster.sh start"
  exit 1
fi
echo "start took $((SECONDS - t0)) s"
# shellcheck disable=SC1091
. "$WORK/cluster.env"
export SLURM_CONF
first_node=${NODE_NAMES%% *}
last_node=${NODE_NAMES##* }
cd "$WORK" || exit 1

# job_field ID FIELD: FIELD of `scontrol show job` (one line, -o)
job_field() {
  scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
# wait_state ID SECONDS STATE...: true once the job is in one of STATEs
wait_state() {
  local id=$1 secs=$2; shift 2
  local end=$((SECONDS + secs)) st
  while :; do
    st=$(job_field "$id" JobState)
    for s in "$@"; do [ "$st" = "$s" ] && return 0; done
    [ $SECONDS -lt $end ] || { echo "job $id is ${st:-unknown} after $secs s, not $*"; return 1; }
    sleep 0.2
  done
}
submit() { sbatch --parsable "$@" 2>&1; }
is_id() { [[ $1 =~ ^[0-9]+$ ]]; }

# 1. Time limit, first: Slurm looks for jobs past their limit every 30 s
# (PERIODIC_TIMEOUT, not configurable) and the smallest --time is a minute,
# so the job gets --time=1 and, once running, its end time is moved to now
# (scontrol update EndTime=); the other checks run meanwhile. Slurm sends
# SIGTERM to every process of the job at once: when the sleep dies first,
# `wait` returns before the script's own SIGTERM arrives, hence the loop.
tl=$(submit -J timelimit --time=1 -o "$WORK/timelimit.out" \
  --wrap "trap 'echo TERM >$WORK/timelimit.term; exit 143' TERM; sleep 300 & wait; while :; do sleep 0.1; done")
if is_id "$tl" && wait_state "$tl" 20 RUNNING &&
  scontrol update JobId="$tl" EndTime="$(date -d '+1 sec' +%Y-%m-%dT%H:%M:%S)"; then
  tl_started=$SECONDS
else
  fail "time limit: cannot submit or shorten the job: $tl"
  tl=
fi

# 2. One job on each node, chosen with -w.
declare -A on_node
for n in $NODE_NAMES; do
  # shellcheck disable=SC2016
  on_node[$n]=$(submit -w "$n" -J "on-$n" -o "$WORK/on-$n.out" --wrap 'hostname; echo "$SLURMD_NODENAME"')
done
for n in $NODE_NAMES; do
  id=${on_node[$n]}
  if ! is_id "$id"; then fail "-w $n: sbatch: $id"; continue; fi
  if wait_state "$id" 30 COMPLETED; then
    got=$(tr '\n' ' ' <"$WORK/on-$n.out")
    if [ "$got" = "$n $n " ] && [ "$(job_field "$id" NodeList)" = "$n" ]; then
      pass "-w $n ran on $n"
    else
      fail "-w $n: hostname/SLURMD_NODENAME [$got], NodeList $(job_field "$id" NodeList)"
    fi
  else
    fail "-w $n: job $id did not complete (state $(job_field "$id" JobState), reason $(job_field "$id" Reason))"
  fi
done

# 3. Placement by partition and feature; an unknown feature is refused.
place() { # place WHAT EXPECTED_NODE SBATCH_ARGS...
  local what=$1 want=$2 id; shift 2
  id=$(submit "$@" -o /dev/null --wrap true)
  if ! is_id "$id"; then fail "$what: sbatch: $id"; return; fi
  if wait_state "$id" 30 COMPLETED; then
    local got
    got=$(job_field "$id" NodeList)
    if [ "$got" = "$want" ]; then pass "$what ran on $want"; else fail "$what: ran on $got, expected $want"; fi
  else
    fail "$what: job $id did not complete"
  fi
}
place "-p gpu" "$last_node" -p gpu
place "-C avx512" "$first_node" -C avx512
place "-C bigmem" "$last_node" -C bigmem
place "-p gpu -C bigmem" "$last_node" -p gpu -C bigmem
out=$(submit -C nosuchfeature --wrap true)
if is_id "$out"; then
  fail "-C nosuchfeature: accepted as job $out"
  scancel "$out"
else
  case $out in
    *"Invalid feature specification"*) pass "-C nosuchfeature refused ($out)" ;;
    *) fail "-C nosuchfeature: unexpected answer [$out]" ;;
  esac
fi
out=$(submit -p gpu -C avx512 --wrap true)
if is_id "$out"; then
  fail "-p gpu -C avx512: accepted as job $out (no node of gpu has avx512)"
  scancel "$out"
else
  pass "-p gpu -C avx512 refused ($out)"
fi

# 4. A job on a node reaches the host's bridge address over TCP (where a
# pilot's `shoal worker --connect tcp://HOST_IP:PORT` goes).
port_file=$WORK/listen.port
python3 - "$SHOAL_SLURM_HOST_IP" "$port_file" "$WORK/listen.got" <<'PY' &
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.listen(4)
s.settimeout(30)
open(sys.argv[2] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
got = []
try:
    for _ in range(2):
        c, _ = s.accept()
        got.append(c.makefile().readline().strip())
        c.close()
except socket.timeout:
    pass
open(sys.argv[3], "w").write("\n".join(sorted(got)) + "\n")
PY
listener=$!
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(cat "$port_file" 2>/dev/null)
# (--wrap runs /bin/sh, which has no /dev/tcp: a bash script)
# shellcheck disable=SC2016
printf '#!/bin/bash\nhostname >"/dev/tcp/$1/$2"\n' >"$WORK/tcp.sh"
ids=()
for n in $first_node $last_node; do
  ids+=("$(submit -w "$n" -o "$WORK/tcp-$n.out" "$WORK/tcp.sh" "$SHOAL_SLURM_HOST_IP" "$port")")
done
for id in "${ids[@]}"; do is_id "$id" && wait_state "$id" 30 COMPLETED FAILED >/dev/null; done
wait "$listener"
want=$(printf '%s\n' "$first_node" "$last_node" | sort)
got=$(cat "$WORK/listen.got" 2>/dev/null)
if [ "$got" = "$want" ]; then
  pass "jobs on $first_node and $last_node reached tcp://$SHOAL_SLURM_HOST_IP:$port"
else
  fail "TCP from the nodes to the host: got [$got], expected [$want]; $(cat "$WORK"/tcp-*.out 2>/dev/null)"
fi

# 5. squeue --format shows a running job's name and comment.
comment="shoal-pilot broker=tcp://$SHOAL_SLURM_HOST_IP:7701 slots=2"
sq=$(submit -J shoal-pilot-smoke --comment "$comment" -c 2 -o /dev/null --wrap 'sleep 300')
if is_id "$sq" && wait_state "$sq" 20 RUNNING; then
  line=$(squeue -h -j "$sq" -o '%j|%k|%T|%N|%C')
  want="shoal-pilot-smoke|$comment|RUNNING|"
  case $line in
    "$want"*"|2") pass "squeue -o '%j|%k|%T|%N|%C': $line" ;;
    *) fail "squeue -o: [$line], expected [$want<node>|2]" ;;
  esac
  byname=$(squeue -h --name=shoal-pilot-smoke -o %i)
  if [ "$byname" = "$sq" ]; then pass "squeue --name finds job $sq"; else fail "squeue --name: [$byname], expected $sq"; fi
  scancel "$sq"
else
  fail "squeue: job $sq did not start"
fi

# 6. scancel ends a running job and its processes.
sc=$(submit -J to-cancel -w "$last_node" -o /dev/null --wrap "sleep 300 & echo \$! >$WORK/cancel.pid; wait")
if is_id "$sc" && wait_state "$sc" 20 RUNNING; then
  for _ in $(seq 50); do [ -s "$WORK/cancel.pid" ] && break; sleep 0.1; done
  pid=$(cat "$WORK/cancel.pid" 2>/dev/null)
  scancel "$sc"
  if wait_state "$sc" 20 CANCELLED; then
    gone=no
    for _ in $(seq 50); do
      if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then gone=yes; break; fi
      sleep 0.1
    done
    if [ $gone = yes ]; then
      pass "scancel: job $sc CANCELLED, its sleep (pid $pid) gone"
    else
      fail "scancel: job $sc CANCELLED but its process ${pid:-?} is still there"
    fi
  else
    fail "scancel: job $sc not CANCELLED"
  fi
else
  fail "scancel: job $sc did not start"
fi

# 7. The time-limit job: TIMEOUT, and SIGTERM reached the script.
if [ -n "$tl" ]; then
  if wait_state "$tl" 45 TIMEOUT; then
    if [ -s "$WORK/timelimit.term" ]; then
      pass "time limit: job $tl ended by Slurm (TIMEOUT after $((SECONDS - tl_started)) s, got SIGTERM)"
    else
      fail "time limit: job $tl TIMEOUT but its script saw no SIGTERM"
    fi
    grep -q "JobId=$tl .*JobState=TIMEOUT" "$WORK/ctld/jobcomp.log" ||
      fail "time limit: no TIMEOUT record in jobcomp.log"
  else
    fail "time limit: job $tl not ended by its time limit"
  fi
fi

echo "$failures failed"
[ $failures -eq 0 ]
