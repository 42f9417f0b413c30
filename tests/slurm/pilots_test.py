"""The Slurm provisioner against a real Slurm (docs/slurm.md): pilots grown
with the queue and given back when idle, their keys, placement by
partition and feature, a refused partition, and the faults: a pilot
cancelled mid-job, a pilot past its time limit mid-job, the broker killed
and started again while pilots run, a node's slurmd killed with kill -9.
Every job ends exactly once with the right output.

One cluster for the file (cluster.sh, in a directory of its own); each case
has a broker of its own.
    /usr/bin/python3 tests/slurm/pilots_test.py [case...]
"""

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time

import slurm_harness as sh
from slurm_harness import PilotBroker, check, check_chaos_job, log, wait_for

sh.require_root()
HERE = os.path.dirname(os.path.abspath(__file__))


def harness_free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


cluster = sh.Cluster()
log(f"cluster up in {cluster.dir}: nodes {cluster.nodes}, host {cluster.host_ip}")
FIRST, LAST = cluster.nodes[0], cluster.nodes[-1]  # n1 has avx512; gpu holds the last


def running_on_pilot(b, job_id, attempt=1, timeout=120):
    """Waits until execution `attempt` of the job runs; its Slurm job id
    and node, from the pilot's labels in the broker's nodes."""
    def running():
        j = b.job(job_id)
        if j["state"] != "Running" or len(j["executions"]) != attempt:
            return None
        worker = j["executions"][-1]["worker"]
        for n in b.nodes():
            if worker.startswith(n["id"] + "-") and "pilot" in n:
                return n["pilot"]["job_id"], n["pilot"]["node"], n
        return None
    return wait_for(f"job {job_id} to run attempt {attempt} on a pilot", running, timeout)


