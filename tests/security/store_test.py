#!/usr/bin/python3
"""A damaged store (issue 15, item 8): a copy of a store of a few hundred jobs
(some run by a real broker, with logs and output files; the rest written by
broker/fill-store), damaged on purpose, then read by the real broker and CLI:
`job list`, `job describe`, `job logs`, `job get`, a job run from the stored
module, and `shoal doctor`. Every answer is the right bytes or a clear error
naming the damage ("corrupt record KEY", "damaged store records skipped");
never a crash (an exit by signal), never a corrupted module run, never a
silently shorter list, and the broker's peak memory stays under 500 MB.

The random trials flip bits at offsets drawn from a seeded generator (the
seed is printed; SHOAL_TEST_SEED=N repeats a run) and zero one page. The
first two pages of the file, LMDB's own meta pages, are left alone: LMDB
checks those itself (tests/integration/store_faults_test.cpp).
"""
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import tempfile

import harness
from harness import Broker, check, log

SHOAL = os.path.abspath(harness.SHOAL)
FILL = os.environ.get("SHOAL_FILL_STORE") or os.path.join(
    os.path.dirname(SHOAL), "broker", "fill-store", "shoal-fill-store")
SEED = int(os.environ.get("SHOAL_TEST_SEED") or random.SystemRandom().randrange(1 << 32))
TRIALS = 20
FILLED = 300
PAGE = 4096
PEAK_LIMIT_KIB = 500 * 1024
MODULE = harness.wasm("args_env")
MODULE_SHA256 = hashlib.sha256(MODULE).hexdigest()


