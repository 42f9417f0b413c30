#!/usr/bin/env bash
# A real Slurm cluster on one machine, for tests (root only): munged,
# slurmctld and NODES slurmd (default 2), every Slurm daemon in a network
# namespace and UTS namespace of its own (hostname = node name), joined by
# veth pairs to a bridge in one more namespace, which the host joins by a
# veth too. Everything lives under DIR; nothing of the system's Slurm or
# munge (config, key, socket, ports, state) is read or touched. Start ends
# with one probe job run on each node. See tests/slurm/README.md.
#
#   cluster.sh start DIR     start (or check the one already started in DIR)
#   cluster.sh stop DIR      stop everything started in DIR (idempotent)
#   cluster.sh status DIR    exit 0 when the cluster in DIR is up, nodes idle
#   cluster.sh env DIR       print DIR/cluster.env
#
# After start, DIR/cluster.env (to source) holds SLURM_CONF (point every
# Slurm command at it), SHOAL_SLURM_HOST_IP (the host's address on the bridge: what a job
# on a node connects to), and the node names and addresses.
#
# Environment: SHOAL_SLURM_NODES (2..9, default 2), SHOAL_SLURM_CPUS (CPUs
# each node declares, 1..256, default 4), SHOAL_SLURM_SUBNET
# (three octets, e.g. 10.230.7; default derived from DIR),
# SHOAL_SLURM_START_TIMEOUT (seconds for each wait, default 60).
set -euo pipefail

prog=cluster.sh
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$prog" "$*" >&2; }

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -eq 2 ] || usage
cmd=$1
[ -n "$2" ] || usage
case $cmd in start|stop|status|env) ;; *) usage ;; esac

# Only this cluster's configuration: drop whatever a surrounding Slurm job
# or shell set for Slurm's commands.
for v in $(compgen -e | grep -E '^(SLURM|SBATCH|SALLOC|SRUN|SQUEUE|SINFO|SCONTROL|SCANCEL)_' || true); do
  unset "$v"
done

mkdir_p_abs() { mkdir -p "$1" && cd "$1" && pwd -P; }

if [ "$cmd" = start ]; then
  DIR=$(mkdir_p_abs "$2") || die "cannot create directory $2"
else
  [ -d "$2" ] || { [ "$cmd" = stop ] && exit 0; die "no such directory: $2"; }
  DIR=$(cd "$2" && pwd -P)
fi
ENVF=$DIR/cluster.env

# One start or stop at a time on a DIR.
if [ "$cmd" = start ] || [ "$cmd" = stop ]; then
  exec 9>>"$DIR/.lock"
  flock -w 120 9 || die "another cluster.sh start or stop holds $DIR/.lock for 120 s"
fi

# Bounded waits -------------------------------------------------------------
TIMEOUT=${SHOAL_SLURM_START_TIMEOUT:-60}

# last lines of a log, indented, for error messages
log_tail() {
  local f=$1 n=${2:-15}
  if [ -s "$f" ]; then
    printf '\n--- last %s lines of %s:\n' "$n" "$f"
    tail -n "$n" "$f" | sed 's/^/    /'
  else
    printf '\n--- %s is empty or missing\n' "$f"
  fi
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { if [ -s "$1" ]; then tr -dc 0-9 <"$1"; fi; }

# wait_until SECONDS CMD...: true once CMD succeeds, false at the deadline
wait_until() {
  local secs=$1; shift
  local end=$((SECONDS + secs))
  while :; do
    if "$@"; then return 0; fi
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}

# Layout ----------------------------------------------------------------------
load_env() {
  # shellcheck disable=SC1090
  [ -f "$ENVF" ] && . "$ENVF"
}

netns_exists() { [ -e "/run/netns/$1" ]; }

# ns_pids NS...: the processes in those network namespaces
ns_pids() {
  local ns
  for ns in "$@"; do
    netns_exists "$ns" && ip netns pids "$ns" 2>/dev/null
  done | tr '\n' ' '
}

# kill_all PIDS: TERM, up to 3 s (the daemons take about 1.5 s), then KILL
# for what is left, up to 5 s
kill_all() {
  local pids=$* left p end sig
  [ -n "${pids// /}" ] || return 0
  # slurmstepd ignores SIGTERM: SIGKILL at once (the jobs' processes get
  # their SIGTERM all the same)
  for p in $pids; do
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = slurmstepd ]; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for sig in KILL none; do
    if [ $sig = KILL ]; then end=$((SECONDS + 3)); else end=$((SECONDS + 5)); fi
    while :; do
      left=
      for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
      [ -n "$left" ] || return 0
      [ $SECONDS -lt $end ] || break
      sleep 0.1
    done
    if [ $sig = KILL ]; then
      for p in $left; do
        say "SIGKILL to $p ($({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | cut -c1-80))"
      done
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null
    fi
  done
  say "warning: still running after SIGKILL:$left"
}

