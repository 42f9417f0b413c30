"""A real Slurm cluster (tests/slurm/cluster.sh) and `shoal serve --provider
slurm` brokers on it, for the provisioner's tests (docs/slurm.md).

Each test file starts one cluster in a directory of its own and stops it on
exit (SIGTERM and SIGINT included); its cases share it, each with a broker
of its own (its own state directory, port and pilots' job name). Needs
root; skipped (exit 77) otherwise, failed under CI=true.
"""

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "faults"))
import harness  # noqa: E402
from harness import TestFailure, check, log, wait_for  # noqa: E402,F401

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER = os.path.join(HERE, "cluster.sh")


def require_root():
    why = None
    if os.geteuid() != 0:
        why = "the Slurm test cluster needs root (network namespaces, slurmd)"
    else:
        for c in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "ip"):
            if not shutil.which(c):
                why = f"{c} is missing: tools/setup installs slurmctld slurmd slurm-client munge iproute2"
                break
    if why:
        if os.environ.get("CI") == "true":
            log("FAIL:", why)
            sys.exit(1)
        log("SKIP:", why)
        sys.exit(77)


class Cluster:
    def __init__(self):
        for k in list(os.environ):
            if k.startswith(("SLURM_", "SBATCH_", "SQUEUE_", "SCONTROL_")):
                del os.environ[k]
        self.dir = tempfile.mkdtemp(prefix="shoal-slurm-", dir=os.environ.get("TMPDIR", "/tmp"))
        os.chmod(self.dir, 0o755)
        self.stopped = False
        atexit.register(self.stop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: sys.exit(130))
        r = subprocess.run(["bash", CLUSTER, "start", self.dir], capture_output=True, text=True)
        if r.returncode != 0:
            raise TestFailure(f"cluster.sh start: {r.stdout}{r.stderr}")
        self.env = {}
        with open(os.path.join(self.dir, "cluster.env")) as f:
            for line in f:
                line = line.strip().removeprefix("export ")
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    self.env[k] = v.strip("'\"")
        os.environ["SLURM_CONF"] = self.env["SLURM_CONF"]
        self.host_ip = self.env["SHOAL_SLURM_HOST_IP"]
        self.nodes = self.env["NODE_NAMES"].split()

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        subprocess.run(["bash", CLUSTER, "stop", self.dir], capture_output=True)
        if os.environ.get("KEEP"):
            log("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def squeue(self, *args):
        return subprocess.run(["squeue", "--noheader", *args], capture_output=True, text=True).stdout

    def job_field(self, job_id, field):
        out = subprocess.run(["scontrol", "show", "job", "-o", str(job_id)], capture_output=True,
                             text=True).stdout
        for part in out.split():
            if part.startswith(field + "="):
                return part.split("=", 1)[1]
        return ""


_port = [17700]


class PilotBroker:
    """`shoal serve --provider slurm` on a state directory of its own."""

    def __init__(self, cluster, *flags, partition="debug", max_workers=2, slots=2):
        self.cluster = cluster
        self.home = harness.temp_home("shoal-pilots-")
        _port[0] += 2
        self.port = _port[0]
        self.flags = ["--provider", "slurm", "--slurm-partition", partition, "--max-workers",
                      str(max_workers), "--slots-per-worker", str(slots), "--listen",
                      f"tcp://{cluster.host_ip}:{self.port}", *flags]
        self.broker = harness.Broker(self.home, workers=0, extra=self.flags)
        self.start()

    def start(self):
        self.broker.start()
        check(self.broker.wait_ready(), "the broker did not start: " + self.log_tail())
        self.client = harness.connect(self.broker.endpoint)

    def kill(self):
        self.client.close()
        self.broker.kill()

    def close(self):
        self.client.close()
        self.broker.shutdown()
        wait_for("the broker's pilots to be gone from squeue", lambda: not self.pilot_jobs(), 60)
        shutil.rmtree(self.home, ignore_errors=True)

    def log_tail(self, n=30):
        try:
            with open(os.path.join(self.home, "broker.log")) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no broker.log)"

    def broker_id(self):
        with open(os.path.join(self.home, "pilots", "broker-id")) as f:
            return f.read().strip()

    def pilot_jobs(self):
        """{slurm job id: (state, node)} of this broker's pilots."""
        if not os.path.exists(os.path.join(self.home, "pilots", "broker-id")):
            return {}
        out = self.cluster.squeue(f"--name=shoal-pilot-{self.broker_id()}", "--format=%i %T %N")
        jobs = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                jobs[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
        return jobs

    def submit(self, module, args=(), **spec):
        kind, body, _ = self.client.call("submit", {"module": module + ".wasm",
                                                    "args": [str(a) for a in args], **spec},
                                         harness.wasm(module))
        check(kind == "ok", f"submit answered {kind} {body}")
        return body["id"]

    def job(self, job_id):
        kind, body, _ = self.client.call("get", {"id": job_id})
        check(kind == "ok", f"get {job_id} answered {kind} {body}")
        return body

    def wait_state(self, job_id, states, timeout=120):
        def reached():
            j = self.job(job_id)
            return j if j["state"] in states else None
        try:
            return wait_for(f"job {job_id} to be {states}", reached, timeout=timeout)
        except TestFailure as e:
            raise TestFailure(f"{e}; it is {self.job(job_id)}; broker log:\n{self.log_tail()}")

    def logs(self, job_id):
        kind, body, frames = self.client.call("logs", {"id": job_id})
        out = {"stdout": b"", "stderr": b""}
        while kind == "log":
            out[body["stream"]] += frames[0] if frames else b""
            kind, body, frames = self.client.recv()
        check(kind == "end" or kind == "ok", f"logs of {job_id} answered {kind} {body}")
        return out

    def nodes(self):
        kind, body, _ = self.client.call("nodes")
        check(kind == "ok", f"nodes answered {kind} {body}")
        return body["nodes"]

    def shoal(self, *args):
        return subprocess.run([harness.SHOAL, *args], capture_output=True, text=True,
                              env=dict(os.environ, SHOAL_HOME=self.home))


def chaos_output(k):
    """The stdout and stderr of chaos_job K (tests/wasm/chaos_job.c) start so."""
    return f"job {k}\n".encode(), f"{k} done".encode()


def check_chaos_job(b, job_id, k):
    """The job ended exactly once, Completed, with chaos_job K's output."""
    j = b.wait_state(job_id, ["Completed", "Failed", "Stopped"], timeout=240)
    check(j["state"] == "Completed", f"job {job_id} ended {j['state']}: {j.get('message')}")
    ends = [e for e in j["executions"] if e["state"] == "Completed"]
    check(len(ends) == 1, f"job {job_id} has {len(ends)} completed executions: {j['executions']}")
    check(j["executions"][-1]["state"] == "Completed", f"the last execution: {j['executions']}")
    out = b.logs(job_id)
    want_out, want_err = chaos_output(k)
    check(out["stdout"].startswith(want_out), f"job {job_id} stdout {out['stdout'][:80]!r}")
    check(out["stderr"].startswith(want_err), f"job {job_id} stderr {out['stderr'][:80]!r}")
    check(out["stdout"].count(b"job ") == 1, f"job {job_id} stdout twice: {out['stdout']!r}")
    return j
