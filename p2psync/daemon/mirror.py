"""The mirror service of one share: watcher, rescans and remote changes -> ``Mirror``.

Started by ``ShareService.run`` once the share's docs are loaded. It watches the share
folder recursively (``p2psync.watch``, debounced: short for one save, aggregated for
bursts; each file held until its writer is done with it, ``SAVE_HOLD``), rescans it
every ``RESCAN_INTERVAL_S`` and takes the docs the share reports changed; one task
hands all of it to the ``Mirror`` one batch at a time, so a file is never read and
written by two tasks at once. While the watcher holds a file being written, the
rescan and the peers' changes to that file wait (at most ``SAVE_HOLD.open_max_s``):
either would read it half-written. Until the first rescan after the start has run,
nothing is mirrored: what changed while the daemon was down is seen whole first.

Before each batch it checks the share's ``.p2psync/`` marker: a folder without it (a
disk that was unmounted, a folder deleted) stops the mirror and the share with an
error event, instead of being read as "every file was deleted".

Cancellation stops the watcher threads (``DirWatcher.run``) and loses nothing
durable: docs are in their logs, and a batch cut short is redone by the next
start's rescan.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Collection, Hashable
from pathlib import Path

import trio

from p2psync.daemon.deletions import DeletionsFn, DeletionWatch
from p2psync.daemon.events import EventBus
from p2psync.errors import UsageError
from p2psync.mirror.chunkfile import Chunking
from p2psync.mirror.engine import HOLD_CHECK_INTERVAL_S, DocStore, Mirror, wall_ms
from p2psync.mirror.hlc import HybridClock
from p2psync.mirror.manifest import MANIFEST_GUID, ManifestView, set_fields
from p2psync.mirror.names import probe_names
from p2psync.mirror.store import YDoc
from p2psync.storage.layout import marker_dir
from p2psync.watch import DirWatcher, HoldRules

log = logging.getLogger(__name__)

MARKER_CHECK_S = 1.0
"""How often a running share checks that its folder still has its ``.p2psync`` marker."""
RESCAN_INTERVAL_S = 30.0
"""The least time between two rescans of the whole folder (``rescan_interval``)."""
RESCAN_TIME_SHARE = 0.02
"""The most of the time rescans may take: after one, the next waits at least this
inverse times as long as it took. A share of 100,000 files takes about 3 s to look at
whole: rescanned every 30 s, its idle daemon used 10 % of a core; every 150 s, 2 %.
The watcher tells every change as it happens; a rescan catches what it missed."""
RESCAN_MAX_INTERVAL_S = 600.0
"""The longest a folder goes without a rescan (10 minutes; Syncthing: an hour)."""
SAVE_QUIET_S = 0.02
"""Debounce: a batch is taken once no event came for this long..."""
BURST_MAX_DELAY_S = 1.0
"""...or at most this long after its first event (a ``git checkout`` keeps writing)."""
YDOC_WAKE_GAP_S = 0.02
"""The least time between two wakes for app docs' held-back writes."""
SAVE_HOLD = HoldRules()
"""When a file another program writes is complete enough to read (``HoldRules``)."""

Peer = Hashable


