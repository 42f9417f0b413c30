"""tools/bench --only pools: one broker against N worker pools started as
Slurm pilot jobs, side by side with a broker that has its local pool only
(docs/scale.md).

A real Slurm test cluster (tests/slurm/cluster.sh; root) runs the pilots:
each is `sbatch -c 1 tools/bench-pilot ...`, a `shoal worker --connect
tcp://BRIDGE:PORT+1 --slots K` on a node, with one worker key the broker
authorises. The broker is `shoal serve --listen tcp://BRIDGE:PORT --workers
0` in a state directory of its own. The pilots are grown step by step (1,
5, 10, ...): each step submits the pilots it adds, waits until every pool is
connected with all its slots ready (the broker's `nodes` command; Slurm's
start of 40+ pilots takes seconds, which is not timed), then measures:

- idle: the broker's CPU per second with the pools connected and no jobs
  (heartbeats both ways, one per worker per second);
- one at a time: --pool-runs trivial jobs, each submitted with `watch`
  once the one before ended: dispatch latency (the job's `created` to its
  execution's `started`, from the job's history: millisecond resolution) and
  submit-to-end at the client;
- load: --pool-jobs trivial jobs, 256 in flight: jobs/s from the first
  submission to the last end, dispatch latency p50/p99 under load (the
  queue's wait included), the broker's CPU per job (/proc/PID/stat before
  and after) and its RSS after.

The same three phases run first against the bench's own broker (local pool
only, one worker per core).
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import time
from datetime import datetime

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
PILOT = os.path.join(TOOLS, "bench-pilot")
CLUSTER = os.path.join(ROOT, "tests", "slurm", "cluster.sh")


def iso_ms(text):
    """Milliseconds since the epoch of a job JSON time (`...T23:25:20.365Z`)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def dispatch_ms(job):
    """A finished job's created-to-started, in ms (its last execution)."""
    return iso_ms(job["executions"][-1]["started"]) - iso_ms(job["created"])


def pct(values, p):
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port_pair(host):
    for _ in range(50):
        a, b = socket.socket(), socket.socket()
        try:
            a.bind((host, 0))
            port = a.getsockname()[1]
            b.bind((host, port + 1))
            return port
        except OSError:
            continue
        finally:
            a.close()
            b.close()
    raise RuntimeError(f"no two free adjacent ports on {host}")


class BrokerLink:
    """The client protocol on a broker's ipc socket (one DEALER)."""

    def __init__(self, home):
        import zmq
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SNDHWM, 0)
        self.socket.setsockopt(zmq.RCVHWM, 0)
        self.socket.connect("ipc://" + os.path.join(home, "run", "broker.sock"))

    def call(self, command, body=None):
        self.socket.send_multipart([b"shoal/1", command.encode(), json.dumps(body or {}).encode()])
        rep = self.socket.recv_multipart()
        if rep[1] != b"ok":
            raise RuntimeError(f"{command}: {rep[2].decode(errors='replace')}")
        return json.loads(rep[2])

    def close(self):
        self.socket.close()


def submit_frames(module):
    body = json.dumps({"module": "hello.wasm", "args": [], "env": [], "watch": True}).encode()
    return [b"shoal/1", b"submit", body, module]


def one_at_a_time(home, module, n):
    """n jobs, each submitted (with watch) once the one before ended: the
    dispatch latency of each (ms, from its history) and its submit-to-end
    at the client (ms)."""
    link = BrokerLink(home)
    frames = submit_frames(module)
    dispatch, wall = [], []
    for i in range(n + 3):
        t0 = time.perf_counter()
        link.socket.send_multipart(frames)
        while True:
            rep = link.socket.recv_multipart()
            if rep[1] == b"end":
                break
            if rep[1] == b"error":
                raise RuntimeError("submit: " + rep[2].decode())
        if i >= 3:  # the first runs warm the module caches
            wall.append((time.perf_counter() - t0) * 1000)
            dispatch.append(dispatch_ms(json.loads(rep[2])))
    link.close()
    return dispatch, wall


def under_load(home, module, n, window=256):
    """n jobs, `window` in flight: (seconds from the first submission to
    the last end, the dispatch latency of each in ms, jobs not Completed)."""
    link = BrokerLink(home)
    frames = submit_frames(module)
    sent = ended = 0
    dispatch, failed = [], 0
    t0 = time.perf_counter()
    while ended < n:
        while sent < n and sent - ended < window:
            link.socket.send_multipart(frames)
            sent += 1
        rep = link.socket.recv_multipart()
        if rep[1] == b"end":
            ended += 1
            job = json.loads(rep[2])
            if job.get("state") != "Completed":
                failed += 1
            elif job.get("executions"):
                dispatch.append(dispatch_ms(job))
        elif rep[1] == b"error":
            raise RuntimeError("submit: " + rep[2].decode())
    took = time.perf_counter() - t0
    link.close()
    return took, dispatch, failed


