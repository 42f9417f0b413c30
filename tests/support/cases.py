"""The one runner of a Python test file's cases.

run(globals()) calls every function named test_* in definition order (or
those named on the command line, with or without the test_ prefix), prints
PASS or FAIL for each with what failed, then a count, and returns the exit
status: 1 when a case failed, when a name given matches no case, or when
there is no case at all.

A case fails when it raises (harness.check raises TestFailure; any crash
counts, as a failure of that case only) or when it called check() below
with a false condition: check() notes the message and lets the case go on,
so one case can report several problems. A case that takes a parameter gets
the fixture: made by calling fixture() when the first such case starts,
shared by the rest, stopped (.stop()) when all have run.
"""
import sys
import time

failures = []  # the messages of the failed check() calls so far


def check(ok, message):
    """Notes `message` as a failure of the running case when `ok` is false."""
    if not ok:
        failures.append(message)
    return ok


def _selected(namespace, argv):
    cases = [(n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f)]
    if not argv:
        return cases, []
    unknown = [a for a in argv if not any(a in (n, n[5:]) for n, _ in cases)]
    return [(n, f) for n, f in cases if n in argv or n[5:] in argv], unknown


def _run_one(fn, fixture, shared):
    if fn.__code__.co_argcount:
        if not shared:
            shared.append(fixture())
        fn(shared[0])
    else:
        fn()


def run(namespace, fixture=None, argv=None):
    cases, unknown = _selected(namespace, sys.argv[1:] if argv is None else argv)
    if unknown or not cases:
        print("no test case named " + ", ".join(unknown) if unknown else "no test cases", flush=True)
        return 1
    failed = 0
    shared = []
    try:
        for name, fn in cases:
            before = len(failures)
            started = time.monotonic()
            try:
                _run_one(fn, fixture, shared)
            except Exception as e:  # a crash is a failure of this case, not of the others
                failures.append(str(e) if type(e).__name__ == "TestFailure"
                                else f"{type(e).__name__}: {e}")
            ok = len(failures) == before
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {name[5:]} ({time.monotonic() - started:.1f} s)",
                  flush=True)
            for m in failures[before:]:
                print("      " + str(m).replace("\n", "\n      "), flush=True)
    finally:
        for s in shared:
            s.stop()
    print(f"{len(cases) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0
