#!/usr/bin/env python3
"""The folder layout is the architecture (docs/architecture.md, "Map"):

  - each folder includes only the folders the map allows;
  - a program that links only the client library (examples/cpp_client) needs
    neither LMDB, spdlog nor libnode, and `shoal` needs no libnode;
  - no function in broker/, worker/, client/, cli/, api/ or bacalhau/ is over 80 lines
    (tools/function-sizes).

Run by `meson test layout`; also directly:
  SOURCE_ROOT=. CPP_CLIENT=build/examples/cpp_client SHOAL_BIN=build/shoal \
    /usr/bin/python3 tests/layout/layout_test.py [case]
"""
import contextlib
import io
import os
import re
import subprocess
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import cases  # noqa: E402
from cases import check, failures  # noqa: E402,F401

ROOT = os.environ.get("SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Which project folders each folder may include (besides itself). Keep in
# step with the table in docs/architecture.md.
ALLOWED = {
    "protocol": set(),
    "host": {"protocol"},
    "wasi": set(),
    "client": {"protocol", "host"},
    "worker": {"protocol", "host", "wasi"},
    "broker": {"protocol", "host", "wasi"},
    "bacalhau": {"protocol"},
    "api": {"protocol", "host", "client", "bacalhau"},
    "apiclient": {"protocol"},
    "cli": {"protocol", "host", "client", "broker", "api", "bacalhau", "apiclient"},
    "examples": {"client"},
    "tools": set(),
}
# cli/ embeds the broker for `shoal serve` and opens the store for `doctor`
# and `compact`: through these headers only.
CLI_BROKER_HEADERS = {"broker/broker.h", "broker/serve_config.h", "broker/store.h"}
# The broker's jobs as pure state (docs/architecture.md, "The broker's
# parts"): no sockets, files or loop; it includes only protocol/ and itself.
PURE_STATE = {"broker/job_table.h", "broker/job_table.cpp"}
FOLDERS = set(ALLOWED) | {"tests", "subprojects"}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def sources(folder):
    for dirpath, _, names in os.walk(os.path.join(ROOT, folder)):
        for n in names:
            if n.endswith((".cpp", ".h", ".c", ".cc")):
                yield os.path.join(dirpath, n)


def include_violations():
    """(file, included header) pairs that the map forbids."""
    bad = []
    for folder, allowed in ALLOWED.items():
        for path in sources(folder):
            text = open(path, encoding="utf-8", errors="replace").read()
            rel = os.path.relpath(path, ROOT)
            for inc in INCLUDE.findall(text):
                top = inc.split("/")[0]
                if rel in PURE_STATE and top == folder and inc not in PURE_STATE:
                    bad.append((rel, inc))
                    continue
                if "/" not in inc or top not in FOLDERS or top == folder:
                    continue  # same folder, system-style or generated headers
                rel = os.path.relpath(path, ROOT)
                if rel in PURE_STATE and top != "protocol" and inc not in PURE_STATE:
                    bad.append((rel, inc))
                    continue
                if top not in allowed:
                    bad.append((rel, inc))
                elif folder == "cli" and top == "broker" and inc not in CLI_BROKER_HEADERS:
                    bad.append((rel, inc))
    return bad


def test_each_folder_includes_only_what_the_map_allows():
    bad = include_violations()
    check(not bad, "includes the map forbids:\n" + "\n".join(f"  {f}: {i}" for f, i in bad))


def test_the_include_check_sees_a_forbidden_include():
    # The check itself must be able to fail: a worker/ file that includes a
    # broker/ header is reported.
    probe = os.path.join(ROOT, "worker", ".layout_probe.h")
    with open(probe, "w") as f:
        f.write('#include "broker/store.h"\n')
    try:
        bad = include_violations()
    finally:
        os.remove(probe)
    check(("worker/.layout_probe.h", "broker/store.h") in bad,
          f"a probe including broker/store.h from worker/ was not reported: {bad}")


def needed_libraries(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_a_program_linking_only_the_client_library_needs_no_lmdb_spdlog_or_v8():
    binary = os.environ["CPP_CLIENT"]
    libs = needed_libraries(binary)
    check(any(l.startswith("libzmq") for l in libs), f"cpp_client does not need libzmq? {libs}")
    for name in ("liblmdb", "libspdlog", "libnode", "libyaml-cpp", "libfmt"):
        hits = [l for l in libs if l.startswith(name)]
        check(not hits, f"cpp_client (client library only) needs {hits}")


def test_the_shoal_command_never_needs_libnode():
    libs = needed_libraries(os.environ["SHOAL_BIN"])
    check(not [l for l in libs if l.startswith("libnode")], f"shoal needs libnode: {libs}")


def test_no_function_in_broker_worker_client_or_cli_is_over_80_lines():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "function-sizes")],
                       capture_output=True, text=True)
    check(r.returncode == 0, "tools/function-sizes:\n" + r.stdout + r.stderr)


def test_the_one_python_runner_fails_on_a_check_a_crash_and_a_name_it_lacks():
    # tests/support/cases.py decides every Python test's exit status.
    before = len(failures)

    def test_good():
        check(True, "never said")

    def test_bad():
        check(False, "a failed check")

    def test_crash():
        raise RuntimeError("boom")

    with contextlib.redirect_stdout(io.StringIO()) as out:
        got = (cases.run({"test_good": test_good}, argv=[]),
               cases.run({"test_good": test_good, "test_bad": test_bad}, argv=[]),
               cases.run({"test_crash": test_crash}, argv=[]),
               cases.run({"test_good": test_good}, argv=["nosuch"]),
               cases.run({"test_bad": test_bad}, argv=["good"]),
               cases.run({}, argv=[]))
    del failures[before:]
    check(got == (0, 1, 1, 1, 1, 1), f"exit statuses {got}:\n{out.getvalue()}")
    said = out.getvalue()
    check("FAIL bad" in said and "a failed check" in said and "RuntimeError: boom" in said
          and "no test case named nosuch" in said, f"what the runner printed:\n{said}")


if __name__ == "__main__":
    sys.exit(cases.run(globals()))
