"""Filesystem watching: the one place where watchdog's threads cross into Trio.

Exports:

- :class:`DirWatcher` -- a Trio service (``await nursery.start(watcher.run)``) that
  watches directories, added and removed at runtime, and hands one consumer
  coalesced sets of changed file paths (``await watcher.next_changes()``), with an
  optional debounce bounded by ``MAX_DEBOUNCE_DELAY_S``, and optionally holding each
  file until its writer is done with it (:class:`HoldRules`).
- :class:`DirtySet` -- the pure coalescer behind it (no threads, no clock of its own).

Modules: ``bridge`` (watchdog's threads -> Trio), ``coalesce`` (the pure coalescer and
the save holds), ``prune`` (an inotify observer that leaves a folder below a recursive
watch unwatched; the one place that relies on watchdog's internals).

No other module of p2psync imports watchdog (an import contract in pyproject.toml).
"""

from p2psync.watch.bridge import MAX_DEBOUNCE_DELAY_S, DirWatcher
from p2psync.watch.coalesce import Change, DirtySet, HoldRules

__all__ = ["MAX_DEBOUNCE_DELAY_S", "Change", "DirWatcher", "DirtySet", "HoldRules"]
