#!/usr/bin/python3
"""Paths a client names: the broker checks them itself, where it turns them
into host paths, whatever the CLI checked before sending (docs/remote.md's
trust model). Each case sends what an attacker would, over the client
protocol of a real broker, and asserts the refusal's words and that
nothing happened on the host."""

import os
import tempfile

import harness
from harness import Session, check, wasm


def submit_raw(s, spec, module="tree_maker"):
    return s.call("submit", {"module": module + ".wasm", **spec}, wasm(module))


def test_an_output_name_that_climbs_out_of_the_scratch_area_is_refused_and_no_file_is_written():
    victim_dir = tempfile.mkdtemp(prefix="shoal-victim-")
    victim = os.path.join(victim_dir, "victim.txt")
    with open(victim, "w") as f:
        f.write("untouched")
    climb = "x/" + "../" * 12 + victim_dir.lstrip("/")
    with Session("shoal-sec-paths-") as s:
        for name, why in [
            (climb, "may use only letters, digits, '.', '_' and '-'"),
            ("..", "is not a usable directory name"),
            (".", "is not a usable directory name"),
            ("a/b", "may use only letters, digits, '.', '_' and '-'"),
            ("", "an output's name is empty"),
            ("stdout", "is taken by the file of that name that `shoal job get` writes"),
            ("x" * 256, "is longer than 255 bytes"),
        ]:
            kind, body, _ = submit_raw(s, {"args": ["write", "/o/victim.txt", "owned"],
                                           "outputs": [{"name": name, "path": "/o"}]})
            check(kind == "error", f"output name {name[:40]!r} was accepted: {kind} {body}")
            check(body["error"].startswith("invalid job: output ") and why in body["error"],
                  f"output name {name[:40]!r}: {body['error']!r}")
        # A name the broker accepts writes inside its own output only.
        kind, body, _ = submit_raw(s, {"args": ["write", "/o/victim.txt", "kept"],
                                       "outputs": [{"name": "fine", "path": "/o"}]})
        check(kind == "ok", f"a plain output name was refused: {body}")
        j = s.wait_state(body["id"], ["Completed", "Failed"])
        check(j["state"] == "Completed", f"{j['state']}: {j['message']}")
        check([(f["name"], f["path"]) for f in j["output_files"]] == [("fine", "victim.txt")],
              f"outputs {j['output_files']}")
    with open(victim) as f:
        check(f.read() == "untouched", "the host file was overwritten")


def test_a_nul_byte_in_any_string_field_is_refused_naming_the_field():
    cases = [
        ({"inputs": [{"source": "/etc/hostname\u0000x", "target": "/in/h"}]},
         "inputs[0].source"),
        ({"args": ["write", "/outputs/a\u0000b", "x"]}, "args[1]"),
        ({"env": ["A=1", "B=\u0000"]}, "env[1]"),
        ({"labels": {"k": "v\u0000"}}, "labels.k"),
        ({"labels": {"k\u0000": "v"}}, "a key in labels"),
        ({"name": "n\u0000"}, "name"),
        ({"outputs": [{"name": "o", "path": "/o\u0000/x"}]}, "outputs[0].path"),
        ({"entry_point": "_start\u0000"}, "entry_point"),
        ({"constraints": "a=b\u0000"}, "constraints"),
    ]
    with Session("shoal-sec-paths-") as s:
        for spec, field in cases:
            kind, body, _ = submit_raw(s, {"args": ["write", "/outputs/f", "x"], **spec})
            check(kind == "error", f"{field}: a NUL byte was accepted: {body}")
            check(body["error"] == f"invalid job: {field} contains a NUL byte",
                  f"{field}: {body['error']!r}")
        # Every command's body, not only a submission's.
        for command, body_in in [("get", {"id": "j-\u0000"}), ("logs", {"id": "x\u0000"}),
                                 ("output", {"id": "j", "name": "outputs", "path": "a\u0000"})]:
            kind, body, _ = s.call(command, body_in)
            check(kind == "error", f"{command}: a NUL byte was accepted: {body}")
            check(body["error"].startswith("malformed request: ") and
                  body["error"].endswith(" contains a NUL byte"), f"{command}: {body['error']!r}")
        kind, body, _ = s.call("list", {})
        check(kind == "ok" and body["jobs"] == [], f"a refused job was stored: {body}")


def test_an_output_path_longer_than_a_store_key_is_kept_and_fetched():
    # LMDB's keys hold 511 bytes; the file's path inside /outputs is 700.
    deep = "/".join(["d" * 99] * 7)
    with Session("shoal-sec-paths-") as s:
        jobs = []
        for i in range(3):  # in one batch with ordinary jobs, which must not suffer
            spec = {"args": ["deep", "/outputs", "7", "99"]} if i == 1 else \
                {"args": ["write", f"/outputs/plain{i}.txt", f"plain {i}"]}
            kind, body, _ = submit_raw(s, spec)
            check(kind == "ok", f"submit: {body}")
            jobs.append(body["id"])
        for i, job in enumerate(jobs):
            j = s.wait_state(job, ["Completed", "Failed"])
            check(j["state"] == "Completed", f"job {i}: {j['state']} {j['message']}")
        j = s.job(jobs[1])
        paths = [f["path"] for f in j["output_files"]]
        check(paths == [deep + "/bottom.txt"], f"outputs {paths}")
        kind, body, frames = s.call("output", {"id": jobs[1], "name": "outputs",
                                               "path": deep + "/bottom.txt"})
        check(kind == "ok" and frames == [b"deep"], f"output: {kind} {body} {frames}")
        kind, body, frames = s.call("output", {"id": jobs[0], "name": "outputs",
                                               "path": "plain0.txt"})
        check(kind == "ok" and frames == [b"plain 0"], f"output of the plain job: {frames}")


harness.run_cases(globals())
