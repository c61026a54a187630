"""What the mirror needs of its share (``DocStore``), and the names its parts share."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from typing import Any, Protocol

import pycrdt

from p2psync.protocol.yjs import DocVersion
from p2psync.replica.doc import DocReplica

Peer = Hashable
YDoc = pycrdt.Doc[Any]
Publish = Callable[..., None]


class DocStore(Protocol):
    """What the mirror needs of its share (``ShareService`` provides it)."""

    def doc(self, guid: str) -> DocReplica | None: ...

    def version(self, guid: str) -> DocVersion | None:
        """The version of doc ``guid``, known without loading it (None: no such doc)."""

    def guids(self) -> Iterable[str]: ...

    async def local_edit(self, guid: str, edit: Callable[[YDoc], None]) -> None: ...

    async def local_update(self, guid: str, update: bytes, *, notify: bool = True) -> None: ...

    async def create_docs(self, edits: Mapping[str, Callable[[YDoc], None]]) -> dict[str, str]:
        """New docs, each made by its ``local_edit``, stored as one group commit; returns
        once every one is durable, with the guids that could not be stored and why."""

    async def durable(self, guid: str) -> None:
        """Return once every change of doc ``guid`` stored so far survives a crash."""

    def written(self, guids: Collection[str]) -> None:
        """The files of docs ``guids`` were just written as the docs are now, and the
        mirror needs nothing more of them: the share may let them leave memory (a
        first sync's new files, ``mirror.newwrites``). Never blocks."""
