"""Memory freed by unloaded docs handed back to the system (issue 19).

A first sync loads one doc per file and the unloader drops them once idle, but the C
allocator keeps the pages it freed for reuse: the daemon's RSS stayed where the crowd
left it. glibc's ``malloc_trim`` returns free pages of every arena (the heap's top and
whole free pages inside it, the worker threads' arenas too). Elsewhere (musl, macOS)
there is no such call and nothing is done. Python's own small-object arenas are not
touched: they are freed by CPython when empty.

A page is handed back only when nothing on it is alive, and glibc gives each thread
that allocates while another does an arena of its own (up to eight per core): a
first sync's docs, made and dropped across the event loop's and the worker threads'
arenas, left pages in each of them holding a live block. ``limit_arenas`` caps them
at ``ARENAS`` for the daemon's process (docs/decisions.md: 204 to 222 MiB idle after
a first sync of 10,000 files, its docs unloaded; 177 to 185 MiB with two arenas).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


ARENAS = 2
"""The malloc arenas the daemon's threads share (``limit_arenas``)."""
M_ARENA_MAX = -8
"""``mallopt``'s parameter for the most arenas (glibc's malloc.h)."""


@functools.cache
def _libc_function(name: str) -> Callable[..., int] | None:
    """The C library's function ``name``, None where it has none (not glibc)."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(library), name)
    except (OSError, AttributeError):
        return None
    return function


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, None where the C library has none."""
    return _libc_function("malloc_trim")


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Have glibc keep at most ``arenas`` malloc arenas in this process, however many
    threads allocate at once; True if it took the setting. Call it before the worker
    threads start: an arena once made stays."""
    mallopt = _libc_function("mallopt")
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, arenas))


def give_back_memory() -> bool:
    """Return the allocator's free pages to the system (blocking: run it in a thread);
    True if the C library could do it and gave some back."""
    trim = _malloc_trim()
    if trim is None:
        return False
    released = bool(trim(0))
    log.debug("freed memory handed back to the system: %s", "some" if released else "none")
    return released
