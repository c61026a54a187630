"""Freed memory handed back to the system after a crowd of docs left it (glibc)."""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import pytest

from p2psync.daemon.memtrim import _malloc_trim, give_back_memory

BLOCK = 32 * 1024  # under glibc's mmap threshold: served from the heap
BLOCKS = 3000


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(_malloc_trim() is None, reason="the C library has no malloc_trim (not glibc)")
def test_memory_freed_below_the_heap_top_goes_back_to_the_system() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(BLOCK) for _ in range(BLOCKS)]
    for block in blocks:
        ctypes.memset(block, 1, BLOCK)  # touched: resident
    for block in blocks[:-1]:
        libc.free(block)  # the last one keeps the heap's top in use: free does not trim
    before = rss_kib()
    assert give_back_memory()
    given_back_kib = before - rss_kib()
    libc.free(blocks[-1])
    assert given_back_kib > BLOCK * BLOCKS // 1024 // 2
