"""A peer's question about an unloaded doc, answered from the doc's log.

A peer's ``SyncStep1`` for a doc the share holds but has not loaded is answered
from the updates in its log, read in a thread, without loading the doc into
memory (docs/architecture.md). If the doc was loaded meanwhile, the loaded doc
answers.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from pathlib import Path

import trio

from p2psync.errors import StorageError
from p2psync.protocol.messages import SyncStep1
from p2psync.replica.effects import Effect
from p2psync.replica.sync import ShareSync
from p2psync.storage import DocLog
from p2psync.storage.layout import log_path

log = logging.getLogger(__name__)


async def answer_from_log(
    sync: ShareSync, root: Path, share: str, peer: Hashable, message: SyncStep1
) -> list[Effect]:
    """The answer to ``message`` from ``peer`` about an unloaded doc of the share
    ``share`` in folder ``root``, read from its log (nothing if it cannot be read)."""
    try:
        stored = await trio.to_thread.run_sync(read_stored_updates, root, message.guid)
    except StorageError as exc:
        log.error("share %s: cannot read the log of %s for peer %s: %s", share,
                  message.guid, peer, exc)  # fmt: skip
        return []
    if sync.replica.is_loaded(message.guid):  # loaded meanwhile: it answers
        return sync.receive(peer, message)
    return sync.answer_from_log(peer, message, stored)


def read_stored_updates(root: Path, guid: str) -> list[bytes]:
    """Every update in the log of ``guid`` (blocking; the log is opened and closed)."""
    try:
        opened = DocLog.open(log_path(root, guid), create=False)
    except FileNotFoundError:
        return []
    opened.log.close()
    return opened.updates
