"""What flows with one connected peer of a share now, for progress displays. Pure.

A *transfer* (``Transfer``) is the docs asked of a peer since the moment nothing was
outstanding with it: a first sync asks for every doc at once, a later change for a
few. It counts the docs asked, which of them arrived whole (no longer outstanding)
and the bytes of the peer's answers to them; the bytes still to come are the sizes
its index announced of the docs not arrived yet (``IndexEntry.size``; unknown from a
peer that does not announce them). It starts anew when a doc is asked while nothing
is outstanding, so a finished transfer reads "all of N" until the next one.

What we send a peer (``Sending``) is counted the same way from our side, as the link
writes our answers: the docs answered since an answer was queued while none was
outstanding (every answer before written and confirmed by the peer's index), and the
bytes of those answers. What it does not hold at our version yet, the caller works
out from what its index told us; a doc answered counts as sent once its index says
it holds it, not once written (``daemon.sharestatus``: the connection's buffers take
megabytes).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field


@dataclass
class Transfer:
    """The docs asked of one peer in its current transfer, and the bytes it answered.

    What is still to come is kept as it changes, for ``status`` to ask every second of
    a first sync that asked for every doc at once: the sizes announced of the docs
    outstanding, how many of them have none, and what arrived of those answered in
    part (a few: ``ASK_WINDOW``)."""

    asked: set[str] = field(default_factory=set)
    bytes_received: int = 0
    announced: dict[str, int | None] = field(default_factory=dict)
    """The size the peer's index announced of each doc asked (None: not announced)."""
    arrived: dict[str, int] = field(default_factory=dict)
    """The bytes of the peer's answer to each doc asked, so far."""
    outstanding: set[str] = field(default_factory=set)
    """The docs asked and not answered whole (``done``)."""
    outstanding_bytes: int = 0
    """The sizes announced of the docs ``outstanding``."""
    unannounced: int = 0
    """How many of the docs ``outstanding`` have no size announced."""
    partial: dict[str, int] = field(default_factory=dict)
    """What arrived of each doc ``outstanding`` answered in part."""

    def ask(self, guid: str, outstanding: Set[str], size: int | None = None) -> None:
        """``guid`` is asked of the peer, whose index announced it at ``size`` bytes;
        ``outstanding`` is what was asked before and not answered yet (empty: a new
        transfer starts)."""
        if not outstanding:
            self.asked, self.announced, self.arrived = set(), {}, {}
            self.bytes_received = 0
            self.outstanding, self.outstanding_bytes, self.unannounced = set(), 0, 0
            self.partial = {}
        self.done(guid)
        self.asked.add(guid)
        self.announced[guid] = size
        self.outstanding.add(guid)
        if size is None:
            self.unannounced += 1
        else:
            self.outstanding_bytes += size
        if self.arrived.get(guid):
            self.partial[guid] = self.arrived[guid]

    def answered(self, guid: str, update: bytes) -> None:
        """The peer's answer (or a part of it) for ``guid`` arrived."""
        if guid in self.asked:
            self.bytes_received += len(update)
            self.arrived[guid] = self.arrived.get(guid, 0) + len(update)
            if guid in self.outstanding:
                self.partial[guid] = self.arrived[guid]

    def done(self, guid: str) -> None:
        """``guid`` is no longer outstanding (answered whole, or refused)."""
        if guid not in self.outstanding:
            return
        self.outstanding.discard(guid)
        self.partial.pop(guid, None)
        size = self.announced.get(guid)
        if size is None:
            self.unannounced -= 1
        else:
            self.outstanding_bytes -= size

    def received(self, outstanding: Set[str]) -> set[str]:
        """The docs of this transfer that arrived whole."""
        return self.asked - outstanding

    def bytes_expected(self) -> int | None:
        """The bytes this transfer brings in all: those of the docs arrived whole, and
        for each one still outstanding its announced size (or what arrived of it, if
        more). None while a doc outstanding has no announced size (an older peer)."""
        if self.unannounced:
            return None
        announced = self.announced
        covered = sum(min(got, announced[guid] or 0) for guid, got in self.partial.items())
        return self.bytes_received + self.outstanding_bytes - covered


@dataclass
class Sending:
    """The docs whose answers we wrote to one peer in the current transfer, and their
    bytes: counted as the link writes them, not as they are queued."""

    written: dict[str, int] = field(default_factory=dict)
    """The bytes of our answer to each doc written so far in this transfer."""
    whole: set[str] = field(default_factory=set)
    """The docs whose whole answer (its last part) was written."""
    unconfirmed: set[str] = field(default_factory=set)
    """Docs answered that the peer's index has not announced since."""
    queued: set[str] = field(default_factory=set)
    """Docs whose answer is queued for the link and not written whole yet."""

    def answering(self, guid: str) -> None:
        """Our answer about ``guid`` is queued for the link; a new transfer starts if
        none was outstanding (every answer before written and confirmed). Started when
        a write found every answer confirmed instead, a link that writes in paced
        batches (``[listen] max_send_kib_s``) began one at each batch, which the peer
        confirms during the pause: a first sync read "241 of 751 files", then "241
        of 510"."""
        if not self.queued and not self.unconfirmed:
            self.written, self.whole = {}, set()
        self.queued.add(guid)

    def wrote(self, guid: str, size: int, *, last: bool) -> None:
        """A part of ``size`` bytes of our answer about ``guid`` was written (``last``:
        the answer is whole)."""
        self.written[guid] = self.written.get(guid, 0) + size
        self.unconfirmed.add(guid)
        if last:
            self.whole.add(guid)
            self.queued.discard(guid)

    def confirmed(self, guid: str) -> None:
        """The peer's index announced ``guid`` (it holds what we answered)."""
        self.unconfirmed.discard(guid)
