#!/usr/bin/python3
"""Runs the official WASI test suite (Preview 1) against shoal.

    run.py [--path exec|job] [--strict] [--only SUBSTRING] [-v]

The suite is read from $SHOAL_WASI_TESTSUITE, else ../shared/wasi-testsuite
beside the repository (see its ORIGIN.md); when it is absent the run says so
and exits 77 (skipped), or 1 under CI=true. It is never copied into the
repository.

Each test is NAME.wasm with an optional NAME.json (doc/specification.md of the
suite): args, env (the program's whole environment), root (a directory
preopened as `/`), the exit code, and what stdout and stderr begin with;
or the same as `run`, `wait` and `read` operations. The root is copied to a
fresh temporary directory for each test (the suite itself stays untouched,
and its *.cleanup files are left out of the copy), so that every test starts
from the published fixtures.

--path exec runs `shoal exec --dir COPY::/`; --path job runs `shoal job run`
of a Bacalhau job spec through the broker of $SHOAL_HOME (a private one when
unset), with the copy as a local input source at `/` with ReadWrite (the
program changes its own copy of it) and no ResultPaths, so that, as under
exec, the program has no preopened directory but the root, if any.
--strict gives the Rust tests ERRNO_MODE_UNIX=1: Linux's exact errno choices
where they otherwise accept any of several.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SUITES = ["assemblyscript", "c", "rust"]


def suite_root():
    return os.environ.get("SHOAL_WASI_TESTSUITE") or os.path.join(
        os.path.dirname(REPO), "shared", "wasi-testsuite")


def find_tests(root):
    tests = []
    for suite in SUITES:
        d = os.path.join(root, "tests", suite, "testsuite", "wasm32-wasip1")
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith(".wasm"):
                tests.append((suite, os.path.join(d, name)))
    return tests


def load_spec(wasm):
    """(args, env, root, exit_code, stdout, stderr) from the test's JSON."""
    spec = {"args": [], "env": {}, "root": None, "exit_code": 0, "stdout": "", "stderr": ""}
    path = wasm[:-len(".wasm")] + ".json"
    if os.path.exists(path):
        with open(path) as f:
            j = json.load(f)
        if "operations" in j:
            for op in j["operations"]:
                t = op.get("type")
                if t == "run":
                    for k in ("args", "env", "root"):
                        if k in op:
                            spec[k] = op[k]
                elif t == "wait":
                    spec["exit_code"] = op.get("exit_code", 0)
                elif t == "read":
                    spec[op.get("id", "stdout")] = op.get("payload", "")
                else:
                    raise ValueError(f"{path}: operation {t!r} is not supported by this runner")
        else:
            spec.update({k: v for k, v in j.items() if k in spec})
    return spec


def copy_root(src, dest):
    shutil.copytree(src, dest, symlinks=True,
                    ignore=lambda d, names: [n for n in names if n.endswith(".cleanup")])


class Runner:
    def __init__(self, shoal, path, strict, timeout):
        self.shoal, self.path, self.strict, self.timeout = shoal, path, strict, timeout

    def command(self, wasm, spec, env, root, tmp):
        if self.path == "exec":
            cmd = [self.shoal, "exec", "--timeout", str(self.timeout)]
            if root:
                cmd += ["--dir", root + "::/"]
            for k, v in env.items():
                cmd += ["-e", f"{k}={v}"]
            return cmd + [wasm, "--", *spec["args"]]
        task = {"Name": "main",
                "Engine": {"Type": "wasm",
                           "Params": {"EntryModule": wasm, "Parameters": spec["args"]}},
                "Env": env,
                "Timeouts": {"ExecutionTimeout": self.timeout}}
        if root:
            task["InputSources"] = [{"Target": "/", "Source": {
                "Type": "local", "Params": {"SourcePath": root, "ReadWrite": True}}}]
        job = os.path.join(tmp, "job.json")
        with open(job, "w") as f:
            json.dump({"Name": os.path.basename(wasm), "Type": "batch", "Tasks": [task]}, f)
        return [self.shoal, "job", "run", job]

    def run(self, suite, wasm):
        """None when the test passed, else why not."""
        spec = load_spec(wasm)
        env = dict(spec["env"])
        if self.strict and suite == "rust":
            env["ERRNO_MODE_UNIX"] = "1"
        with tempfile.TemporaryDirectory(prefix="shoal-wasi-suite-") as tmp:
            root = None
            if spec["root"]:
                root = os.path.join(tmp, "root")
                copy_root(os.path.join(os.path.dirname(wasm), spec["root"]), root)
            cmd = self.command(wasm, spec, env, root, tmp)
            try:
                r = subprocess.run(cmd, capture_output=True, timeout=self.timeout + 60,
                                   env={**os.environ, "LC_ALL": "C"})
            except subprocess.TimeoutExpired:
                return f"no exit within {self.timeout + 60} s: {' '.join(cmd)}"
        problems = []
        if r.returncode != spec["exit_code"]:
            problems.append(f"exit code {r.returncode}, expected {spec['exit_code']}")
        for stream, got in (("stdout", r.stdout), ("stderr", r.stderr)):
            want = spec[stream].encode()
            if not got.startswith(want):
                problems.append(f"{stream} does not begin with {want[:200]!r}")
        if problems:
            return "; ".join(problems) + (
                f"\n      stdout: {r.stdout[-600:]!r}\n      stderr: {r.stderr[-600:]!r}")
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", choices=["exec", "job"], default="exec")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    root = suite_root()
    tests = find_tests(root)
    if not tests:
        print(f"the WASI test suite was not found at {root} (set SHOAL_WASI_TESTSUITE to its "
              "directory)", file=sys.stderr)
        return 1 if os.environ.get("CI") == "true" else 77
    if a.strict:
        tests = [t for t in tests if t[0] == "rust"]
    tests = [t for t in tests if a.only in t[1]]
    shoal = os.environ.get("SHOAL_BIN") or os.path.join(REPO, "build", "shoal")
    home = None
    if a.path == "job" and not os.environ.get("SHOAL_HOME"):
        home = tempfile.mkdtemp(prefix="shoal-wasi-suite-home-")
        os.environ["SHOAL_HOME"] = home
    runner = Runner(shoal, a.path, a.strict, a.timeout)
    failed = []
    try:
        for suite, wasm in tests:
            name = f"{suite}/{os.path.basename(wasm)[:-5]}"
            why = runner.run(suite, wasm)
            if why:
                failed.append(name)
                print(f"FAIL  {name}: {why}")
            elif a.verbose:
                print(f"ok    {name}")
    finally:
        if home:
            subprocess.run([shoal, "shutdown"], capture_output=True)
            shutil.rmtree(home, ignore_errors=True)
    mode = f"{a.path}{', strict errno' if a.strict else ''}"
    print(f"WASI test suite ({mode}): {len(tests) - len(failed)} of {len(tests)} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
