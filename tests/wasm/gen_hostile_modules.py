#!/usr/bin/python3
"""Writes wasm modules that declare too much, or never reach _start, for
tests/integration/guests_test.cpp. Each exports `_start` and imports
nothing. usage: gen_hostile_modules.py OUTDIR

  start_loop.wasm               a start function that loops for ever: it runs
                                while the module is instantiated, before _start
  huge_memory.wasm              memory of 65,536 pages (4 GiB) at start
  huge_table.wasm               a table of 10,000,000 entries (V8's most)
  table_over_limit.wasm         a table of 4,294,967,295 entries
  many_functions.wasm           100,000 functions
  functions_over_limit.wasm     1,000,001 functions (V8 allows 1,000,000)
  data_segments_over_limit.wasm 100,001 data segments (V8 allows 100,000)
  invalid_uncalled.wasm         a function whose body is invalid (i32.add on
                                an empty stack) that nothing calls: V8
                                compiles lazily, but must still refuse it
"""
import os
import sys


def uleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def vec(items):
    return uleb(len(items)) + b"".join(items)


def section(sid, payload):
    return bytes([sid]) + uleb(len(payload)) + payload


def name(s):
    return uleb(len(s)) + s.encode()


EMPTY_BODY = b"\x02\x00\x0b"  # size 2: no locals, end


def module(functions=1, bodies=None, table=None, memory=None, start=None, data=0):
    """`functions` of type () -> (); the last is exported as _start."""
    bodies = bodies or []
    bodies = bodies + [EMPTY_BODY] * (functions - len(bodies))
    out = b"\0asm" + (1).to_bytes(4, "little")
    out += section(1, vec([b"\x60\x00\x00"]))
    out += section(3, uleb(functions) + b"\x00" * functions)
    if table is not None:
        out += section(4, vec([b"\x70\x00" + uleb(table)]))
    if memory is not None:
        out += section(5, vec([b"\x00" + uleb(memory)]))
    out += section(7, vec([name("_start") + b"\x00" + uleb(functions - 1)]))
    if start is not None:
        out += section(8, uleb(start))
    out += section(10, uleb(functions) + b"".join(bodies))
    if data:
        segment = b"\x00\x41\x00\x0b" + vec([b"d"])  # active, memory 0, offset 0, "d"
        out += section(11, uleb(data) + segment * data)
    return out


LOOP_BODY = b"\x07\x00\x03\x40\x0c\x00\x0b\x0b"  # loop br 0 end end
INVALID_BODY = b"\x03\x00\x6a\x0b"  # i32.add with nothing on the stack
MODULES = {
    "start_loop.wasm": lambda: module(2, bodies=[LOOP_BODY], start=0),
    "huge_memory.wasm": lambda: module(memory=65536),
    "huge_table.wasm": lambda: module(table=10_000_000),
    "table_over_limit.wasm": lambda: module(table=0xFFFFFFFF),
    "many_functions.wasm": lambda: module(100_000),
    "functions_over_limit.wasm": lambda: module(1_000_001),
    "data_segments_over_limit.wasm": lambda: module(memory=1, data=100_001),
    "invalid_uncalled.wasm": lambda: module(2, bodies=[INVALID_BODY]),
}

if __name__ == "__main__":
    out = sys.argv[1]
    for filename, make in MODULES.items():
        with open(os.path.join(out, filename), "wb") as f:
            f.write(make())
