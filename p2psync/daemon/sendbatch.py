"""What a link's sender writes at once: the message it waited for and whatever else
its queue already holds, framed, up to BATCH_BYTES (``LinkRunner._sender`` in
``daemon.links`` writes a batch with one ``PeerChannel.write``).

One write of many frames costs the TLS records that 16 KiB pieces of it need and one
socket write, where a write per message cost a record and a socket write each, and
the peer decrypts and reads as many records as were written. A first sync queues
thousands of small messages at once; a lone message goes out as before, since taking
the rest never waits (docs/decisions.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import trio

from p2psync.daemon.peerinfo import Link, Queued, payload_bytes
from p2psync.errors import LocalProtocolError, MessageTooLargeError

BATCH_BYTES = 64 * 1024
"""Frames taken into one write, at least: four full TLS records. Batches of 16 KiB
already cut both ends' CPU per message about fivefold against a write per message
(small messages over loopback TLS), and larger ones gained nothing more; the frame that
crosses the budget is taken whole, so a batch is at most this and one frame."""


@dataclass
class Batch:
    """Messages framed to be written together, in queue order."""

    frames: list[bytes] = field(default_factory=list)
    framed: list[Queued] = field(default_factory=list)
    """The messages whose frames ``frames`` holds, in the same order."""
    refused: list[tuple[Queued, MessageTooLargeError]] = field(default_factory=list)
    """Messages over the frame limit: not framed, nothing of them written."""
    failure: LocalProtocolError | None = None
    """Why a message could not be framed (the connection cannot send any more): the
    messages taken before it are in the batch, the link ends after writing them."""
    size: int = 0
    """The bytes of ``frames``."""

    @property
    def data(self) -> bytes:
        """The frames, joined for one write."""
        return b"".join(self.frames)


def take_ready(link: Link, first: Queued) -> Batch:
    """``first`` (already taken from ``link``'s queue) and whatever else the queue holds
    now, each framed in order, until BATCH_BYTES of frames or the queue is empty; never
    waits. Each message taken leaves ``link.queued_bytes``."""
    batch = Batch()
    message = first
    while True:
        try:
            data = link.channel.frame(message)
        except MessageTooLargeError as exc:
            batch.refused.append((message, exc))
        except LocalProtocolError as exc:
            batch.failure = exc
            return batch
        else:
            batch.frames.append(data)
            batch.framed.append(message)
            batch.size += len(data)
        if batch.size >= BATCH_BYTES:
            return batch
        try:
            message = link.receive.receive_nowait()
        except trio.WouldBlock:
            return batch
        link.queued_bytes -= payload_bytes(message)