class MirrorService:
    """Runs the mirror of one share. Start with ``await nursery.start(service.run)``."""

    def __init__(
        self,
        root: Path,
        store: DocStore,
        events: EventBus,
        *,
        device: bytes,
        share: str,
        on_stopped: Callable[[str], None],
        rescan_interval_s: float = RESCAN_INTERVAL_S,
        chunking: Chunking | None = None,
    ) -> None:
        self.root = root
        self.events = events
        self.share = share
        self._on_stopped = on_stopped
        self._rescan_interval_s = rescan_interval_s
        self._last_rescan_s = 0.0
        """How long the last rescan took (``rescan_interval``)."""
        self._rescanned = trio.Event()
        """Set (and made anew) as each rescan ends."""
        clock = HybridClock(device, wall_ms)
        self.mirror = Mirror(
            root, store, clock, events.publish, share, chunking=chunking or Chunking()
        )
        self._paths: set[Path] = set()
        self._docs: dict[str, Peer | None] = {}
        self._rescan = False
        self._scanned = False
        """Whether the folder was compared whole since the start (the first rescan)."""
        self._wake = trio.Event()
        self._watcher: DirWatcher | None = None
        self._rescan_waits_since: float | None = None
        self.stop_reason = ""
        """Why the mirror ended, one sentence for the user ("" while it runs): its
        folder lost its marker, or a batch failed."""
        self.failed = False
        """Set when a batch failed (``_fail``): the share starts again after a wait."""
        self.on_deletions: DeletionsFn | None = None
        """Told the files each step deleted or brought back (the file history)."""
        self.on_start: Callable[[ManifestView], Awaitable[None]] | None = None
        """Awaited with the manifest as stored before the first look at the folder
        takes in what changed while the daemon was down (the file history catches up
        the versions a stop left unrecorded, with the texts as stored)."""
        self.on_mirrored: Callable[[list[str]], None] | None = None
        """Told the docs whose changes a batch took, once it is done with them."""
        self._undeletes: dict[str, trio.Event] = {}
        self._busy = False
        """A batch runs."""
        self._taking: Collection[str] = ()
        """The changed docs the batch running took (``docs_waiting``)."""

    def doc_changed(self, guid: str, peer: Peer | None) -> None:
        """The share changed doc ``guid`` (not through the mirror). Never blocks."""
        self._docs[guid] = peer if peer is not None else self._docs.get(guid)
        self._wake.set()

    async def undelete(self, guids: list[str]) -> None:
        """Bring the deleted files of docs ``guids`` back with the text their docs
        hold (a restore): their entries are live again, for every peer, and the files
        are written here, in one batch. Returns once that batch is done; UsageError
        if the mirror stopped first."""
        if self.stopped:
            raise UsageError(self.stop_reason)
        waits = [self._undeletes.setdefault(guid, trio.Event()) for guid in guids]
        self._wake.set()
        for done in waits:
            await done.wait()
        if self.stopped:
            raise UsageError(self.stop_reason)

    @property
    def docs_waiting(self) -> set[str]:
        """The docs changed other than by the mirror (``doc_changed``) whose changes
        it has not taken yet: waiting for a batch, or taken by the batch running and
        told done only at its end (the files still to write that ``status`` counts,
        ``daemon.sharestatus``)."""
        return {*self._docs, *self._taking}

    @property
    def settled(self) -> bool:
        """Whether the folder holds what the docs say and the docs what the folder
        holds, as far as this device knows: the first look at the folder is done, no
        batch runs, nothing the watcher saw or a peer changed waits for one, and no
        file is held (a vanished one not told as deleted yet, an app doc's write held
        back). A share counts as in sync only then: a first sync's docs all here is
        not its files all written. A mirror that stopped takes nothing more: the
        share says why it stopped instead."""
        watcher = self._watcher
        return self.stopped or (
            self._scanned
            and not self._busy
            and not self._paths
            and not self._docs
            and not self.mirror.files_held
            and self.mirror.saves.ydocs.next_due() is None
            and (watcher is None or not watcher.pending)
        )

    @property
    def stopped(self) -> bool:
        """Whether the mirror ended (``stop_reason`` says why)."""
        return bool(self.stop_reason)

    def guid_for_path(self, rel: str) -> str:
        """The doc of share path ``rel`` (see ``ManifestView.guid_for_path``)."""
        return self.mirror.view.guid_for_path(rel)

    async def save_for_next_start(self) -> None:
        """Leave the sync records and the manifest's entries in one file each for the
        next start to read (the share stopping in order, its mirror stopped:
        ``SyncTable.save_pack``, ``ManifestKeeper.save_view``). A failure is logged:
        the next start reads them the long way."""
        mirror = self.mirror

        def save() -> tuple[bool, bool]:
            return mirror.synced.save_pack(), mirror.keeper.save_view()

        try:
            packed, kept = await trio.to_thread.run_sync(save)
        except OSError as exc:
            log.warning("share %s: the sync records and manifest were not kept for the next "
                        "start: %s", self.share, exc)  # fmt: skip
            return
        log.debug("share %s: for the next start: sync records %s, manifest view %s",
                  self.share, "packed" if packed else "not packed",
                  "kept" if kept else "not kept")  # fmt: skip

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Watch, then scan the folder (the first batch, after reporting started),
        then mirror until cancelled (or until the marker is gone)."""
        if not self._marker_ok():
            task_status.started()
            return
        try:
            self.mirror.names = await trio.to_thread.run_sync(probe_names, marker_dir(self.root))
        except OSError as exc:  # then writes fail too, and say so per file
            log.error("share %s: cannot probe how %s compares names: %s", self.share,
                      self.root, exc)  # fmt: skip
        log.info("share %s: %s is %s", self.share, self.root, self.mirror.names.describe())
        self._rescan = True  # the first batch: what changed while not running
        self._wake.set()
        marker = marker_dir(self.root).absolute()
        watcher = DirWatcher(
            [self.root.absolute()],
            recursive=True,
            filter=lambda path: marker not in path.parents and path != marker,
            hold=SAVE_HOLD,
            skip=marker,  # its logs, records, timelines, temp files: left unwatched
        )
        self._watcher = watcher
        async with trio.open_nursery() as nursery:
            await nursery.start(watcher.run)
            nursery.start_soon(self._take_changes, watcher)
            nursery.start_soon(self._tick)
            nursery.start_soon(self._hold_timer)
            nursery.start_soon(self._ydoc_timer)
            nursery.start_soon(self._check_marker)
            task_status.started()
            await self._serve()
            nursery.cancel_scope.cancel()

    async def _take_changes(self, watcher: DirWatcher) -> None:
        while True:
            paths = await watcher.next_changes(
                min_quiet_s=SAVE_QUIET_S, max_delay_s=BURST_MAX_DELAY_S
            )
            self._paths |= paths
            self._wake.set()

    async def _tick(self) -> None:
        while True:
            await trio.sleep(self.rescan_interval)
            self._rescan = True
            self._wake.set()
            await self._rescanned.wait()  # the next interval counts from its end

    @property
    def rescan_interval(self) -> float:
        """How long after the last rescan the next one is due: at least
        ``rescan_interval_s``, long enough for rescans to take no more than
        ``RESCAN_TIME_SHARE`` of the time, at most ``RESCAN_MAX_INTERVAL_S``."""
        spread = self._last_rescan_s / RESCAN_TIME_SHARE
        return max(self._rescan_interval_s, min(spread, RESCAN_MAX_INTERVAL_S))

    async def _hold_timer(self) -> None:
        """Wake the mirror while it holds a vanished or emptied file, to settle it."""
        while True:
            await trio.sleep(HOLD_CHECK_INTERVAL_S)
            if self.mirror.files_held:
                self._wake.set()

    async def _ydoc_timer(self) -> None:
        """Wake the mirror when an app doc's write it held back falls due."""
        while True:
            await trio.sleep_until(await self.mirror.saves.ydocs.deferred())
            self._wake.set()
            await trio.sleep(YDOC_WAKE_GAP_S)  # the batch takes it meanwhile

    async def _check_marker(self) -> None:
        """Wake the mirror once the folder's marker is gone (the folder moved away,
        deleted or unmounted: the watcher may say nothing), so the share stops within
        ``MARKER_CHECK_S`` instead of at the next batch."""
        marker = marker_dir(self.root)
        while await trio.to_thread.run_sync(marker.is_dir):
            await trio.sleep(MARKER_CHECK_S)
        self._wake.set()

    async def _serve(self) -> None:
        """Hand batches to the mirror until the marker disappears or a batch fails."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            if not self._marker_ok():
                return
            self._busy = True
            try:
                await self._batch()
            except Exception as exc:  # a bug met in one share's files must not end the daemon
                if self._marker_ok():  # else the folder went away under the batch: said so
                    self._fail(exc)
                return
            finally:
                self._busy = False
                self._taking = ()

    async def _batch(self) -> None:
        """One batch: the rescan when due, else the files changed here; the docs
        changed by others; then the writes held back, the deletions told and restores
        asked."""
        started = trio.current_time()
        held = self._held()
        rescan = self._rescan and self._may_rescan(held)
        if not (rescan or self._scanned):
            # Nothing is mirrored before the first look at the whole folder: a file
            # renamed while the daemon was down would be taken in as a new file at
            # its new path, and a peer's change would write the old path back.
            return
        paths, self._paths = self._paths, set()
        docs, self._docs = self._docs, {}
        if held:  # a peer's change to a file being written waits for its batch
            waiting = [guid for guid in docs if self._path_of(guid) in held]
            self._docs = {guid: docs.pop(guid) for guid in waiting}
        self._taking = docs.keys()
        rels = [rel for rel in map(self._relative, paths) if rel]
        starting = rescan and not self._scanned
        if starting:
            # The manifest as stored, before the first look at the folder: what that
            # look changes in it is told (a file renamed while the daemon was down is
            # a rename, not a file new at its path).
            self.mirror.read_manifest()
            if self.on_start is not None:
                await self.on_start(self.mirror.view)
        watch = None
        if self.on_deletions is not None:
            watch = DeletionWatch(self.mirror.view, starting=starting)
        if rescan:  # the watcher's paths with the rest: one look at the folder
            self._rescan = False
            looked = trio.current_time()
            await self.mirror.rescan(also=rels)
            self._last_rescan_s = trio.current_time() - looked
            self._rescanned.set()
            self._rescanned = trio.Event()
            self._scanned = True
            await self._tell_deletions(watch, None)
        elif rels:
            await self.mirror.local_changes(rels)
            await self._tell_deletions(watch, None)
        if docs:
            await self.mirror.remote_changed(docs)
            await self._tell_deletions(watch, docs.get(MANIFEST_GUID))
        await self.mirror.flush(started)
        if docs:
            await self._look_again_at_gone_problems()
        await self._tell_deletions(watch, None)
        if docs and self.on_mirrored is not None:
            self.on_mirrored(list(docs))
        if self._undeletes:
            await self._undelete(watch)

    async def _look_again_at_gone_problems(self) -> None:
        """Look again at the paths listed not in sync that name no file any more: no
        live manifest entry holds them and nothing is on disk there (a peer's file
        this device could not write, deleted since). Nothing else would look at them
        again, so they stayed listed; the mirror's look finds them fine."""
        mirror = self.mirror
        gone = sorted({
            problem["path"] for problem in mirror.problems.listing()
            if problem["kind"] != "unsafe-path"  # a repr, not a path; the manifest's to clear
            and problem["path"] not in mirror.view.by_path
            and not os.path.lexists(mirror.root / problem["path"])
        })  # fmt: skip
        if gone:
            await mirror.local_changes(gone)

    async def _tell_deletions(self, watch: DeletionWatch | None, peer: Peer | None) -> None:
        """Tell ``on_deletions`` what the step just done deleted or brought back."""
        if watch is None or self.on_deletions is None:
            return
        found = watch.look(self.mirror.view)
        if found:
            await self.on_deletions(found, peer)

    async def _undelete(self, watch: DeletionWatch | None) -> None:
        """Carry out the restores of deleted files asked since the last batch."""
        asked, self._undeletes = self._undeletes, {}
        try:
            view = self.mirror.view
            back = [g for g in asked if (e := view.by_guid.get(g)) is not None and e.deleted]
            if back:

                def revive(doc: YDoc) -> None:
                    for guid in back:
                        set_fields(doc, guid, deleted=False, deleted_at=b"", deleted_chunks=b"")

                await self.mirror.keeper.edit(revive)
                await self.mirror.remote_changed({MANIFEST_GUID: None})
                await self._tell_deletions(watch, None)
        finally:
            for done in asked.values():
                done.set()

    def _held(self) -> set[str]:
        """Share paths of the files the watcher holds because they are being written."""
        held = self._watcher.held() if self._watcher is not None else frozenset()
        return {rel for rel in map(self._relative, held) if rel}

    def _path_of(self, guid: str) -> str | None:
        entry = self.mirror.view.by_guid.get(guid)
        return entry.path if entry is not None else None

    def _may_rescan(self, held: set[str]) -> bool:
        """Whether the rescan due may run: not while a file is being written (it would
        read it half-written), unless it waited ``SAVE_HOLD.open_max_s`` already. The
        watcher takes a held file within that time, and that batch wakes ``_serve``."""
        now = trio.current_time()
        if not held:
            self._rescan_waits_since = None
            return True
        if self._rescan_waits_since is None:
            self._rescan_waits_since = now
        if now - self._rescan_waits_since < SAVE_HOLD.open_max_s:
            return False
        self._rescan_waits_since = None
        return True

    def _relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root.absolute()).as_posix()
        except ValueError:
            return ""

    def _fail(self, exc: Exception) -> None:
        """Stop this share, not the daemon, after its mirror raised ``exc`` (a bug):
        the docs and logs keep everything, the other shares go on, and the registry
        starts the share again afresh, later and later while it keeps failing."""
        log.error("share %s: mirroring %s failed", self.share, self.root, exc_info=exc)
        message = (
            f"share {self.share}: mirroring the folder {self.root} failed "
            f"({type(exc).__name__}: {exc}); the share is stopped, its docs and logs keep "
            "every change, and it starts again by itself; the daemon log has the details"
        )
        self.events.publish("error", share=self.share, message=message)
        self.failed = True
        self.stop_reason = message
        for done in self._undeletes.values():
            done.set()  # their callers look at the view, and find nothing restored
        self._on_stopped(message)

    def _marker_ok(self) -> bool:
        if marker_dir(self.root).is_dir():
            return True
        message = (
            f"share {self.share}: the folder {self.root} has no .p2psync marker any more "
            "(moved, unmounted or deleted?); the share is stopped and no file is read as deleted; "
            "it starts again by itself once the folder is back"
        )
        log.error("%s", message)
        self.events.publish("error", share=self.share, message=message)
        self.stop_reason = message
        self._on_stopped(message)
        return False
