"""What one connected peer is sending us of a share now, for progress displays. Pure.

A *transfer* is the docs asked of a peer since the moment nothing was outstanding
with it: a first sync asks for every doc at once, a later change for a few. It
counts the docs asked, which of them arrived whole (no longer outstanding) and the
bytes of the peer's answers to them. It starts anew when a doc is asked while
nothing is outstanding, so a finished transfer reads "all of N" until the next one.
Bytes still to come are not known: a peer's index announces each doc's version, not
its size.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field


@dataclass
class Transfer:
    """The docs asked of one peer in its current transfer, and the bytes it answered."""

    asked: set[str] = field(default_factory=set)
    bytes_received: int = 0

    def ask(self, guid: str, outstanding: Set[str]) -> None:
        """``guid`` is asked of the peer; ``outstanding`` is what was asked before and
        not answered yet (empty: a new transfer starts)."""
        if not outstanding:
            self.asked = set()
            self.bytes_received = 0
        self.asked.add(guid)

    def answered(self, guid: str, update: bytes) -> None:
        """The peer's answer (or a part of it) for ``guid`` arrived."""
        if guid in self.asked:
            self.bytes_received += len(update)

    def received(self, outstanding: Set[str]) -> set[str]:
        """The docs of this transfer that arrived whole."""
        return self.asked - outstanding
