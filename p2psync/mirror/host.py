"""What the mirror's parts need of the ``Mirror`` they serve (``Host``).

The collaborators (``saves``, ``chunkpaths``, ``renames``, ``collisions``) each do one
job for the ``Mirror`` and call back into it for what is shared: the folder, the
share's docs, the ledger and the manifest keeper, ``reconcile`` of a path, keeping a
losing version, and reporting a problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from p2psync.mirror.chunkfile import ChunkedFiles
from p2psync.mirror.fileio import FileStat
from p2psync.mirror.hlc import HybridClock
from p2psync.mirror.keeper import ManifestKeeper
from p2psync.mirror.ledger import Ledger
from p2psync.mirror.manifest import Entry, ManifestView
from p2psync.mirror.names import Listings, NameRules
from p2psync.mirror.problems import Problems
from p2psync.mirror.state import SyncTable
from p2psync.mirror.store import DocStore, Peer, Publish
from p2psync.replica.doc import DocReplica


class Host(Protocol):
    """The ``Mirror`` as its collaborators see it."""

    root: Path
    share: str
    store: DocStore
    clock: HybridClock
    names: NameRules
    chunks: ChunkedFiles
    synced: SyncTable
    ledger: Ledger
    keeper: ManifestKeeper
    problems: Problems
    retry: set[str]
    """Paths to reconcile again with the next batch (saved while being written)."""
    listings: Listings

    @property
    def publish(self) -> Publish: ...

    @property
    def view(self) -> ManifestView: ...

    async def reconcile(self, rel: str, peer: Peer | None = None) -> None: ...

    async def keep(self, rel: str, why: str, data: bytes, *, device: str = "") -> Path: ...

    def doc_bytes(self, entry: Entry, doc: DocReplica | None) -> bytes | None: ...

    def read_exact(self, rel: str) -> tuple[bytes, FileStat] | None: ...

    def exists_as(self, rel: str) -> bool: ...

    def report(self, key: str, type_: str, **fields: Any) -> None: ...
