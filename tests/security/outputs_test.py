#!/usr/bin/python3
"""Output trees a guest makes to hurt the broker: deeper than PATH_MAX,
longer than any path a client could write back, more files than the caps
(hundreds of thousands). Outputs are collected through directory
descriptors, every cap is said in the job's outputs_message, and the loop
keeps answering while the tree is collected and removed (the removal runs
on the reaper's thread)."""

import os
import threading
import time

import harness
from harness import Session, check, wasm


def submit(s, module, args, **spec):
    kind, body, _ = s.call("submit", {"module": module + ".wasm", "args": args, **spec},
                           wasm(module))
    check(kind == "ok", f"submit: {body}")
    return body["id"]


def finished(s, job):
    j = s.wait_state(job, ["Completed", "Failed"], timeout=300)
    check(j["state"] == "Completed", f"{j['state']}: {j['message']}")
    return j


def test_a_tree_deeper_than_path_max_on_the_host_is_collected_from_every_output():
    # 405 directories of 9 letters: 4,060 bytes below the output directory,
    # past PATH_MAX once the broker's scratch path is in front.
    depth, namelen = 405, 9
    expected = "/".join(["d" * namelen] * depth) + "/bottom.txt"
    with Session("shoal-sec-outputs-") as s:
        job = submit(s, "tree_maker", ["deep", "/a", str(depth), str(namelen)],
                     outputs=[{"name": "a", "path": "/a"}, {"name": "b", "path": "/b"}])
        j = finished(s, job)
        check(j["outputs_message"] == "", f"outputs_message {j['outputs_message']!r}")
        check([(f["name"], f["path"]) for f in j["output_files"]] == [("a", expected)],
              f"{len(j['output_files'])} outputs")
        kind, body, frames = s.call("output", {"id": job, "name": "a", "path": expected})
        check(kind == "ok" and frames == [b"deep"], f"output: {kind} {body}")
        # Both of two deep outputs are kept, whatever the directory order.
        job = submit(s, "tree_maker", ["deep", "/b", str(depth), str(namelen)],
                     outputs=[{"name": "a", "path": "/a"}, {"name": "b", "path": "/b"}])
        j = finished(s, job)
        check([(f["name"], f["path"]) for f in j["output_files"]] == [("b", expected)],
              f"second job's outputs {j['output_files'][:3]}")


def test_a_path_longer_than_any_client_could_write_is_named_not_dropped_silently():
    depth, namelen = 500, 9  # 5,000 bytes below /outputs
    with Session("shoal-sec-outputs-") as s:
        job = submit(s, "tree_maker", ["deep", "/outputs", str(depth), str(namelen)])
        j = finished(s, job)
        check(j["output_files"] == [], f"outputs {j['output_files'][:2]}")
        m = j["outputs_message"]
        check(m.startswith("1 files or directories were not collected: their paths inside the "
                           "output directory are longer than 4096 bytes (the first: outputs/ddd"),
              f"outputs_message {m[:200]!r}")
        check(any(h["topic"] == "Output" and h["event"] == m for h in j["history"]),
              "the history does not say it")


def test_hundreds_of_thousands_of_files_stop_at_the_cap_and_the_broker_keeps_answering():
    files = 150000
    with Session("shoal-sec-outputs-") as s:
        trash = os.path.join(s.broker.home, "scratch.trash")
        job = submit(s, "flood_files", ["files", "/outputs", str(files)])
        # Another client pings throughout: the loop must never stop answering
        # for long (a bound on a hang, generous for a loaded machine).
        worst = [0.0]
        done = threading.Event()

        def pinger():
            c = harness.connect(s.broker.endpoint)
            try:
                while not done.is_set():
                    started = time.monotonic()
                    kind, _, _ = c.call("ping", timeout=60)
                    worst[0] = max(worst[0], time.monotonic() - started)
                    time.sleep(0.02)
            finally:
                c.close()

        t = threading.Thread(target=pinger)
        t.start()
        try:
            j = finished(s, job)
            harness.wait_for("the scratch tree to be removed",
                             lambda: os.path.isdir(trash) and not os.listdir(trash), timeout=300)
        finally:
            done.set()
            t.join()
        check(len(j["output_files"]) == 10000, f"{len(j['output_files'])} output files kept")
        check(j["outputs_message"] == "outputs truncated: 10000 files (9.8 KiB) were kept; the "
              "collection stopped at the cap of 10000 files per job",
              f"outputs_message {j['outputs_message']!r}")
        check(worst[0] < 10, f"a ping waited {worst[0]:.1f} s")
        # The worker's scratch directory is ready again: the next job runs.
        job = submit(s, "tree_maker", ["write", "/outputs/after.txt", "after"])
        j = finished(s, job)
        check([f["path"] for f in j["output_files"]] == ["after.txt"], f"{j['output_files']}")


harness.run_cases(globals())
