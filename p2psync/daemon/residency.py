"""Which loaded docs may leave memory: the load/unload policy of one share (docs/architecture.md).

A doc counts as active while it is edited or synced: every message, local change or
read about it ``touch``-es it. Docs untouched for ``idle_s`` seconds are offered for
unloading. Kept docs (the manifest, which every new, renamed or deleted file
changes) have this everyday grace even in a crowd, and are never ``release``-d.
Once more than ``crowd`` docs are loaded (a first scan or a first sync of a large
folder loads one per file), every doc untouched for ``crowd_idle_s`` is offered too,
until no more than ``CROWD_FLOOR`` are left: such a burst leaves memory seconds
after it ends, as after a restart from the index, while in everyday use the few docs
someone works on keep the longer grace. A doc a peer changed keeps the longer grace
until the mirror has written its file (``unmirrored``; while no more than
``UNMIRRORED_LIMIT`` docs are loaded), and it then leaves memory at
once if the mirror says so (``daemon.unloader``, ``Unloader.release``). The clock is passed in,
so the policy is tested without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

DEFAULT_IDLE_UNLOAD_S = 60.0
MAX_CHECK_INTERVAL_S = 5.0
CROWD_DOCS = 256
"""How many docs may stay loaded for the whole ``idle_s``."""
CROWD_IDLE_S = 2.0
"""How long a doc stays loaded untouched after more than ``CROWD_DOCS`` were."""
CROWD_FLOOR = 8
"""How few docs are left loaded before the longer grace applies again."""
MIRROR_BACKLOG = 2048
"""How many docs a peer changed may wait loaded for the mirror to write their files
before the share asks peers for no more (``ShareService``): a first sync of 100,000
files, the mirror far behind the docs stored, held 20,000 loaded (a file descriptor
and memory each) and ran out of descriptors."""
UNMIRRORED_LIMIT = 4 * MIRROR_BACKLOG
"""How many docs may be loaded before the docs a peer changed lose the everyday grace
they keep until the mirror writes their files, should peers send more than asked
(``MIRROR_BACKLOG`` holds back only what is asked): the mirror then reads them from
their logs, one file at a time."""


class Residency:
    """Last activity of each loaded doc, and which of them have been idle long enough."""

    def __init__(
        self,
        idle_s: float,
        clock: Callable[[], float],
        *,
        kept: Iterable[str] = (),
        crowd: int = CROWD_DOCS,
        crowd_idle_s: float = CROWD_IDLE_S,
    ) -> None:
        self.idle_s = idle_s
        self._clock = clock
        self._kept = frozenset(kept)
        self._last_used: dict[str, float] = {}
        self.crowd = crowd
        self.crowd_idle_s = min(crowd_idle_s, idle_s)
        self._crowded = False
        self._brief: set[str] = set()
        """Docs that stay loaded untouched for ``crowd_idle_s`` only (``brief``)."""
        self._unmirrored: set[str] = set()
        """Docs a peer changed whose files the mirror has not written yet (``unmirrored``)."""

    @property
    def crowded(self) -> bool:
        """True from a crowd of loaded docs until no more than ``CROWD_FLOOR`` are left."""
        return self._crowded

    @property
    def unmirrored_count(self) -> int:
        """How many loaded docs a peer changed wait for the mirror (``unmirrored``)."""
        return len(self._unmirrored)

    @property
    def check_interval_s(self) -> float:
        """How often the owner should look for idle docs."""
        return max(min(self.idle_s / 2, self.crowd_idle_s, MAX_CHECK_INTERVAL_S), 0.01)

    def touch(self, guid: str) -> None:
        """Doc ``guid`` is in use now."""
        self._last_used[guid] = self._clock()
        if len(self._last_used) > self.crowd:
            self._crowded = True

    def brief(self, guid: str) -> None:
        """Doc ``guid``, in use now, stays loaded untouched for ``crowd_idle_s`` only,
        until it leaves memory: a new file's doc a first scan keeps loaded for one more
        step (a binary file's first version in its history) is a crowd of its own, even
        when too few of them are loaded at once to make one."""
        self.touch(guid)
        self._brief.add(guid)

    def unmirrored(self, guid: str) -> None:
        """A peer changed doc ``guid``: until the mirror is done with it (``mirrored``)
        it keeps the everyday grace, even in a crowd. Under a crowd's shorter grace, a
        first sync's docs left memory before the mirror, behind the docs stored, read
        them to write their files, and it loaded them again from their logs."""
        self._unmirrored.add(guid)

    def mirrored(self, guids: Iterable[str]) -> None:
        """The mirror wrote the files of docs ``guids``, or took their changes."""
        self._unmirrored.difference_update(guids)

    def forget(self, guid: str) -> None:
        """Doc ``guid`` left memory."""
        self._last_used.pop(guid, None)
        self._brief.discard(guid)
        self._unmirrored.discard(guid)
        if len(self._last_used) <= min(CROWD_FLOOR, self.crowd):
            self._crowded = False

    def is_kept(self, guid: str) -> bool:
        """True if ``guid`` leaves memory only after the everyday grace (the
        manifest): never in a crowd's brief grace, never at once as released."""
        return guid in self._kept

    def is_idle(self, guid: str) -> bool:
        """True if ``guid`` may be unloaded now."""
        last = self._last_used.get(guid)
        if guid in self._kept:
            grace = self.idle_s
        elif guid in self._brief:
            grace = self.crowd_idle_s
        elif guid in self._unmirrored and len(self._last_used) <= UNMIRRORED_LIMIT:
            grace = self.idle_s
        else:
            grace = self._grace()
        return last is None or self._clock() - last >= grace

    def idle(self, loaded: Iterable[str]) -> list[str]:
        """The docs of ``loaded`` that may be unloaded now, least recently used first."""
        idle = [guid for guid in loaded if self.is_idle(guid)]
        return sorted(idle, key=lambda guid: self._last_used.get(guid, 0.0))

    def _grace(self) -> float:
        """How long a doc stays loaded untouched now (shorter after a crowd)."""
        return self.crowd_idle_s if self._crowded else self.idle_s
