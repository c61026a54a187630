"""A ``DirWatcher`` on real folders for the length of a test (``watching``), and the
deadline its tests wait under."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from p2psync.watch import DirWatcher, HoldRules

DEADLINE_S = 10.0
"""How long a watcher test waits for the changes it made to be reported."""


@asynccontextmanager
async def watching(
    *dirs: Path,
    filter: Callable[[Path], bool] | None = None,
    recursive: bool = False,
    hold: HoldRules | None = None,
    skip: Path | None = None,
) -> AsyncIterator[DirWatcher]:
    """A running watcher, cancelled on exit."""
    watcher = DirWatcher(dirs, filter=filter, recursive=recursive, hold=hold, skip=skip)
    async with trio.open_nursery() as nursery:
        await nursery.start(watcher.run)
        yield watcher
        nursery.cancel_scope.cancel()
