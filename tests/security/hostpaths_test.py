#!/usr/bin/python3
"""Who may name host paths as inputs (issue 15, item 3; docs/remote.md,
"Trust model").

A client over TCP (CURVE on 127.0.0.1 here) may name only files inside the
data roots the broker was started with (`shoal serve --data-root DIR`),
walked without following symbolic links; with no data root, none at all.
The broker's state directory (its keys, store and sockets) is never an
input, not even for a local client; a local client's other paths work as
before.
"""

import os
import shutil
import subprocess
import tempfile

import harness
from harness import check
from tcp_broker import TcpBroker

CAT = os.path.join(harness.WASM_DIR, "cat_files.wasm")


def cat(where, source, guest="/in/f"):
    """`shoal wasm run cat_files.wasm GUEST --input SOURCE:GUEST` through
    `where` (a TcpBroker's local or remote)."""
    return where(["wasm", "run", "--input", f"{source}:{guest}", CAT, guest])


def expect_refused(result, source, reason):
    expected = f"shoal: invalid job: input {source}: {reason}"
    check(result.returncode == 125 and result.stderr.strip() == expected,
          f"exit {result.returncode}, stderr [{result.stderr.strip()}], stdout "
          f"[{result.stdout.strip()[:200]}]; expected 125 and [{expected}]")


def expect_read(result, guest, data):
    expected = f"== {guest} ==\n{data}"
    check(result.returncode == 0 and result.stdout == expected,
          f"exit {result.returncode}, stdout [{result.stdout}], stderr [{result.stderr.strip()}]; "
          f"expected [{expected}]")


def data_dir(prefix):
    """A directory of data beside the state directories: file.txt, sub/leaf.txt,
    a symlink to /etc/hostname, and one to /etc."""
    root = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("TMPDIR", "/tmp"))
    with open(os.path.join(root, "file.txt"), "w") as f:
        f.write("inside the data root\n")
    os.mkdir(os.path.join(root, "sub"))
    with open(os.path.join(root, "sub", "leaf.txt"), "w") as f:
        f.write("leaf\n")
    os.symlink("/etc/hostname", os.path.join(root, "escape"))
    os.symlink("/etc", os.path.join(root, "etc"))
    return os.path.realpath(root)


NO_ROOTS = ("clients over TCP may not name paths on the broker's host: this broker has no data "
            "roots (shoal serve --data-root DIR)")


def test_a_tcp_client_without_data_roots_may_name_no_host_path():
    with TcpBroker("shoal-sec-hp-none-") as tb:
        expect_refused(cat(tb.remote, "/etc/hostname"), "/etc/hostname", NO_ROOTS)
        key = os.path.join(tb.home, "keys", "server.key")
        expect_refused(cat(tb.remote, key), key, NO_ROOTS)
        # The same file is readable by the local user.
        with open("/etc/hostname") as f:
            expect_read(cat(tb.local, "/etc/hostname"), "/in/f", f.read())


def test_a_tcp_client_reads_inside_a_data_root_and_nothing_outside_it():
    root = data_dir("shoal-sec-hp-root-")
    try:
        with TcpBroker("shoal-sec-hp-roots-", extra=["--data-root", root]) as tb:
            expect_read(cat(tb.remote, f"{root}/file.txt"), "/in/f", "inside the data root\n")
            # A directory inside the root, mounted whole.
            r = tb.remote(["wasm", "run", "--input", f"{root}/sub:/in/d", CAT, "/in/d/leaf.txt"])
            expect_read(r, "/in/d/leaf.txt", "leaf\n")
            outside = (f"outside the broker's data roots ({root}), the only places clients over "
                       "TCP may read")
            expect_refused(cat(tb.remote, "/etc/hostname"), "/etc/hostname", outside)
            key = os.path.join(tb.home, "keys", "server.key")
            expect_refused(cat(tb.remote, key), key, outside)
            # A symbolic link inside the root that leads out, as the input or on its way.
            link = ("is a symbolic link: inside a data root no link is followed, since it could "
                    "lead out of the root")
            expect_refused(cat(tb.remote, f"{root}/escape"), f"{root}/escape",
                           f"{root}/escape {link}")
            expect_refused(cat(tb.remote, f"{root}/etc/hostname"), f"{root}/etc/hostname",
                           f"{root}/etc {link}")
            # The local user still names what it likes.
            with open("/etc/hostname") as f:
                expect_read(cat(tb.local, "/etc/hostname"), "/in/f", f.read())
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_data_root_that_holds_the_state_directory_is_refused_at_start():
    parent = tempfile.mkdtemp(prefix="shoal-sec-hp-parent-",
                              dir=os.environ.get("TMPDIR", "/tmp"))
    home = os.path.join(parent, "state")
    env = dict(os.environ, SHOAL_HOME=home)
    env.pop("SHOAL_CONNECT", None)
    try:
        r = subprocess.run([harness.SHOAL, "serve", "--workers", "0", "--data-root", parent],
                           env=env, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        real = os.path.realpath(parent)
        expected = (f"--data-root {real} holds the broker's state directory {real}/state: "
                    "clients over TCP could read its keys; give a directory beside it")
        check(r.returncode == 1 and expected in r.stderr,
              f"serve exited {r.returncode} saying [{r.stderr.strip()}], not [{expected}]")
        check(not os.path.exists(os.path.join(home, "serve.json")),
              "a configuration that does not start was stored")
    finally:
        subprocess.run([harness.SHOAL, "shutdown"], env=env, capture_output=True, timeout=30)
        shutil.rmtree(parent, ignore_errors=True)


def test_a_local_client_may_not_name_the_state_directory():
    with TcpBroker("shoal-sec-hp-local-") as tb:
        home = os.path.realpath(tb.home)
        inside = (f"inside the broker's state directory {home}, which holds its keys and store "
                  "and is never an input")
        for source in (f"{tb.home}/keys/server.key", f"{tb.home}/keys", tb.home,
                       f"{tb.home}/broker.log"):
            expect_refused(cat(tb.local, source), source, inside)
        parent = os.path.dirname(home)
        expect_refused(cat(tb.local, parent), parent,
                       f"holds the broker's state directory {home} (its keys and store), which "
                       "is never an input; name a directory beside it")
        # A symbolic link elsewhere that points at the keys.
        links = tempfile.mkdtemp(prefix="shoal-sec-hp-links-",
                                 dir=os.environ.get("TMPDIR", "/tmp"))
        try:
            link = os.path.join(links, "key")
            os.symlink(os.path.join(tb.home, "keys", "server.key"), link)
            expect_refused(cat(tb.local, link), link, inside)
        finally:
            shutil.rmtree(links, ignore_errors=True)


def test_a_local_client_still_reads_an_ordinary_file():
    root = data_dir("shoal-sec-hp-plain-")
    try:
        with TcpBroker("shoal-sec-hp-plain-home-") as tb:
            expect_read(cat(tb.local, f"{root}/file.txt"), "/in/f", "inside the data root\n")
            # Symbolic links are the local user's own business, as before.
            with open("/etc/hostname") as f:
                expect_read(cat(tb.local, f"{root}/escape"), "/in/f", f.read())
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    harness.run_cases(globals())