class Pools:
    """The pools section: see the module's docstring."""

    def __init__(self, bench, row):
        self.b, self.args, self.row = bench, bench.args, row
        self.counts = [int(x) for x in self.args.pilots.split(",") if x]
        self.slots = self.args.pilot_slots
        self.cluster_dir = self.args.slurm_dir
        self.own_cluster = not self.cluster_dir
        self.pilot_jobs = []
        self.proc = None
        self.results = []  # (label, dict of figures)

    # --- the cluster and the broker ----------------------------------------
    def slurm_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
        env["SLURM_CONF"] = os.path.join(self.cluster_dir, "etc", "slurm.conf")
        return env

    def start_cluster(self):
        if self.own_cluster:
            self.cluster_dir = os.path.join(self.b.tmp, "slurm")
            nodes = 9
            cpus = max(4, -(-max(self.counts) // nodes))
            print(f"  starting a Slurm test cluster: {nodes} nodes of {cpus} CPUs", flush=True)
            env = dict(os.environ, SHOAL_SLURM_NODES=str(nodes), SHOAL_SLURM_CPUS=str(cpus))
            subprocess.run(["bash", CLUSTER, "start", self.cluster_dir], env=env, check=True)
        values = {}
        with open(os.path.join(self.cluster_dir, "cluster.env")) as f:
            for line in f:
                if "=" in line and not line.startswith("#"):
                    k, v = line.replace("export ", "").strip().split("=", 1)
                    values[k] = v.strip("'")
        self.host_ip = values["SHOAL_SLURM_HOST_IP"]

    def start_broker(self):
        """`shoal serve --listen` on the bridge, no local workers, and one
        worker key for every pilot."""
        self.home = os.path.join(self.b.tmp, "pools-home")
        self.pilot_keys = os.path.join(self.b.tmp, "pilot-home")
        self.pilot_base = os.path.join(self.b.tmp, "pilots")
        os.makedirs(self.pilot_base)
        env = dict(self.b.env, SHOAL_HOME=self.home)
        self.env = env
        sh = self.b.shoal
        self.server_key = subprocess.run([sh, "keys"], env=env, check=True, capture_output=True,
                                         text=True).stdout.strip()
        wkey = subprocess.run([sh, "keys", "generate"], env=dict(env, SHOAL_HOME=self.pilot_keys),
                              check=True, capture_output=True, text=True).stdout.strip()
        subprocess.run([sh, "keys", "add-worker", "--name", "pilots", "--", wkey], env=env,
                       check=True, capture_output=True)
        port = free_port_pair(self.host_ip)
        self.endpoint = f"tcp://{self.host_ip}:{port + 1}"
        self.proc = subprocess.Popen([sh, "serve", "--quiet", "--listen",
                                      f"tcp://{self.host_ip}:{port}", "--workers", "0"],
                                     env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not os.path.exists(os.path.join(self.home, "run", "broker.sock")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("shoal serve --listen: " + self.proc.stderr.read().decode())
            time.sleep(0.05)
        BrokerLink(self.home).call("ping")

    def submit_pilots(self, count):
        for _ in range(count):
            r = subprocess.run(
                ["sbatch", "--parsable", "--job-name", "shoal-bench-pilot", "-c", "1",
                 "-o", os.path.join(self.pilot_base, "slurm-%j.out"), PILOT, self.b.shoal,
                 self.endpoint, self.server_key, os.path.join(self.pilot_keys, "keys"),
                 str(self.slots), self.pilot_base],
                env=self.slurm_env(), capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("sbatch: " + r.stderr.strip())
            self.pilot_jobs.append(r.stdout.strip().split(";")[0])

    def connected_pools(self):
        """Remote pools with every slot ready."""
        nodes = BrokerLink(self.home)
        try:
            got = nodes.call("nodes")["nodes"]
        finally:
            nodes.close()
        return sum(1 for p in got if p["remote"] and p["ready"] >= self.slots)

    def grow(self, n):
        t0 = time.perf_counter()
        self.submit_pilots(n - len(self.pilot_jobs))
        deadline = time.monotonic() + self.args.pilot_timeout
        while (have := self.connected_pools()) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{have} of {n} pilots connected after "
                                   f"{self.args.pilot_timeout:.0f} s (see {self.pilot_base})")
            time.sleep(0.25)
        return time.perf_counter() - t0

    def stop(self):
        if self.pilot_jobs:
            subprocess.run(["scancel", *self.pilot_jobs], env=self.slurm_env(),
                           capture_output=True)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.own_cluster and self.cluster_dir:
            subprocess.run(["bash", CLUSTER, "stop", self.cluster_dir], capture_output=True)

    # --- measuring ---------------------------------------------------------
    def measure(self, label, home, pid, profile=False):
        module = open(self.b.hello, "rb").read()
        perf = self.start_perf(pid, label, "idle") if profile else None
        c0 = cpu_seconds(pid)
        time.sleep(self.args.idle_seconds)
        idle = (cpu_seconds(pid) - c0) / self.args.idle_seconds * 1000
        if perf:
            self.end_perf(perf)
        seq, wall = one_at_a_time(home, module, self.args.pool_runs)
        perf = self.start_perf(pid, label, "load") if profile else None
        c0 = cpu_seconds(pid)
        took, loaded, failed = under_load(home, module, self.args.pool_jobs)
        cpu = cpu_seconds(pid) - c0
        if perf:
            self.end_perf(perf)
        fig = {"idle": idle, "seq50": statistics.median(seq), "seq99": pct(seq, 99),
               "wall50": statistics.median(wall), "rate": self.args.pool_jobs / took,
               "load50": statistics.median(loaded), "load99": pct(loaded, 99),
               "cpu": cpu / self.args.pool_jobs * 1000, "rss": rss_mib(pid), "failed": failed}
        self.results.append((label, fig))
        self.row("pools", f"{label}: idle broker CPU", f"{fig['idle']:.1f} ms/s")
        self.row("pools", f"{label}: one at a time, dispatch p50 / p99; submit-to-end p50",
                 f"{fig['seq50']:.0f} / {fig['seq99']:.0f} ms; {fig['wall50']:.1f} ms")
        self.row("pools", f"{label}: {self.args.pool_jobs} jobs, 256 in flight",
                 f"{fig['rate']:.0f} jobs/s; dispatch p50 / p99 {fig['load50']:.0f} / "
                 f"{fig['load99']:.0f} ms" + (f"; {failed} NOT COMPLETED" if failed else ""))
        self.row("pools", f"{label}: broker CPU per job; RSS",
                 f"{fig['cpu']:.3f} ms; {fig['rss']:.1f} MiB")

    def start_perf(self, pid, label, phase):
        if not shutil.which("perf"):
            return None
        out = os.path.join(self.b.tmp, f"perf-{phase}-{label.split()[0]}.data")
        p = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-p", str(pid), "-o", out],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        return p, out

    def end_perf(self, perf):
        p, out = perf
        p.send_signal(signal.SIGINT)
        p.wait(60)
        path = os.path.join(self.args.profile_dir, os.path.basename(out) + ".txt")
        with open(path, "w") as f:
            for how in ("--no-children", "--children"):  # self time, then with callees
                f.write(subprocess.run(["perf", "report", "-i", out, how, "--stdio",
                                        "--percent-limit", "1.5", "-g", "none"],
                                       capture_output=True, text=True).stdout)
        print(f"    perf report of the broker: {path}", flush=True)

    def run(self):
        print(f"pools (Slurm pilots of {self.slots} slot(s) against one broker)", flush=True)
        if os.geteuid() != 0:
            self.row("pools", "Slurm pilots", "skipped: needs root (tests/slurm/cluster.sh)")
            return
        try:
            local_pid = self.b.broker_pid()
            workers = os.cpu_count()
            self.measure(f"local pool only ({workers} workers)", self.b.home, local_pid)
            self.start_cluster()
            self.start_broker()
            for n in self.counts:
                took = self.grow(n)
                self.row("pools", f"{n} pilot(s) x {self.slots} slot(s): all connected after",
                         f"{took:.1f} s (sbatch to ready; not timed below)")
                self.measure(f"{n} pilot{'' if n == 1 else 's'}", self.home, self.proc.pid,
                             profile=self.args.profile_dir and n == max(self.counts))
        finally:
            self.stop()
        self.table()

    def table(self):
        head = ("| broker | slots | idle CPU (ms/s) | dispatch p50 / p99, one at a time (ms) "
                "| submit-to-end p50 (ms) | jobs/s, 256 in flight | dispatch p50 / p99 "
                "under load (ms) | broker CPU per job (ms) | broker RSS (MiB) |")
        lines = [head, "|---" * 9 + "|"]
        for label, f in self.results:
            slots = (os.cpu_count() if label.startswith("local") else
                     int(label.split()[0]) * self.slots)
            lines.append(f"| {label} | {slots} | {f['idle']:.1f} | {f['seq50']:.0f} / "
                         f"{f['seq99']:.0f} | {f['wall50']:.1f} | {f['rate']:.0f} | "
                         f"{f['load50']:.0f} / {f['load99']:.0f} | {f['cpu']:.3f} | "
                         f"{f['rss']:.1f} |")
        self.b.results["pools_table"] = "\n".join(lines)
        print("\n" + "\n".join(lines), flush=True)
