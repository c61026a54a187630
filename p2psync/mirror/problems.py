"""What keeps a share's files from being in sync, path by path, as the mirror finds it.

The mirror reports a problem (a file skipped, a read or write that failed, a path it
cannot use) once: a warning in the log and an event. Unlike the event, the problem
stays listed until it is gone, so ``status`` can say which files are not in sync
and why: a path's problems are those its last reconcile found (``checking``), and
those a folder walk found are those the last walk found (``settle``).
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from p2psync.errors import UnsafePathError

log = logging.getLogger(__name__)

SHARE = ""
"""The path of a problem of the share as a whole (its manifest, its ignore file)."""
FILE_ERRORS: tuple[type[Exception], ...] = (OSError, UnsafePathError)
"""What a read, write, rename or removal of a file raises when it fails (a
``file-error`` problem; ``Problems.file_errors``)."""
NOT_IN_SYNC = frozenset({"file-skipped", "file-error", "unsafe-path", "chunk-list-lost"})
"""The kinds of problem that leave a file not in sync here (listed by ``listing``;
the others are told as events only)."""


def error_sentence(exc: Exception) -> str:
    """What failed, as ``status`` lists it: an OS error's own words and the file it
    names, not Python's ``[Errno 17] File exists: '...'``; a file where a folder is
    needed says so."""
    if not isinstance(exc, OSError) or not exc.strerror:
        return str(exc)
    named = exc.filename  # a path, or a file descriptor (``os.fdopen``'s): no name
    name = os.fsdecode(named) if isinstance(named, str | bytes | os.PathLike) else ""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and name:
        return f"a file is in the way: {name} or a folder above it is a file, not a folder"
    return f"{exc.strerror}: {name}" if name else exc.strerror


@dataclass
class Failure:
    """Whether the block of a ``Problems.file_errors`` failed (true), and with what."""

    error: Exception | None = None

    def __bool__(self) -> bool:
        return self.error is not None


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a file is not in sync: the event type that told it, and its fields."""

    kind: str
    path: str
    fields: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        """The problem as the control API lists it (docs/control-api.md)."""
        reason = self.fields.get("reason") or self.fields.get("message") or self.kind
        return {"path": self.path, "kind": self.kind, "reason": str(reason)}


class Problems:
    """The current problems of one share's files."""

    def __init__(self, share: str, publish: Callable[..., None]) -> None:
        self._share = share
        self._publish = publish
        self._by_path: dict[str, dict[str, Problem]] = {}
        self._told: dict[str, list[dict[str, Problem]]] = {}
        """Path -> the problems it had when a check of it began (innermost last):
        found again, they are kept without being told again."""

    def report(self, key: str, kind: str, *, path: str = SHARE, **fields: Any) -> None:
        """A problem ``key`` of ``path``: logged and published the first time, then
        listed until a check of the path no longer finds it."""
        held = self._by_path.setdefault(path, {})
        if key in held:
            return
        problem = Problem(kind, path, fields)
        held[key] = problem
        if any(key in before for before in self._told.get(path, [])):
            return
        told = {"path": path, **fields} if path else fields
        log.warning("share %s: %s %s", self._share, kind, told)
        self._publish(kind, share=self._share, **told)

    @contextmanager
    def file_errors(
        self,
        key: str,
        path: str,
        *,
        also: tuple[type[Exception], ...] = (),
        but: tuple[type[Exception], ...] = (),
        then: Callable[[Exception], None] | None = None,
    ) -> Iterator[Failure]:
        """Report a ``FILE_ERRORS`` (or ``also``) error of the block, raised by a file
        operation on ``path``, as the ``file-error`` problem ``key``, after ``then``
        (what undoes the operation's start); the block ends there and the ``Failure``
        it was given is true. Errors of ``but`` go through (the caller's own case)."""
        failure = Failure()
        try:
            yield failure
        except (*FILE_ERRORS, *also) as exc:
            if isinstance(exc, but):
                raise
            if then is not None:
                then(exc)
            self.report(key, "file-error", path=path, message=error_sentence(exc))
            failure.error = exc

    def has(self, path: str) -> bool:
        """Whether ``path`` has a problem listed now."""
        return bool(self._by_path.get(path))

    def paths(self) -> set[str]:
        """The paths with a problem listed now."""
        return {path for path, held in self._by_path.items() if held}

    @contextmanager
    def checking(self, path: str) -> Iterator[None]:
        """Look at ``path`` afresh: the problems reported while the block runs are
        its problems; the ones it had before and not found again are gone."""
        self._told.setdefault(path, []).append(self._by_path.pop(path, {}))
        try:
            yield
        finally:
            stack = self._told[path]
            stack.pop()
            if not stack:
                del self._told[path]

    def settle(self, prefix: str, paths: Collection[str]) -> None:
        """A walk of the folder found problems keyed ``prefix + path`` at ``paths``
        only: the others of that key are gone."""
        for path, held in list(self._by_path.items()):
            if path not in paths and (prefix + path) in held:
                del held[prefix + path]

    def listing(self) -> list[dict[str, Any]]:
        """Every current problem, by path (docs/control-api.md, ``not_in_sync``): one
        of each kind per path (a walk of the folder and a look at the file may both
        find the same symlink, in their own words)."""
        listed: dict[tuple[str, str], dict[str, Any]] = {}
        for path in sorted(self._by_path):
            for problem in self._by_path[path].values():
                if problem.kind in NOT_IN_SYNC:
                    listed.setdefault((path, problem.kind), problem.describe())
        return list(listed.values())