def shoal(home, *args, timeout=120):
    r = subprocess.run([SHOAL, *args], env=dict(os.environ, SHOAL_HOME=home),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    check(r.returncode >= 0, f"shoal {' '.join(args)} died of signal {-r.returncode}: "
          f"{r.stderr.decode(errors='replace')}")
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def args_env_stdout(args):
    argv = ["args_env.wasm", *args]
    return "".join([f"argc={len(argv)}\n"] + [f"arg[{i}]={a}\n" for i, a in enumerate(argv)])


class Base:
    """The undamaged store: jobs with logs, jobs with output files, and
    FILLED more written straight into it; what each should read back."""

    def __init__(self):
        self.dir = harness.temp_home("shoal-store-base-")
        broker = Broker(self.dir, workers=1)
        broker.start()
        check(broker.wait_ready(), "the broker did not start")
        c = harness.connect(broker.endpoint)
        self.logs = {}     # job id -> its stdout
        self.outputs = []  # ids of jobs with 3 one-byte output files
        try:
            for i in range(6):
                args = ["line", str(i)]
                self.logs[self.submit(c, "args_env", args)] = args_env_stdout(args)
            for _ in range(3):
                self.outputs.append(self.submit(c, "flood_files", ["files", "/outputs", "3"]))
        finally:
            c.close()
            broker.shutdown()
        r = subprocess.run([FILL, self.dir + "/store", str(FILLED),
                            os.path.join(harness.WASM_DIR, "args_env.wasm")],
                           capture_output=True)
        check(r.returncode == 0, f"shoal-fill-store: {r.stderr.decode()}")
        code, out, err = shoal(self.dir, "job", "list", "--limit", "0", "--output", "json")
        check(code == 0 and not err, f"job list of the undamaged store: {code} {err}")
        self.ids = [j["ID"] for j in json.loads(out)]
        check(len(self.ids) == FILLED + 9, f"{len(self.ids)} jobs listed")
        code, out, err = shoal(self.dir, "doctor")
        check(code == 0 and out.endswith(", no damage\n"), f"doctor of the undamaged store: {out}{err}")
        shoal(self.dir, "shutdown")

    @staticmethod
    def submit(c, name, args):
        kind, body, _ = c.call("submit", {"module": name + ".wasm", "args": args, "watch": True},
                               harness.wasm(name))
        check(kind == "ok", f"submit {kind} {body}")
        kind, end, _ = c.recv(timeout=120)
        check(kind == "end" and end["state"] == "Completed", f"{name}: {kind} {end}")
        return body["id"]

    def copy(self):
        home = harness.temp_home("shoal-store-trial-")
        shutil.copytree(self.dir + "/store", home + "/store")
        return home


_base = None


def base():
    global _base
    if _base is None:
        _base = Base()
    return _base


def data_file(home):
    return home + "/store/data.mdb"


def flip_bit(home, offset, bit):
    with open(data_file(home), "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([b ^ (1 << bit)]))


def clear(err):
    """Whether an error message says what is damaged, or that the store
    cannot be used, rather than something unrelated."""
    return any(s in err for s in ("corrupt record", "damaged", "no job matches", "store: ",
                                  "has no output file"))


class Trial:
    """A broker on a damaged copy, and what its answers showed."""

    def __init__(self, home, what):
        self.home = home
        self.what = what
        self.trouble = []  # clear errors seen: the doctor must find damage then

    def expect(self, ok, code, out, err, doing):
        """An answer is right (ok), or a clear error; never wrong bytes with success."""
        if code == 0 and ok:
            return
        check(code != 0 and clear(err),
              f"{self.what}: {doing}: exit {code}, wrong or unclear answer: {out[:300]!r} {err[:300]!r}")
        self.trouble.append(f"{doing}: {err.strip()[:200]}")

    def run(self, b):
        broker = Broker(self.home, workers=1)
        broker.start()
        try:
            up = broker.wait_ready()
        except harness.TestFailure:
            up = False
        if not up:
            code = broker.proc.wait(timeout=30)
            check(code > 0, f"{self.what}: the broker exited with {code} (a signal?)")
            with open(self.home + "/broker.log", errors="replace") as f:
                text = f.read()
            check("store: " in text, f"{self.what}: the broker refused the store without a word: {text[-500:]}")
            self.trouble.append("the broker refused the store")
            return
        try:
            self.read_all(b, broker)
        finally:
            peak = harness.rss_kib(broker.pid, "VmHWM") if harness.alive(broker.pid) else 0
            check(broker.proc.poll() is None,
                  f"{self.what}: the broker died (status {broker.proc.returncode})")
            broker.shutdown()
            check(broker.proc.returncode == 0, f"{self.what}: the broker ended with {broker.proc.returncode}")
        check(peak < PEAK_LIMIT_KIB, f"{self.what}: the broker's peak RSS was {peak} KiB")

    def read_all(self, b, broker):
        code, out, err = shoal(self.home, "job", "list", "--limit", "0", "--output", "json")
        listed = json.loads(out) if code == 0 else []
        if code == 0 and len(listed) < len(b.ids):
            # Fewer jobs: only when it says which records it skipped.
            check("damaged store record" in err and "skipped" in err,
                  f"{self.what}: job list showed {len(listed)} of {len(b.ids)} jobs and said: {err!r}")
            self.trouble.append(f"list: {err.strip()[:200]}")
        else:
            self.expect(len(listed) == len(b.ids) and not err, code, out, err, "job list")
        sample = list(b.logs) + b.outputs + b.ids[:: max(1, len(b.ids) // 20)]
        for jid in sample:
            code, out, err = shoal(self.home, "job", "describe", jid, "--output", "json")
            self.expect(code == 0 and json.loads(out)["Job"]["ID"] == jid, code, out, err, f"describe {jid}")
        for jid, stdout in b.logs.items():
            code, out, err = shoal(self.home, "job", "logs", jid)
            self.expect(out == stdout, code, out, err, f"logs {jid}")
        for jid in b.outputs:
            d = tempfile.mkdtemp(prefix="shoal-store-get-")
            code, out, err = shoal(self.home, "job", "get", jid, "--output-dir", d)
            files = sorted(os.listdir(d + "/outputs")) if os.path.isdir(d + "/outputs") else []
            right = files == ["f000000", "f000001", "f000002"] and all(
                open(os.path.join(d, "outputs", f), "rb").read() == b"x" for f in files)
            self.expect(right, code, out, err, f"get {jid}")
            shutil.rmtree(d, ignore_errors=True)
        # The stored module, named by its hash: it runs as it was, or the job
        # fails naming the hash as damaged; damaged bytes never run.
        c = harness.connect(broker.endpoint)
        try:
            kind, body, _ = c.call("submit", {"module": "args_env.wasm", "args": ["stored"],
                                              "module_sha256": MODULE_SHA256, "watch": True})
            if kind != "ok":
                check(kind == "error" and clear(body["error"]) or "no module with module_sha256" in body["error"],
                      f"{self.what}: submit by hash: {kind} {body}")
                self.trouble.append(f"submit: {body['error'][:200]}")
            else:
                kind, end, _ = c.recv(timeout=120)
                check(kind == "end", f"{self.what}: {kind} {end}")
                if end["state"] == "Completed":
                    # Its output is right, or cannot be read back (a damaged
                    # page of the logs table), saying so.
                    code, out, err = shoal(self.home, "job", "logs", body["id"])
                    if code == 0 and out == "":
                        # Written into a tree whose pages are damaged, the chunk
                        # may land where no lookup finds it: LMDB's structure is
                        # its own. The doctor must then report the damage.
                        self.trouble.append("the new job's logs are missing")
                    else:
                        self.expect(out == args_env_stdout(["stored"]), code, out, err,
                                    "logs of the job of the stored module")
                else:
                    check(end["state"] == "Failed" and MODULE_SHA256 in end["message"]
                          and "damaged" in end["message"],
                          f"{self.what}: a job of the stored module: {end['state']}: {end['message']}")
                    self.trouble.append(f"run: {end['message'][:200]}")
        finally:
            c.close()

    def doctor(self):
        code, out, err = shoal(self.home, "doctor")
        check(code in (0, 1), f"{self.what}: doctor exited {code}: {out[-500:]} {err[-500:]}")
        if self.trouble:
            check(code == 1, f"{self.what}: doctor found nothing, but {self.trouble[0]}")
        if code == 1:
            check("damaged" in out + err, f"{self.what}: doctor exited 1 saying {out[-300:]} {err[-300:]}")
        return code, out + err


def children_peak_kib():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


# ---------------------------------------------------------------- cases


def test_a_flipped_byte_in_one_job_record_is_named_by_list_describe_and_doctor_then_repaired():
    b = base()
    home = b.copy()
    victim = b.ids[len(b.ids) // 2]
    with open(data_file(home), "rb") as f:
        data = f.read()
    # The record's payload starts with its id, after its 8-byte length; pages
    # of earlier transactions may hold older copies: all are damaged.
    needle = len(victim).to_bytes(8, "little") + victim.encode()
    at = data.find(needle)
    check(at > 0, f"record of {victim} not found in the data file")
    while at > 0:
        flip_bit(home, at + 80, 3)
        at = data.find(needle, at + 1)

    code, out, err = shoal(home, "job", "describe", victim)
    check(code != 0 and f"store: corrupt record jobs/{victim} in {home}/store: checksum mismatch"
          in err, f"describe: {code} {err!r}")
    code, out, err = shoal(home, "job", "list", "--limit", "0", "--output", "json")
    check(code == 0 and len(json.loads(out)) == len(b.ids) - 1, f"list: {code} {err!r}")
    check(err == "shoal: 1 damaged store record skipped (run `shoal doctor`):\n"
          f"  jobs/{victim}: checksum mismatch (the bytes changed after they were written)\n",
          f"list said {err!r}")
    code, out, err = shoal(home, "doctor")
    check(code == 1, f"doctor exited {code}")
    check(f"damaged: jobs/{victim}: checksum mismatch" in out, out)
    check(out.endswith("1 damaged; `shoal doctor --repair` (with the broker stopped) removes them\n"),
          out)
    # Repair writes: refused while the broker runs.
    code, out, err = shoal(home, "doctor", "--repair")
    check(code == 125 and "stop it with `shoal shutdown`" in err, f"repair beside the broker: {code} {err!r}")
    shoal(home, "shutdown")
    code, out, err = shoal(home, "doctor", "--repair")
    check(code == 0 and f"removed: jobs/{victim}" in out, f"repair: {code} {out} {err}")
    code, out, err = shoal(home, "doctor")
    check(code == 0 and out.endswith(", no damage\n"), f"doctor after repair: {out}")
    code, out, err = shoal(home, "job", "list", "--limit", "0", "--output", "json")
    check(code == 0 and not err and len(json.loads(out)) == len(b.ids) - 1, f"list after repair: {err}")
    shoal(home, "shutdown")
    shutil.rmtree(home, ignore_errors=True)


def test_a_damaged_stored_module_fails_its_job_naming_the_hash_and_never_runs():
    b = base()
    home = b.copy()
    with open(data_file(home), "rb") as f:
        data = f.read()
    at = data.find(MODULE)
    check(at > 0, "the module's bytes not found in the data file")
    while at > 0:
        flip_bit(home, at + len(MODULE) // 2, 0)
        at = data.find(MODULE, at + 1)
    broker = Broker(home, workers=1)
    broker.start()
    check(broker.wait_ready(), "the broker did not start")
    c = harness.connect(broker.endpoint)
    try:
        kind, body, _ = c.call("submit", {"module": "args_env.wasm", "args": ["x"],
                                          "module_sha256": MODULE_SHA256, "watch": True})
        check(kind == "ok", f"submit: {kind} {body}")
        kind, end, _ = c.recv(timeout=120)
        check(kind == "end" and end["state"] == "Failed", f"{kind} {end}")
        check(end["message"].startswith(
            f"store: the module or input with SHA-256 {MODULE_SHA256} is damaged: corrupt record "
            f"blobs/{MODULE_SHA256} in {home}/store: its bytes do not match their SHA-256"),
            end["message"])
        check(end["executions"] == [], f"it ran: {end['executions']}")
    finally:
        c.close()
        broker.shutdown()
    code, out, err = shoal(home, "doctor")
    check(code == 1 and f"damaged: blobs/{MODULE_SHA256}: its bytes do not match" in out, out)
    code, out, err = shoal(home, "doctor", "--repair")
    check(code == 0, f"repair: {out} {err}")
    # Sent again, the module is stored afresh and runs.
    code, out, err = shoal(home, "wasm", "run", os.path.join(harness.WASM_DIR, "args_env.wasm"), "again")
    check(code == 0 and out == args_env_stdout(["again"]), f"run after repair: {code} {out} {err}")
    shoal(home, "shutdown")
    shutil.rmtree(home, ignore_errors=True)


def test_random_bit_flips_and_a_zeroed_page_give_clear_errors_bounded_memory_and_no_crash():
    log(f"seed {SEED} (SHOAL_TEST_SEED={SEED} repeats it)")
    rng = random.Random(SEED)
    b = base()
    size = os.path.getsize(data_file(b.dir))
    damaged = 0
    for trial in range(TRIALS):
        home = b.copy()
        if trial == 0:
            page = rng.randrange(2, size // PAGE)
            with open(data_file(home), "r+b") as f:
                f.seek(page * PAGE)
                f.write(b"\0" * PAGE)
            what = f"trial {trial} (seed {SEED}): page {page} zeroed"
        else:
            flips = [(rng.randrange(2 * PAGE, size), rng.randrange(8)) for _ in range(8)]
            for offset, bit in flips:
                flip_bit(home, offset, bit)
            what = f"trial {trial} (seed {SEED}): bits flipped at {flips}"
        t = Trial(home, what)
        try:
            t.run(b)
        finally:
            shoal(home, "shutdown")  # a broker a command started after a failure
        code, report = t.doctor()
        damaged += code == 1
        log(f"{what}: {len(t.trouble)} clear errors; doctor: "
            f"{report.strip().splitlines()[-1] if report.strip() else ''}")
        if code == 1 and "restore it from a backup" in report:
            # The pages that say where the tables are: nothing to repair from.
            check("is damaged" in report, f"{what}: {report}")
        elif code == 1:
            # The repair copies the sound records into a new store: clean after.
            code, out, err = shoal(home, "doctor", "--repair")
            check(code == 0, f"{what}: repair exited {code}: {out[-500:]} {err[-500:]}")
            code, out, err = shoal(home, "doctor")
            check(code == 0, f"{what}: damage left after the repair: {out[-500:]}")
        shutil.rmtree(home, ignore_errors=True)
    peak = children_peak_kib()
    log(f"{damaged} of {TRIALS} damaged copies reported by doctor; peak RSS of any process: {peak} KiB")
    check(peak < PEAK_LIMIT_KIB, f"a process peaked at {peak} KiB")
    check(damaged > 0, "no trial damaged anything the doctor saw")


if __name__ == "__main__":
    try:
        harness.run_cases(globals())
    finally:
        if _base is not None:
            shutil.rmtree(_base.dir, ignore_errors=True)