do_stop() {
  load_env || return 0
  local n nss=() pids
  for n in $NODE_NAMES ctl net; do nss+=("$NS_PREFIX-$n"); done
  # Everything in the cluster's namespaces (daemons, slurmstepd, jobs), and
  # the daemons' pid files (munged runs in the host's namespace).
  # A pid file's pid counts only while its command line names DIR (a pid
  # file left by a crash may name an unrelated process by now).
  pids=$(ns_pids "${nss[@]}")
  local f p
  for f in "$DIR/munge/munged.pid" "$DIR/ctld/slurmctld.pid" "$DIR"/nodes/*/slurmd.pid; do
    p=$(pid_of "$f")
    if [ -n "$p" ] && { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF "$DIR/"; then
      pids="$pids $p"
    fi
  done
  kill_all "$pids"
  # anything forked in the namespaces meanwhile
  kill_all "$(ns_pids "${nss[@]}")"
  for n in ctl $NODE_NAMES net; do
    if netns_exists "$NS_PREFIX-$n"; then
      ip netns del "$NS_PREFIX-$n" 2>/dev/null || say "warning: cannot delete namespace $NS_PREFIX-$n"
    fi
  done
  # The host's veth goes with its peer in $NS_PREFIX-net; in case it did not:
  if ip link show "$HOST_IF" >/dev/null 2>&1; then
    ip link del "$HOST_IF" 2>/dev/null || say "warning: cannot delete link $HOST_IF"
  fi
  rm -f "$DIR/ctld/slurmctld.pid" "$DIR/munge/munged.pid" "$DIR"/nodes/*/slurmd.pid
}

# Slurm's commands, on this cluster only
slurm_env() { export SLURM_CONF="$DIR/etc/slurm.conf"; }

