#!/usr/bin/python3
"""Writes seed inputs for wasi_calls_fuzz (its header describes the format):
call sequences that open, read, link, symlink, rename and list through the
sandbox's symlinks. usage: gen_call_seeds.py OUTDIR"""
import os
import struct
import sys

NAMES = sorted("""args_get args_sizes_get clock_res_get clock_time_get environ_get
environ_sizes_get fd_advise fd_allocate fd_close fd_datasync fd_fdstat_get
fd_fdstat_set_flags fd_fdstat_set_rights fd_filestat_get fd_filestat_set_size
fd_filestat_set_times fd_pread fd_prestat_dir_name fd_prestat_get fd_pwrite fd_read
fd_readdir fd_renumber fd_seek fd_sync fd_tell fd_write path_create_directory
path_filestat_get path_filestat_set_times path_link path_open path_readlink
path_remove_directory path_rename path_symlink path_unlink_file poll_oneoff proc_exit
proc_raise random_get sched_yield sock_accept sock_recv sock_send sock_shutdown""".split())
assert len(NAMES) == 46

# Guest memory: strings every 32 bytes, an iovec {1024, 64} at 192.
STRINGS = ["file.txt", "../secret.txt", "chain/dir/file", "abs_secret", "newlink", "up"]
memory = bytearray(256)
for i, s in enumerate(STRINGS):
    memory[i * 32:i * 32 + len(s)] = s.encode()
memory[192:200] = struct.pack("<II", 1024, 64)


def ptr(offset):
    assert offset % 32 == 0 and offset < 4064
    return bytes([0x80 + offset // 32])


def small(v):
    assert v < 0x80
    return bytes([v])


def big(v):
    return b"\xff" + struct.pack("<Q", v)


def s(i):  # pointer and length of STRINGS[i]
    return ptr(i * 32) + small(len(STRINGS[i]))


def call(name, *args):
    return bytes([NAMES.index(name)]) + b"".join(args)


ALL = big(0xFFFFFFFFFFFFFFFF)


def open_(i, follow=1):
    return call("path_open", small(3), small(follow), s(i), small(0), ALL, ALL, small(0),
                ptr(2048))


READ = call("fd_read", small(5), ptr(192), small(1), ptr(2048))
seeds = {
    "open_read": open_(0) + READ,
    "open_dotdot": open_(1) + READ,
    "open_chain": open_(2) + READ,
    "open_abs_symlink": open_(3) + READ,
    "link_outside": call("path_link", small(3), small(1), s(3), small(3), s(4)) + open_(4) + READ,
    "symlink_outside": call("path_symlink", s(1), small(3), s(4)) + open_(4) + READ,
    "readdir": call("fd_readdir", small(3), ptr(2048), ptr(512), big(0), ptr(1024)),
    "write_stdout": call("fd_write", small(1), ptr(192), small(1), ptr(2048)),
    "rename_up": call("path_rename", small(3), s(0), small(3), s(5)),
    "create_write": call("path_open", small(3), small(0), s(4), small(1), ALL, ALL, small(0),
                         ptr(2048)) + call("fd_write", small(5), ptr(192), small(1), ptr(2048)),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, body in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([len(memory) // 64]) + bytes(memory) + body)
