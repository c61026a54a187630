"""What the file history of a share needs of that share (``HistoryShare``): the
seam between ``daemon.sharehistory`` and ``daemon.chunkhistory`` and the
``ShareService`` they serve, so that neither imports the other's module to name it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from p2psync.daemon.doclogs import DocLogs
from p2psync.daemon.mirror import MirrorService
from p2psync.replica.doc import DocReplica
from p2psync.replica.sync import ShareSync


class HistoryShare(Protocol):
    """What the file history needs of its share (``ShareService``)."""

    @property
    def name(self) -> str: ...

    @property
    def device_id(self) -> str: ...

    @property
    def root(self) -> Path: ...

    @property
    def stopped(self) -> str | None: ...

    @property
    def sync(self) -> ShareSync: ...

    @property
    def mirror(self) -> MirrorService | None: ...

    @property
    def logs(self) -> DocLogs: ...

    def call(self) -> AbstractContextManager[None]: ...

    def doc(self, guid: str) -> DocReplica | None: ...

    async def local_update(
        self, guid: str, update: bytes, *, notify: bool = True, kind: str = "local save"
    ) -> None: ...