ctld_up() { timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP'; }

# nodes_in STATES: every node of the cluster in one of STATES (a regex of
# sinfo's short states; sinfo lists a node once per partition)
nodes_in() {
  local out n
  out=$(timeout 5 sinfo -h -N -o '%N %t' 2>/dev/null | sort -u) || return 1
  for n in $NODE_NAMES; do
    grep -qxE "$n ($1)" <<<"$out" || return 1
  done
}
nodes_idle() { nodes_in idle; }

do_status() {
  load_env || return 1
  slurm_env
  pid_alive "$(pid_of "$DIR/munge/munged.pid")" || return 1
  pid_alive "$(pid_of "$DIR/ctld/slurmctld.pid")" || return 1
  local n
  for n in $NODE_NAMES; do pid_alive "$(pid_of "$DIR/nodes/$n/slurmd.pid")" || return 1; done
  # up: idle, or running jobs
  ctld_up && nodes_in 'idle|mix|alloc|comp'
}

check_prerequisites() {
  [ "$(id -u)" = 0 ] || die "must run as root (creates network namespaces, runs slurmd)"
  local missing=() c
  for c in munged munge unmunge slurmctld slurmd sinfo scontrol sbatch ip nsenter unshare flock timeout; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing commands: ${missing[*]} (apt-get install slurmctld slurmd slurm-client munge iproute2 util-linux)"
}

# The /24 the cluster uses: SHOAL_SLURM_SUBNET, else derived from DIR and
# moved on while it meets an address or route of this host.
pick_subnet() {
  if [ -n "${SHOAL_SLURM_SUBNET:-}" ]; then echo "$SHOAL_SLURM_SUBNET"; return; fi
  local h a b i used
  h=$(printf %s "$DIR" | md5sum)
  a=$((220 + 0x${h:0:2} % 20)) b=$((0x${h:2:2}))
  used=$( (ip -4 -o addr show; ip -4 route show table all) 2>/dev/null)
  for i in $(seq 0 63); do
    if ! grep -qF " 10.$a.$b." <<<" $used" && ! grep -qE "(^| )10\.$a\.$b\.[0-9]+" <<<"$used"; then
      echo "10.$a.$b"; return
    fi
    b=$(((b + 1) % 256))
  done
  die "no free 10.$a.x.0/24 subnet for the cluster; set SHOAL_SLURM_SUBNET"
}

write_env() {
  local id nodes=${SHOAL_SLURM_NODES:-2} subnet n i names=""
  case $nodes in [2-9]) ;; *) die "SHOAL_SLURM_NODES must be 2..9 (got $nodes)" ;; esac
  id=$(printf %s "$DIR" | md5sum | cut -c1-6)
  subnet=$(pick_subnet)
  for i in $(seq 1 "$nodes"); do names="$names n$i"; done
  names=${names# }
  {
    echo "# written by tests/slurm/cluster.sh start; source it to use the cluster"
    echo "export SLURM_CONF='$DIR/etc/slurm.conf'"
    echo "SHOAL_SLURM_DIR='$DIR'"
    echo "SHOAL_SLURM_HOST_IP='$subnet.1'"
    echo "SHOAL_SLURM_CTLD_IP='$subnet.2'"
    echo "SHOAL_SLURM_SUBNET='$subnet'"
    echo "NODE_NAMES='$names'"
    for i in $(seq 1 "$nodes"); do echo "NODE_IP_n$i='$subnet.$((10 + i))'"; done
    echo "NS_PREFIX='shoal-slurm-$id'"
    echo "HOST_IF='shslurm$id'"
    echo "CTLD_PORT=16817"
    echo "SLURMD_PORT=16818"
  } >"$ENVF"
}

write_config() {
  local subnet=$SHOAL_SLURM_SUBNET n ip nodes_csv last cpus=${SHOAL_SLURM_CPUS:-4}
  case $cpus in [1-9] | [1-9][0-9] | 1[0-9][0-9] | 2[0-4][0-9] | 25[0-6]) ;;
  *) die "SHOAL_SLURM_CPUS must be 1..256 (got $cpus)" ;; esac
  nodes_csv=$(tr ' ' ',' <<<"$NODE_NAMES")
  last=${NODE_NAMES##* }
  mkdir -p "$DIR/etc"
  cat >"$DIR/etc/slurm.conf" <<EOF
# Written by tests/slurm/cluster.sh for the test cluster in $DIR.
ClusterName=shoaltest
SlurmctldHost=shoalctl($SHOAL_SLURM_CTLD_IP)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munged.socket
StateSaveLocation=$DIR/ctld/state
SlurmctldPidFile=$DIR/ctld/slurmctld.pid
SlurmctldLogFile=$DIR/ctld/slurmctld.log
SlurmdSpoolDir=$DIR/nodes/%n/spool
SlurmdPidFile=$DIR/nodes/%n/slurmd.pid
SlurmdLogFile=$DIR/nodes/%n/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: works the same under systemd's cgroup v2, cgroup v1 or none.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/ctld/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Start a batch job as soon as it is submitted (the default waits up to 3 s).
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
MailProg=/bin/true
# The nodes declare more CPUs than a small CI machine has; believe the config.
SlurmdParameters=config_overrides
ReturnToService=2
# Short waits: SIGTERM to SIGKILL, and finished jobs kept 10 min for scontrol.
KillWait=2
MinJobAge=600
InactiveLimit=0
MessageTimeout=10
SlurmdTimeout=60
SlurmctldTimeout=60
EOF
  local i=0 feat
  for n in $NODE_NAMES; do
    i=$((i + 1))
    ip=$(eval echo "\$NODE_IP_$n")
    # n1: avx512; the last node (the gpu partition's): bigmem
    if [ $i = 1 ]; then feat=avx512; elif [ "$n" = "$last" ]; then feat=bigmem; else feat=plain; fi
    echo "NodeName=$n NodeHostname=$n NodeAddr=$ip CPUs=$cpus RealMemory=4096 Features=$feat State=UNKNOWN" >>"$DIR/etc/slurm.conf"
  done
  cat >>"$DIR/etc/slurm.conf" <<EOF
PartitionName=debug Nodes=$nodes_csv Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$last MaxTime=INFINITE State=UP
EOF
  # cgroup/v1, not autodetect: see in_ns.
  cat >"$DIR/etc/cgroup.conf" <<EOF
# Read by slurmd, which loads the cgroup plugin whatever slurm.conf says;
# no cgroup is used (proctrack/linuxproc, task/none).
CgroupPlugin=cgroup/v1
IgnoreSystemd=yes
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainDevices=no
EOF
}

