#!/usr/bin/python3
"""The wordcount example through the Python client (examples/python_client.py):
the same map and fan-in as run.sh, speaking the protocol directly.

    wordcount.py TEXT_DIR [RESULT_FILE]

submits one wordcount job per regular file in TEXT_DIR, waits for them all,
fetches each job's /outputs/counts.txt with the output command into a
temporary directory, runs the merge job over it, and writes the merged
counts to RESULT_FILE (default: stdout). WASM_DIR says where wordcount.wasm
and merge.wasm are (default: build/tests/examples in this repository). The
broker must be running (shoal serve). Exit status: 0 on success, 1 when a job
did not complete with exit code 0, 2 when the client could not do its work.
"""

import os
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from python_client import Client, ShoalError  # noqa: E402


def check(jobs):
    bad = [j for j in jobs if j["state"] != "Completed" or j["exit_code"] != 0]
    for j in bad:
        print("wordcount.py: job %s (%s): %s, exit code %s %s" % (
            j["id"], j["name"], j["state"], j["exit_code"], j["message"]), file=sys.stderr)
    return not bad


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    texts = os.path.abspath(sys.argv[1])
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    wasm = os.environ.get("WASM_DIR") or os.path.join(repo, "build", "tests", "examples")
    with open(os.path.join(wasm, "wordcount.wasm"), "rb") as f:
        wordcount = f.read()
    with open(os.path.join(wasm, "merge.wasm"), "rb") as f:
        merge = f.read()
    files = sorted(n for n in os.listdir(texts) if os.path.isfile(os.path.join(texts, n)))
    if not files:
        print("wordcount.py: no files in %s" % texts, file=sys.stderr)
        return 1

    try:
        client = Client()
        # Map: all submissions first, then all the waiting.
        specs = [{"name": "wordcount " + n, "module": "wordcount.wasm",
                  "inputs": [{"source": os.path.join(texts, n), "target": "/inputs/text.txt"}]}
                 for n in files]
        ids = client.submit_many(specs, wordcount)
        done = client.wait_all(ids)
        if not check(done.values()):
            return 1
        with tempfile.TemporaryDirectory(prefix="wordcount-") as gathered:
            for i, job_id in enumerate(ids):
                with open(os.path.join(gathered, "%d.txt" % i), "wb") as f:
                    f.write(client.output(job_id, "outputs", "counts.txt"))
            # Fan-in: the merge job reads the gathered directory at /inputs.
            spec = {"name": "wordcount merge", "module": "merge.wasm",
                    "inputs": [{"source": gathered, "target": "/inputs"}]}
            [merge_id] = client.submit_many([spec], merge)
            end = client.wait_all([merge_id])[merge_id]
            if not check([end]):
                return 1
            counts = client.output(merge_id, "outputs", "counts.txt")
        client.close()
    except ShoalError as e:
        print("wordcount.py: %s" % e, file=sys.stderr)
        return 2
    if len(sys.argv) == 3:
        with open(sys.argv[2], "wb") as f:
            f.write(counts)
    else:
        sys.stdout.buffer.write(counts)
    print("wordcount.py: %d texts, %d distinct words" % (len(files), counts.count(b"\n")),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