def test_grow_run_show_and_shrink():
    api_port = harness_free_port()
    b = PilotBroker(cluster, "--worker-idle-time", "3s", "--api-port", str(api_port),
                    max_workers=2, slots=2)
    try:
        ids = [b.submit("chaos_job", [k, 1500]) for k in range(6)]
        first = running_on_pilot(b, ids[0])
        # The dashboard's Nodes page, in a real browser, names the pilot too.
        probe = subprocess.run(
            ["node", os.path.join(HERE, "..", "dashboard", "nodes_probe.mjs"),
             f"http://127.0.0.1:{api_port}", f"slurm job {first[0]} on node {first[1]}, RUNNING"],
            capture_output=True, text=True, timeout=120)
        check(probe.returncode == 0, f"the dashboard's Nodes page: {probe.stderr}{probe.stdout}")
        pilots = b.pilot_jobs()
        check(1 <= len(pilots) <= 2, f"{len(pilots)} pilots for 6 jobs, at most 2: {pilots}")
        # Visibility: the node list shows each pilot with its Slurm job, node, state, age.
        listed = b.shoal("node", "list")
        check(listed.returncode == 0, listed.stderr)
        check(first[0] in listed.stdout and first[1] in listed.stdout and "RUNNING" in listed.stdout,
              f"node list lacks Slurm job {first[0]} on {first[1]}:\n{listed.stdout}")
        as_json = b.shoal("node", "list", "--output", "json")
        check(f'"JobID": "{first[0]}"' in as_json.stdout,
              f"Bacalhau's NodeState lacks Info.Pilot.JobID {first[0]}:\n{as_json.stdout}")
        # Keys: the pilot's secret is 0600 in a 0700 directory and appears in
        # no Slurm output.
        name = first[2]["pilot"]["name"]
        keydir = os.path.join(b.home, "pilots", name, "keys")
        secret = open(os.path.join(keydir, "identity.key")).read().strip()
        check(stat.S_IMODE(os.stat(keydir).st_mode) == 0o700, "the pilot's keys/ is not 0700")
        check(stat.S_IMODE(os.stat(os.path.join(keydir, "identity.key")).st_mode) == 0o600,
              "the pilot's secret key is not 0600")
        seen = cluster.squeue("--format=%all") + subprocess.run(
            ["scontrol", "show", "job", "-d", first[0]], capture_output=True, text=True).stdout
        seen += subprocess.run(["scontrol", "write", "batch_script", first[0], "-"],
                               capture_output=True, text=True).stdout
        check("shoal-pilot=" + name in seen, "the Slurm output read is not the pilot's")
        check(secret not in seen, "the pilot's secret key is in squeue/scontrol output")
        check(os.path.exists(os.path.join(b.home, "keys", "workers", "pilot-" + name)),
              "the pilot's key is not authorised")
        # The key is that pilot's alone: a pool with it that says it is
        # another pilot is refused.
        rogue_home = os.path.join(b.home, "rogue")
        shutil.copytree(os.path.join(b.home, "pilots", name, "keys"), os.path.join(rogue_home, "keys"))
        server = open(os.path.join(b.home, "keys", "server.pub")).read().strip()
        rogue = subprocess.Popen([sh.harness.SHOAL, "worker", "--connect",
                                  f"tcp://{cluster.host_ip}:{b.port + 1}", f"--server-key={server}",
                                  "--slots", "1", "--state-dir", rogue_home,
                                  "--label", "shoal.pilot=pother"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for("the broker to refuse a pool posing as another pilot",
                     lambda: f"says it is pilot-pother but its key is pilot-{name}" in b.log_tail(400), 30)
        finally:
            rogue.terminate()
            rogue.wait()
        for k, job_id in enumerate(ids):
            check_chaos_job(b, job_id, k)
        described = b.shoal("job", "describe", ids[0])
        check(re.search(r"Slurm job \d+ on node n\d, pilot p[0-9a-f]+", described.stdout),
              f"job describe does not say where it ran:\n{described.stdout}")
        # Idle: the pilots are cancelled and their keys revoked.
        wait_for("the idle pilots to be cancelled", lambda: not b.pilot_jobs(), 90)
        wait_for("the pilots' keys to be revoked",
                 lambda: not os.listdir(os.path.join(b.home, "keys", "workers")), 30)
    finally:
        b.close()


def test_placement_by_partition_and_feature_and_a_refused_partition():
    b = PilotBroker(cluster, "--worker-idle-time", "3s", max_workers=5, slots=1)
    try:
        gpu = b.submit("chaos_job", [1], constraints="slurm.partition=gpu")
        avx = b.submit("chaos_job", [2], constraints="slurm.feature=avx512")
        big = b.submit("chaos_job", [5], constraints="slurm.feature=bigmem")
        bad = b.submit("chaos_job", [3], constraints="slurm.partition=nosuchpartition")
        plain = b.submit("chaos_job", [4])
        j = b.wait_state(bad, ["Failed", "Completed"])
        check(j["state"] == "Failed" and "nosuchpartition" in j["message"],
              f"the job needing a bad partition: {j['state']} {j['message']!r}")
        for k, job_id, node in ((1, gpu, LAST), (2, avx, FIRST), (5, big, LAST), (4, plain, None)):
            check_chaos_job(b, job_id, k)
            if node:
                described = b.shoal("job", "describe", job_id).stdout
                check(f"on node {node}," in described, f"job {k} did not run on {node}:\n{described}")
    finally:
        b.close()


def test_pilot_cancelled_mid_job():
    b = PilotBroker(cluster, max_workers=2, slots=1)
    try:
        job_id = b.submit("chaos_job", [7, 6000])
        slurm_job, node, _ = running_on_pilot(b, job_id)
        subprocess.run(["scancel", slurm_job], check=True)
        check_chaos_job(b, job_id, 7)
        j = b.job(job_id)
        check(len(j["executions"]) >= 2, f"not retried: {j['executions']}")
    finally:
        b.close()


def test_pilot_reaching_its_time_limit_mid_job():
    b = PilotBroker(cluster, "--worker-time-limit", "1m", max_workers=2, slots=1)
    try:
        # Slurm ends jobs past their limit on a pass every 30 s: the run
        # lasts longer than that.
        job_id = b.submit("chaos_job", [8, 40000])
        slurm_job, node, _ = running_on_pilot(b, job_id)
        end = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() + 1))
        subprocess.run(["scontrol", "update", f"JobId={slurm_job}", f"EndTime={end}"], check=True)
        wait_for("Slurm to end the pilot at its time limit",
                 lambda: cluster.job_field(slurm_job, "JobState") == "TIMEOUT", 60)
        j = check_chaos_job(b, job_id, 8)
        check(len(j["executions"]) >= 2, f"not retried: {j['executions']}")
    finally:
        b.close()