start_munged() {
  local m=$DIR/munge
  mkdir -p "$m"
  # munged wants execute permission for all on the socket's directory and
  # every parent ("Socket is inaccessible: execute permissions for all
  # required on DIR"); mktemp -d makes DIR 0700. Every client here is root:
  # --force turns that error into a warning.
  chmod 0755 "$m"
  if [ ! -s "$DIR/etc/munge.key" ]; then
    (umask 077 && dd if=/dev/urandom of="$DIR/etc/munge.key" bs=1024 count=1 status=none)
  fi
  chmod 0400 "$DIR/etc/munge.key"
  if ! no_fds munged --force --socket="$m/munged.socket" --key-file="$DIR/etc/munge.key" \
      --pid-file="$m/munged.pid" --log-file="$m/munged.log" --seed-file="$m/munged.seed" \
      >"$m/munged.out" 2>&1; then
    die "munged did not start: $(cat "$m/munged.out")$(log_tail "$m/munged.log")"
  fi
  munge_ok() { munge -S "$m/munged.socket" -n 2>/dev/null | unmunge -S "$m/munged.socket" >/dev/null 2>&1; }
  wait_until 10 munge_ok || die "munged at $m/munged.socket does not answer within 10 s$(log_tail "$m/munged.log")"
}

# The bridge lives in a namespace of its own ($NS_PREFIX-net), so that no
# firewall of the host (Docker's FORWARD DROP with br_netfilter, say) sees
# the traffic between the daemons; the host joins it by one veth pair
# ($HOST_IF, $SHOAL_SLURM_HOST_IP).
make_network() {
  local n addr brns=$NS_PREFIX-net
  # Left by a run killed before it wrote cluster.env (the names hash DIR):
  for n in net ctl $NODE_NAMES; do
    if netns_exists "$NS_PREFIX-$n"; then
      say "removing stale namespace $NS_PREFIX-$n"
      kill_all "$(ns_pids "$NS_PREFIX-$n")"
      ip netns del "$NS_PREFIX-$n" || die "cannot delete stale namespace $NS_PREFIX-$n"
    fi
  done
  ip link del "$HOST_IF" >/dev/null 2>&1 || true
  ip netns add "$brns" || die "cannot create network namespace $brns"
  ip -n "$brns" link add br0 type bridge || die "cannot create a bridge in $brns"
  ip -n "$brns" link set br0 up
  ip -n "$brns" link set lo up
  ip link add "$HOST_IF" type veth peer name host netns "$brns" ||
    die "cannot create veth $HOST_IF"
  ip -n "$brns" link set host master br0
  ip -n "$brns" link set host up
  ip addr add "$SHOAL_SLURM_HOST_IP/24" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  for n in ctl $NODE_NAMES; do
    ip netns add "$NS_PREFIX-$n" || die "cannot create network namespace $NS_PREFIX-$n"
    ip -n "$brns" link add "$n" type veth peer name eth0 netns "$NS_PREFIX-$n" ||
      die "cannot create veth for $n"
    ip -n "$brns" link set "$n" master br0
    ip -n "$brns" link set "$n" up
    if [ "$n" = ctl ]; then addr=$SHOAL_SLURM_CTLD_IP; else addr=$(eval echo "\$NODE_IP_$n"); fi
    ip -n "$NS_PREFIX-$n" addr add "$addr/24" dev eth0
    ip -n "$NS_PREFIX-$n" link set eth0 up
    ip -n "$NS_PREFIX-$n" link set lo up
  done
}

