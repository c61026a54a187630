"""App docs: files ending in ``.ydoc`` whose bytes are a whole Yjs doc (docs/apps.md).

A ``.ydoc`` file holds its doc's full state as one Yjs v1 update (what Yjs's
``Y.encodeStateAsUpdate(doc)`` and pycrdt's ``Doc.get_update()`` return), so any Yjs
tool reads it. The doc may hold any Yjs types: an app's maps, arrays, texts.

- Kind: a path ending in ``.ydoc`` is an app doc whatever its bytes (``is_ydoc_path``);
  the kind is decided when the entry is made, as for every kind.
- Merging: a file written by another program (copied in, restored from a backup) is
  applied to the doc as an update: a write of the file never removes anything the doc
  holds. An empty file is an empty doc (nothing to merge).
- Refusal: bytes that are not a Yjs v1 update, or an update that depends on changes
  neither it nor the doc holds, change nothing (``merge_problem`` says why).
- Writes: the daemon writes the doc's full state back (atomically, as every file), at
  most once every ``WRITE_GAP_S`` per file; a change made meanwhile is written at the
  end of the gap (``DeferredWrites``).
"""

from __future__ import annotations

from typing import Any

import pycrdt
import trio

from p2psync.errors import MalformedYjsError, UpdateError
from p2psync.protocol.yjs import decode_state_vector
from p2psync.protocol.yjs_update import scan_update
from p2psync.replica.doc import check_local_update
from p2psync.replica.validate import is_panic

YDOC_SUFFIX = ".ydoc"
EMPTY_DOC = b"\x00\x00"
"""The full state of a doc holding nothing."""
WRITE_GAP_S = 0.25
"""A ``.ydoc`` file is written at most once this long (trio time): an app typing
changes the doc many times a second, and each write is the whole doc."""


def is_ydoc_path(rel: str) -> bool:
    """Whether the share path ``rel`` names an app doc (``notes/board.ydoc``)."""
    name = rel.rsplit("/", 1)[-1]
    return name.lower().endswith(YDOC_SUFFIX) and len(name) > len(YDOC_SUFFIX)


def merge_problem(data: bytes, state_vector: bytes = b"\x00") -> str | None:
    """Why the bytes ``data`` of a ``.ydoc`` file cannot be merged into a doc whose
    state vector is ``state_vector``; None if they can (an empty file always can)."""
    if not data:
        return None
    try:
        check_local_update(data)
        shape = scan_update(data)
    except (UpdateError, MalformedYjsError) as exc:
        return f"the file is not a Yjs doc: {exc}"
    if shape.missing(decode_state_vector(state_vector)):
        return (
            "the file is a Yjs update that depends on changes this doc does not hold, "
            "not a whole doc's state"
        )
    return None


def merge_delta(state: bytes, data: bytes) -> bytes | None:
    """What the file's bytes ``data`` (which passed ``merge_problem``) add to the doc
    whose full state is ``state``, as one update; None if they add nothing. Worked
    out on a scratch doc, so the live doc sees only what is new. Raises ValueError
    if pycrdt refuses the bytes."""
    scratch: pycrdt.Doc[Any] = pycrdt.Doc()
    try:
        scratch.apply_update(state)
        before = scratch.get_state()
        if data:
            scratch.apply_update(data)
    except BaseException as exc:
        if is_panic(exc):
            raise ValueError(f"the file is not a Yjs doc: {exc}") from None
        raise
    if scratch.get_update() == state:  # the encoding of a state is canonical
        return None
    return scratch.get_update(before)


class DeferredWrites:
    """When each ``.ydoc`` file may be written next (trio time), and the files whose
    write waits for that."""

    def __init__(self, gap_s: float = WRITE_GAP_S) -> None:
        self.gap_s = gap_s
        self._last: dict[str, float] = {}
        self._due: dict[str, float] = {}
        self._deferred = trio.Event()

    async def deferred(self) -> float:
        """Wait until a write is deferred (or one already is); returns when the
        earliest is due."""
        while (due := self.next_due()) is None:
            await self._deferred.wait()
            self._deferred = trio.Event()
        return due

    def defer(self, rel: str, now: float) -> bool:
        """Whether a write of ``rel`` at ``now`` must wait (it is then due later)."""
        self._expire(now)
        last = self._last.get(rel)
        if last is None or now - last >= self.gap_s:
            self._due.pop(rel, None)
            return False
        self._due[rel] = last + self.gap_s
        self._deferred.set()
        return True

    def wrote(self, rel: str, now: float) -> None:
        """``rel`` was written at ``now``."""
        self._last[rel] = now

    def due(self, now: float) -> list[str]:
        """The deferred writes whose time has come (no longer held)."""
        ready = sorted(rel for rel, at in self._due.items() if at <= now)
        for rel in ready:
            del self._due[rel]
        return ready

    def next_due(self) -> float | None:
        """When the earliest deferred write is due, None if none waits."""
        return min(self._due.values(), default=None)

    def _expire(self, now: float) -> None:
        for rel in [r for r, at in self._last.items() if now - at >= self.gap_s]:
            if rel not in self._due:
                del self._last[rel]
