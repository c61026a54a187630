"""Memory freed by unloaded docs handed back to the system (issue 19).

A first sync loads one doc per file and the unloader drops them once idle, but the C
allocator keeps the pages it freed for reuse: the daemon's RSS stayed where the crowd
left it. glibc's ``malloc_trim`` returns free pages of every arena (the heap's top and
whole free pages inside it, the worker threads' arenas too). Elsewhere (musl, macOS)
there is no such call and nothing is done. Python's own small-object arenas are not
touched: they are freed by CPython when empty.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, None where the C library has none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def give_back_memory() -> bool:
    """Return the allocator's free pages to the system (blocking: run it in a thread);
    True if the C library could do it and gave some back."""
    trim = _malloc_trim()
    if trim is None:
        return False
    released = bool(trim(0))
    log.debug("freed memory handed back to the system: %s", "some" if released else "none")
    return released