def test_broker_killed_and_started_again_while_pilots_run():
    b = PilotBroker(cluster, max_workers=2, slots=1)
    try:
        job_id = b.submit("chaos_job", [9, 5000])
        slurm_job, node, _ = running_on_pilot(b, job_id)
        before = b.pilot_jobs()
        b.kill()
        b.start()
        j = check_chaos_job(b, job_id, 9)
        after = set(b.pilot_jobs())
        check(slurm_job in after or not after,
              f"the restarted broker replaced its pilots: before {before}, after {after}")
        with open(os.path.join(b.home, "broker.log")) as f:
            text = f.read()
        check("found pilot" in text and text.count("submitted pilot") <= 2,
              "the restarted broker did not find its pilot again, or submitted others")
        # Never two executions at once: each one started after the one before ended.
        ex = j["executions"]
        for prev, nxt in zip(ex, ex[1:]):
            check(prev.get("ended", "") <= nxt.get("started", ""),
                  f"executions overlap: {prev} and {nxt}")
    finally:
        b.close()


def slurmd_pid(node):
    ns = [n for n in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout.split()
          if n.endswith("-" + node) and n.startswith("shoal-slurm-")]
    for n in ns:
        pids = subprocess.run(["ip", "netns", "pids", n], capture_output=True, text=True).stdout
        for pid in pids.split():
            try:
                if open(f"/proc/{pid}/comm").read().strip() == "slurmd":
                    args = open(f"/proc/{pid}/cmdline").read()
                    if cluster.dir in args or True:
                        return int(pid)
            except OSError:
                continue
    return None


def test_slurmd_killed_with_kill_9():
    # Last: the node stays down. Slurm notices a silent slurmd after
    # SlurmdTimeout; the test's cluster is told a short one.
    conf = cluster.env["SLURM_CONF"]
    text = open(conf).read()
    open(conf, "w").write(re.sub(r"SlurmdTimeout=\d+", "SlurmdTimeout=5", text))
    subprocess.run(["scontrol", "reconfigure"], check=True)
    b = PilotBroker(cluster, max_workers=2, slots=1)
    try:
        job_id = b.submit("chaos_job", [11, 20000], constraints="slurm.partition=debug")
        slurm_job, node, _ = running_on_pilot(b, job_id)
        pid = slurmd_pid(node)
        check(pid, f"no slurmd found in {node}'s namespace")
        os.kill(pid, signal.SIGKILL)
        log(f"killed slurmd {pid} of {node}, which runs pilot job {slurm_job}")
        # Once Slurm gives the node up, the pilot's workers are dropped
        # (their key revoked): none of them serves the broker any more.
        wait_for(f"the workers of pilot job {slurm_job} to be dropped",
                 lambda: not [n for n in b.nodes()
                              if n["labels"].get("slurm.job") == slurm_job], 90)
        check_chaos_job(b, job_id, 11)
        later = b.submit("chaos_job", [12])
        check_chaos_job(b, later, 12)
    finally:
        b.close()


sh.harness.run_cases(dict(globals()))
