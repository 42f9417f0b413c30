#!/bin/bash
# examples/python_client.py against a private broker: 100 jobs of exit_code
# with different arguments, each expected to exit with its own index; then a
# run whose expectations are wrong must exit 1 and name the jobs.
. "$(dirname "$0")/lib.sh"
: "${PYTHON:?}" "${PYTHON_CLIENT:?}" "${EXIT_CODE_WASM:?}"

out=$("$PYTHON" "$PYTHON_CLIENT" --timeout 30 --expect-exit '{i}' "$EXIT_CODE_WASM" '{i}' 2>&1)
expect_eq "status of 100 jobs as expected" 0 $?
expect_contains "submission" "submitted 100 jobs" "$out"
expect_contains "live logs of job 0" "live:
exiting with 0
--- job 0 ended Completed, exit code 0" "$out"
expect_contains "summary" "100 jobs: 100 Completed
100 as expected, 0 not" "$out"
# The broker saw them: 100 jobs with the client's label.
listed=$("$SHOAL_BIN" job list --labels client=python --limit 0 --output csv --hide-header | wc -l)
expect_eq "jobs listed with the label" 100 "$listed"

out=$("$PYTHON" "$PYTHON_CLIENT" --timeout 30 --jobs 4 --follow 2 "$EXIT_CODE_WASM" '{i}' 2>&1)
expect_eq "status when jobs exit with other codes" 1 $?
expect_contains "followed job" "--- logs of job 2" "$out"
expect_contains "followed output" "exiting with 2" "$out"
expect_contains "unexpected job named" "job 3 (" "$out"
expect_contains "unexpected reason" "Completed, exit code 3, expected Completed with 0" "$out"
expect_contains "count" "1 as expected, 3 not" "$out"

# The same as one job array: one submission, its summary, its tasks in order.
out=$("$PYTHON" "$PYTHON_CLIENT" --timeout 30 --array --jobs 50 --expect-exit '{i}' \
  "$EXIT_CODE_WASM" '{i}' 2>&1)
expect_eq "status of an array of 50 as expected" 0 $?
expect_contains "array submitted" "of 50 tasks" "$out"
expect_contains "array summary" "50 tasks: 50 completed, 0 failed, 0 stopped
50 as expected, 0 not" "$out"

# The submit frames beyond the module (docs/protocol.md), from Python: an
# import module and an inline input, then a frame count that does not match.
wasm_dir=$(dirname "$EXIT_CODE_WASM")
out=$("$PYTHON" - "$SHOAL_HOME" "$wasm_dir" <<'PY' 2>&1
import json, sys, zmq
home, wasm = sys.argv[1], sys.argv[2]
sock = zmq.Context().socket(zmq.DEALER)
sock.connect("ipc://" + home + "/run/broker.sock")
def send(command, body, *frames):
    sock.send_multipart([b"shoal/1", command.encode(), json.dumps(body).encode(), *frames])
def receive():
    _, kind, reply, *data = sock.recv_multipart()
    return kind.decode(), json.loads(reply), data
def until_end(command, body):
    send(command, body)
    text = b""
    while True:
        kind, reply, data = receive()
        if kind == "log":
            text += data[0]
        elif kind in ("end", "error"):
            return reply, text.decode()
read = lambda name: open(wasm + "/" + name, "rb").read()
send("submit", {"module": "cat_files.wasm", "args": ["/etc/motd"],
                "inline_inputs": [{"target": "/etc/motd"}]},
     read("cat_files.wasm"), b"", b"inline hello\n")
kind, body, _ = receive()
print("inline:", kind, body.get("error", ""))
until_end("watch", {"id": body["id"]})
_, text = until_end("logs", {"id": body["id"]})
print("logs:", text.replace("\n", "|"))
send("submit", {"module": "uses_mylib.wasm",
                "import_modules": [{"name": "mylib", "source": "mylib.wasm"}]},
     read("uses_mylib.wasm"), b"", read("mylib.wasm"))
kind, body, _ = receive()
job, _ = until_end("watch", {"id": body["id"]})
print("import:", job["state"], job["exit_code"], job["spec"]["import_modules"][0]["name"])
send("submit", {"import_modules": [{"name": "mylib"}]}, read("uses_mylib.wasm"))
kind, body, _ = receive()
print(kind, body["error"])
PY
)
expect_contains "inline input submitted" "inline: ok 
logs: == /etc/motd ==|inline hello|" "$out"
expect_contains "import module job" "import: Completed 0 mylib" "$out"
expect_contains "frame count refused" "error invalid job: expected 3 frames after the JSON body (the module, stdin, then each import module and each inline input), got 1" "$out"

out=$(SHOAL_HOME="$SHOAL_HOME/nowhere" "$PYTHON" "$PYTHON_CLIENT" "$EXIT_CODE_WASM" 2>&1)
expect_eq "status without a broker" 2 $?
expect_contains "message without a broker" "no broker is running for $SHOAL_HOME/nowhere" "$out"

finish
