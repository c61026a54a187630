"""An inotify observer whose recursive watches leave one folder unwatched ("pruned").

Why: the mirror watches its share recursively, and the daemon writes a lot inside the
share's own ``.p2psync`` (temp files renamed onto the share's files, sync records,
doc logs, history timelines). Watched, every one of those writes is queued by the
kernel, read, paired into moves and dispatched by watchdog's threads, only for
``bridge._Handler`` to drop it; during a first sync of 10,000 files that was about a
quarter of the receiving daemon's GIL time (watchdog pairs moves by scanning its
whole queue of pending events for each rename). Pruned, the kernel never queues those
events for this watcher at all.

watchdog has no public way to exclude a folder from a recursive watch, so this relies
on the internals of ``watchdog.observers.inotify`` as of watchdog 7.1 (and only
those; :func:`_internals_ok` checks each of them once, at the first pruning observer,
and if one does not hold, :func:`inotify_observer` returns watchdog's plain observer:
the events are then dropped by the handler, as before, and that is logged once at
debug):

- ``InotifyWatchGroup`` (a dataclass, fields ``_inotify_fd, path, event_mask,
  is_recursive, follow_symlink``) adds each folder's inotify watch in its
  ``_add_callback(path)`` and nowhere else: at start, for a folder created or moved
  in later, and when it rebuilds its watches after a queue overflow. Overriding that
  one method leaves the pruned folder and everything below it unwatched in all those
  cases. (Its walks still list the pruned folder's entries at start and after an
  overflow: a directory listing, no watch, no event.)
- ``InotifyEmitter.on_thread_start`` does nothing but build that group into
  ``self._inotify`` from the emitter's watch (our emitter builds ours instead); its
  ``__init__`` takes the ``inotify_fd`` to use.
- ``InotifyObserver.__init__`` does nothing but open and start its own ``InotifyFD``
  and hand it to ``BaseObserver.__init__`` with its emitter class (extra keyword
  arguments of ``BaseObserver`` reach every emitter: that one is documented);
  ``InotifyObserver.on_thread_stop`` stops that ``InotifyFD``.

What changes for the events: a file moved from the pruned folder into the watched
tree is reported like one moved in from outside it (with full events, as a move onto
its path with no source: complete at once); one moved from the tree into the pruned
folder is reported as moved away (a moment later: watchdog waits briefly for a
move's other end). A folder moved from the tree into the pruned folder keeps its
watches under its old path, as one moved out of the tree does (a known watchdog
limitation; the handler's skip and the caller's rescans cover both).

Only Linux: importing this module elsewhere fails (``ImportError`` or watchdog's
``UnsupportedLibcError``), as importing ``watchdog.observers.inotify`` does.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.observers.api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver
from watchdog.observers.inotify import (
    InotifyEmitter,
    InotifyFullEmitter,
    InotifyObserver,
    InotifyWatchGroup,
)
from watchdog.observers.inotify_c import InotifyFD

log = logging.getLogger(__name__)


class _PruningWatchGroup(InotifyWatchGroup):
    """watchdog's watch group, adding no watch on ``pruned`` or any folder below it."""

    def __init__(self, *args: Any, pruned: bytes, **kwargs: Any) -> None:
        # Before the dataclass's own __init__: its __post_init__ adds the watches.
        self._pruned = pruned
        self._pruned_prefix = pruned + os.sep.encode()
        super().__init__(*args, **kwargs)

    def _add_callback(self, path: bytes) -> None:
        if path == self._pruned or path.startswith(self._pruned_prefix):
            return
        super()._add_callback(path)


