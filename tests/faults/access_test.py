#!/usr/bin/python3
"""Another local user can neither submit, read nor stop this user's jobs.

Creates a throw-away user (needs root: skipped with a message otherwise),
starts a broker as the owner with a running job, then as the other user
tries the CLI with SHOAL_HOME pointing at the owner's state directory and a
raw ZeroMQ connection to the owner's socket: everything must be refused with
"Permission denied", the owner's job and store untouched, and the other
user's own shoal must get a broker of its own. The user is removed at the
end.
"""

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile

import harness
from harness import Session, check, log

SKIP = 77  # meson's "skipped"


def as_user(user, argv, env, timeout=60):
    return subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                           "--clear-groups", "--", *argv], env=env, capture_output=True,
                          timeout=timeout)


RAW_CLIENT = r"""
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.connect(sys.argv[1])
try:
    s.send_multipart([b"shoal/1", b"stop", b'{"id":"' + sys.argv[2].encode() + b'"}'],
                     zmq.NOBLOCK)
except zmq.Again:
    pass
print("answered" if s.poll(3000) else "no answer")
"""


def main():
    if os.geteuid() != 0:
        log("SKIP: creating a second user needs root")
        sys.exit(SKIP)
    if not shutil.which("useradd") or not shutil.which("setpriv"):
        log("SKIP: useradd or setpriv is missing")
        sys.exit(SKIP)
    name = f"shoalx{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    other_home = tempfile.mkdtemp(prefix="shoal-other-")
    try:
        other = pwd.getpwnam(name)
        os.chown(other_home, other.pw_uid, other.pw_gid)
        with Session("shoal-access-") as s:
            run_checks(s, other, other_home)
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(other_home, ignore_errors=True)


def run_checks(s, other, other_home):
    run_dir = s.home + "/run"
    for path, mode in ((s.home, 0o700), (run_dir, 0o700), (run_dir + "/broker.sock", 0o600)):
        got = stat.S_IMODE(os.stat(path).st_mode)
        check(got == mode, f"{path} has mode {got:o}, expected {mode:o}")
    job = s.submit("chaos_job", [1, 600000])  # runs until stopped
    s.wait_running(job, 1)
    env = {"PATH": os.environ["PATH"], "HOME": other_home, "SHOAL_HOME": s.home}
    # The binaries must be reachable by the other user, or every refusal
    # below would prove nothing.
    v = as_user(other, [harness.SHOAL, "--version"], env)
    check(v.returncode == 0, f"the other user cannot run shoal: {v.stderr!r}")

    module = os.path.join(harness.WASM_DIR, "chaos_job.wasm")
    attempts = {
        "submit": [harness.SHOAL, "wasm", "run", "--wait=false", module, "2"],
        "list": [harness.SHOAL, "job", "list"],
        "logs": [harness.SHOAL, "job", "logs", job],
        "describe": [harness.SHOAL, "job", "describe", job],
        "stop": [harness.SHOAL, "job", "stop", job],
        "shutdown": [harness.SHOAL, "shutdown"],
    }
    for what, argv in attempts.items():
        r = as_user(other, argv, env)
        out = (r.stdout + r.stderr).decode(errors="replace")
        # `shoal shutdown` exits 0 when it finds nothing to stop; the check
        # that it stopped nothing is the owner's broker still running below.
        check(r.returncode != 0 or what == "shutdown", f"{what} as another user succeeded: {out!r}")
        check("Permission denied" in out or "permission denied" in out,
              f"{what} as another user: no permission error in {out!r}")
        check(r.stdout == b"", f"{what} as another user printed {r.stdout!r}")
    # A raw ZeroMQ client as the other user: connect() to the socket is refused
    # by the directory's mode, so its stop never arrives.
    r = as_user(other, ["/usr/bin/python3", "-c", RAW_CLIENT, s.broker.endpoint, job], env)
    check(r.stdout.strip() == b"no answer", f"raw client: {r.stdout!r} {r.stderr!r}")
    # Nothing changed: the job runs, alone in the store.
    j = s.job(job)
    check(j["state"] == "Running", f"the owner's job is {j['state']}")
    check(not any("stop" in h["event"] for h in j["history"]), "a stop request got through")
    kind, body, _ = s.call("list", {"limit": 0})
    check(len(body["jobs"]) == 1, f"{len(body['jobs'])} jobs in the owner's store")
    check(s.broker.proc.poll() is None, "the owner's broker stopped")
    # The other user's own shoal gets its own broker in its own state dir.
    own_env = dict(env)
    del own_env["SHOAL_HOME"]
    r = as_user(other, [harness.SHOAL, "job", "list", "--output", "json"], own_env)
    check(r.returncode == 0, f"the other user's own broker: {r.stderr!r}")
    check(r.stdout.strip() == b"[]", f"the other user sees {r.stdout!r}")
    own = os.path.join(other_home, ".local/state/shoal")
    check(os.path.isdir(own + "/run") and os.stat(own + "/run").st_uid == other.pw_uid,
          "the other user's state directory is not its own")
    as_user(other, [harness.SHOAL, "shutdown"], own_env)
    kind, body, _ = s.call("stop", {"id": job})
    check(kind == "ok", f"the owner's stop: {kind} {body}")
    log(f"access: {len(attempts)} CLI commands and a raw ZeroMQ client as user "
        f"{other.pw_name} refused; the owner's job untouched")


if __name__ == "__main__":
    harness.run_main(main)
