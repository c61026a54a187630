"""The bytes a share's binary files' past versions may take together (``max_bytes``,
docs/history.md).

Each binary file's timeline is kept by its own ``DocHistory``, in the thread of its
log's writer; the cap is the share's. A ``BinaryBudget`` holds, for every binary
file of the share it has heard of, the past versions (all but the newest) its
retention rule keeps, and answers each file which of its own to keep: across the
share, newest first, each past version while the sizes of those before it and its
own add up to at most ``max_bytes``; from the first that does not fit, it and every
older one of any file go. A file's newest version is never counted nor dropped.

The files of a share not loaded since the daemon started are read from their
timeline files the first time a file asks (``know`` names them), so a file that has
not changed still counts. One budget per share's docs folder (``budget_of``), its
cap set by whoever opens the share's logs (``capped``);
thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from p2psync.errors import StorageError
from p2psync.storage.versionindex import load_timeline

log = logging.getLogger(__name__)

Past = list[tuple[float, int, int]]
"""A file's past versions: (time, number, size), oldest first."""


class BinaryBudget:
    """One share's ``max_bytes`` over its binary files' past versions."""

    def __init__(self, max_bytes: int | None) -> None:
        self.max_bytes = max_bytes
        self._past: dict[Path, Past] = {}
        self._unread: set[Path] = set()
        self._lock = threading.Lock()

    def capped(self, max_bytes: int | None) -> BinaryBudget:
        """This budget, its cap now ``max_bytes`` (from the next version kept)."""
        self.max_bytes = max_bytes
        return self

    def know(self, paths: Iterable[Path]) -> None:
        """The timeline files of the share's binary files: those not heard of yet are
        read at the next ``kept``."""
        with self._lock:
            self._unread.update(p for p in paths if p not in self._past)

    def kept(self, path: Path, past: Past) -> set[int]:
        """The numbers of ``past`` (the versions before the newest that the retention
        rule keeps, of the file whose timeline is ``path``) that the share's budget
        keeps."""
        with self._lock:
            self._read_unread(path)
            self._past[path] = past
            if self.max_bytes is None:
                return {number for _, number, _ in past}
            cutoff = self._cutoff()
            keep = {number for time, number, _ in past if cutoff is None
                    or (time, str(path), number) > cutoff}  # fmt: skip
            self._past[path] = [p for p in past if p[1] in keep]
            return keep

    def _cutoff(self) -> tuple[float, str, int] | None:
        """The newest past version that does not fit (it and every older one go),
        None if all fit."""
        assert self.max_bytes is not None
        versions = sorted(
            ((time, str(path), number, size)
             for path, past in self._past.items() for time, number, size in past),
            reverse=True,
        )  # fmt: skip
        total = 0
        for time, path, number, size in versions:
            total += size
            if total > self.max_bytes:
                return (time, path, number)
        return None

    def _read_unread(self, asking: Path) -> None:
        """Read the past versions of the files named by ``know`` and not heard of."""
        for path in sorted(self._unread - {asking}):
            try:
                timeline = [v for v in load_timeline(path) if v.kind != "delete"]
            except StorageError as exc:
                log.warning("%s: not counted in the share's max_bytes: %s", path, exc)
                continue
            self._past.setdefault(path, [(v.time, v.number, v.size) for v in timeline[:-1]])
        self._unread.clear()


_BUDGETS: dict[Path, BinaryBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def budget_of(docs: Path) -> BinaryBudget:
    """The budget of the share whose docs folder is ``docs`` (no cap until ``capped``)."""
    with _BUDGETS_LOCK:
        budget = _BUDGETS.get(docs)  # not setdefault: a budget is not cheap to make
        if budget is None:
            budget = _BUDGETS[docs] = BinaryBudget(None)
        return budget