class _PruningEmitter(InotifyEmitter):
    """watchdog's emitter, watching through the pruning group."""

    def __init__(self, *args: Any, pruned: bytes, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pruned = pruned

    def on_thread_start(self) -> None:
        # What InotifyEmitter.on_thread_start does, with the pruning group.
        self._inotify = _PruningWatchGroup(
            self._inotify_fd,
            os.fsencode(self.watch.path),
            is_recursive=self.watch.is_recursive,
            event_mask=self.get_event_mask_from_filter(),
            follow_symlink=self.watch.follow_symlink,
            pruned=self._pruned,
        )


class _PruningFullEmitter(_PruningEmitter, InotifyFullEmitter):
    """The same, with full events (``InotifyFullEmitter``)."""


class _PruningObserver(InotifyObserver):
    """``InotifyObserver`` with the pruning emitters (its ``on_thread_stop`` is kept)."""

    def __init__(self, pruned: bytes, *, full_events: bool) -> None:
        # What InotifyObserver.__init__ does, with our emitter and its extra argument.
        self._inotify_fd = InotifyFD()
        self._inotify_fd.start()
        emitter = _PruningFullEmitter if full_events else _PruningEmitter
        BaseObserver.__init__(
            self,
            emitter,
            timeout=DEFAULT_OBSERVER_TIMEOUT,
            inotify_fd=self._inotify_fd,
            pruned=pruned,
        )


def inotify_observer(*, full_events: bool, prune: Path | None = None) -> BaseObserver:
    """watchdog's inotify observer (``generate_full_events`` = ``full_events``); with
    ``prune`` (an absolute path), one whose recursive watches leave that folder and
    everything below it unwatched, if watchdog's internals allow (else the plain one;
    the caller must still drop events from ``prune`` itself)."""
    if prune is None or not _internals_ok():
        return InotifyObserver(generate_full_events=full_events)
    return _PruningObserver(os.fsencode(prune), full_events=full_events)


# The names the code of these watchdog 7.1 functions uses (``_internals_ok``).
_EMITTER_START_NAMES = {
    "os", "fsencode", "watch", "path", "get_event_mask_from_filter", "InotifyWatchGroup",
    "_inotify_fd", "is_recursive", "follow_symlink", "_inotify",
}  # fmt: skip
_OBSERVER_INIT_NAMES = {
    "InotifyFD", "_inotify_fd", "start", "InotifyFullEmitter", "InotifyEmitter", "super",
    "__init__",
}  # fmt: skip


def _names(function: Callable[..., Any]) -> set[str]:
    """The global and attribute names ``function``'s own code uses."""
    return set(function.__code__.co_names)


@functools.cache
def _internals_ok() -> bool:
    """Whether watchdog's internals are the ones the pruning observer relies on (the
    module docstring lists them); checked once. A function whose code uses a name it
    did not use in watchdog 7.1 may do more than what is copied here: refused."""
    try:
        group_fields = [f.name for f in dataclasses.fields(InotifyWatchGroup) if f.init]
        adders = sorted(
            name
            for name, member in vars(InotifyWatchGroup).items()
            if inspect.isfunction(member) and "add_callback" in _names(member)
        )
        checks = {
            "InotifyWatchGroup fields": group_fields
            == ["_inotify_fd", "path", "event_mask", "is_recursive", "follow_symlink"],
            "InotifyWatchGroup adds watches in _add_callback(path) only": adders
            == ["_add_callback"]
            and list(inspect.signature(InotifyWatchGroup._add_callback).parameters)
            == ["self", "path"],
            "InotifyEmitter.on_thread_start builds the group only": _names(
                InotifyEmitter.on_thread_start
            )
            == _EMITTER_START_NAMES,
            "InotifyEmitter takes inotify_fd": "inotify_fd"
            in inspect.signature(InotifyEmitter.__init__).parameters,
            "InotifyFullEmitter is an InotifyEmitter": issubclass(
                InotifyFullEmitter, InotifyEmitter
            ),
            "InotifyObserver.__init__ opens its InotifyFD only": _names(InotifyObserver.__init__)
            == _OBSERVER_INIT_NAMES,
            "InotifyObserver.on_thread_stop stops its InotifyFD": {"_inotify_fd", "stop"}
            <= _names(InotifyObserver.on_thread_stop),
        }
    except (TypeError, ValueError, AttributeError) as exc:  # not a dataclass, no __code__...
        checks = {f"unexpected ({exc})": False}
    failed = [what for what, ok in checks.items() if not ok]
    if failed:
        log.debug(
            "watchdog's inotify internals are not the expected ones (%s): the skipped "
            "folder is watched and its events dropped",
            "; ".join(failed),
        )
    return not failed