# no_fds CMD...: run CMD with only stdin, stdout and stderr open. A daemon
# must not keep the lock on DIR/.lock (fd 9), nor a pipe of whoever ran
# cluster.sh (munged does not close what it inherits).
no_fds() {
  (
    for f in /proc/self/fd/*; do
      f=${f##*/}
      if [ "$f" -gt 2 ]; then eval "exec $f>&-" 2>/dev/null || true; fi
    done
    exec "$@"
  )
}

# in_ns NAME HOSTNAME CMD...: run CMD in the network namespace of NAME, in
# a UTS namespace of its own whose hostname is HOSTNAME, and in a mount
# namespace of its own (host mounts still propagate in) where
# /sys/fs/cgroup is an empty tmpfs. slurmd 22.05 loads a cgroup plugin
# whatever ProctrackType and TaskPlugin say: cgroup/v2 would create
# directories in the host's cgroup tree (or call systemd over dbus) and is
# fatal on a hybrid host ("Hybrid mode is not supported"); cgroup/v1, named
# in cgroup.conf, does nothing at init, and the empty tmpfs makes sure
# nothing of the cluster writes to the host's cgroups. nsenter rather than
# `ip netns exec`, which also remounts /sys.
in_ns() {
  local ns=$NS_PREFIX-$1 host=$2; shift 2
  # shellcheck disable=SC2016
  no_fds nsenter --net="/run/netns/$ns" unshare --uts --mount --propagation slave sh -c \
    'mount -t tmpfs -o size=64k,mode=0755 shoal-slurm-nocgroup /sys/fs/cgroup && hostname "$0" && exec "$@"' \
    "$host" "$@"
}

start_ctld() {
  local c=$DIR/ctld
  mkdir -p "$c/state"
  : >"$c/slurmctld.log"
  # -c: a fresh cluster, no jobs from an earlier run in this DIR
  if ! in_ns ctl shoalctl slurmctld -c -f "$DIR/etc/slurm.conf" >"$c/slurmctld.out" 2>&1; then
    die "slurmctld did not start: $(cat "$c/slurmctld.out")$(log_tail "$c/slurmctld.log")"
  fi
  wait_until "$TIMEOUT" ctld_up ||
    die "slurmctld does not answer scontrol ping within $TIMEOUT s$(log_tail "$c/slurmctld.out" 5)$(log_tail "$c/slurmctld.log")"
}

