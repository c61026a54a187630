"""Freed memory handed back to the system after a crowd of docs left it (glibc)."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys
from pathlib import Path

import pytest

from p2psync.daemon.memtrim import ARENAS, _malloc_trim, give_back_memory

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


ARENA_PROBE = """
import ctypes, ctypes.util, sys, threading
from p2psync.daemon.memtrim import limit_arenas
if sys.argv[1] == "limited":
    assert limit_arenas()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
together = threading.Barrier(8)
def allocate():
    together.wait()  # all alive at once: each may attach to an arena of its own
    libc.malloc(1000)
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.malloc_stats()  # one "Arena N:" paragraph per arena, on stderr
"""


def arenas_after_eight_threads(mode: str) -> int:
    """The malloc arenas of a fresh process once eight threads allocated together."""
    done = subprocess.run(
        [sys.executable, "-c", ARENA_PROBE, mode], capture_output=True, text=True, check=True
    )
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(_malloc_trim() is None, reason="the C library is not glibc")
def test_limited_arenas_are_shared_by_every_thread() -> None:
    assert arenas_after_eight_threads("default") > ARENAS  # the probe sees arenas made
    assert arenas_after_eight_threads("limited") == ARENAS