start_slurmds() {
  local n d
  for n in $NODE_NAMES; do
    d=$DIR/nodes/$n
    mkdir -p "$d/spool"
    : >"$d/slurmd.log"
    if ! in_ns "$n" "$n" slurmd -N "$n" -f "$DIR/etc/slurm.conf" >"$d/slurmd.out" 2>&1; then
      die "slurmd $n did not start: $(cat "$d/slurmd.out")$(log_tail "$d/slurmd.log")"
    fi
  done
  if ! wait_until "$TIMEOUT" nodes_idle; then
    local msg="nodes not all idle within $TIMEOUT s; sinfo says:"$'\n'
    msg+=$(timeout 5 sinfo -N -o '%N %t %E' 2>&1 | sed 's/^/    /')
    for n in $NODE_NAMES; do
      if pid_alive "$(pid_of "$DIR/nodes/$n/slurmd.pid")"; then
        msg+=$'\n'"--- slurmd $n is running (pid $(pid_of "$DIR/nodes/$n/slurmd.pid"))"
      else
        msg+=$'\n'"--- slurmd $n is not running"
      fi
      msg+=$(log_tail "$DIR/nodes/$n/slurmd.log" 8)
    done
    msg+=$(log_tail "$DIR/ctld/slurmctld.log" 10)
    die "$msg"
  fi
}

# One job on each node, to the end: munge credentials, slurmd launching
# slurmstepd and the job reporting back all work. It also waits out
# slurmctld's first scheduling pass (about 3 s after it starts), so the
# caller's first job starts at once.
probe_jobs() {
  local n id st ids=() msg x
  for n in $NODE_NAMES; do
    # shellcheck disable=SC2016
    id=$(cd "$DIR" && sbatch --parsable -J cluster-probe -w "$n" -o "$DIR/nodes/$n/probe.out" \
      --wrap 'echo "$SLURMD_NODENAME"' 2>&1) || die "sbatch of the probe job on $n failed: $id"
    ids+=("$n:$id")
  done
  probe_done() {
    local x
    for x in "${ids[@]}"; do
      st=$(scontrol show job -o "${x#*:}" 2>/dev/null | grep -o 'JobState=[A-Z_]*')
      case $st in
        JobState=COMPLETED) ;;
        JobState=PENDING | JobState=CONFIGURING | JobState=RUNNING | JobState=COMPLETING | "") return 1 ;;
        *) return 0 ;;  # ended badly: stop waiting, reported below
      esac
    done
  }
  wait_until "$TIMEOUT" probe_done || true
  for x in "${ids[@]}"; do
    n=${x%%:*} id=${x#*:}
    st=$(scontrol show job -o "$id" 2>/dev/null | grep -oE '(JobState|Reason)=[^ ]*' | tr '\n' ' ')
    if [ "$(cat "$DIR/nodes/$n/probe.out" 2>/dev/null)" != "$n" ]; then
      msg="probe job $id on $n did not run to the end within $TIMEOUT s: ${st:-no such job}"
      msg+=$(log_tail "$DIR/nodes/$n/probe.out" 5)$(log_tail "$DIR/nodes/$n/slurmd.log" 10)
      msg+=$(log_tail "$DIR/ctld/slurmctld.log" 10)
      die "$msg"
    fi
  done
}

do_start() {
  check_prerequisites
  # unix sockets (munged's, slurmstepd's DIR/nodes/n1/spool/n1_JOBID.STEPID)
  # have room for 107 bytes
  [ ${#DIR} -le 60 ] || die "DIR is longer than 60 characters, too long for the unix sockets under it: $DIR"
  if [ -f "$ENVF" ]; then
    if do_status; then say "already running in $DIR"; return 0; fi
    say "cleaning up an earlier, incomplete cluster in $DIR"
    do_stop
  fi
  local t0=$SECONDS
  write_env
  load_env
  slurm_env
  # On any failure from here, take down what was started.
  trap 'if [ $? -ne 0 ]; then say "start failed; stopping what was started"; do_stop; fi' EXIT
  trap 'exit 130' INT TERM
  write_config
  start_munged
  make_network
  start_ctld
  start_slurmds
  probe_jobs
  trap - EXIT INT TERM
  say "up in $((SECONDS - t0)) s: nodes $NODE_NAMES, SLURM_CONF=$SLURM_CONF, host on the bridge $SHOAL_SLURM_HOST_IP"
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  env) load_env || die "no cluster in $DIR"; cat "$ENVF" ;;
esac
