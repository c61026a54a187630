"""Which keys changed since their one reader last looked (``Touched``), so that the
reader looks at those alone: the docs of a peer's state (``replica.peertally``), the
paths of the mirror's view and sync records (``daemon.unwritten``). Pure.
"""

from __future__ import annotations

TOUCHED_KEPT = 4096
"""Keys at most kept between two looks: beyond, the reader is told that too many
changed and looks at everything, as cheap then; nothing grows without bound for a
reader that never comes (``status`` is asked only while a client looks)."""


class Touched:
    """The keys changed since the last ``take``, or None once too many did."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: set[str] | None = set()

    def add(self, key: str) -> None:
        if self._keys is not None:
            self._keys.add(key)
            if len(self._keys) > TOUCHED_KEPT:
                self._keys = None

    def lose(self) -> None:
        """Everything is to be looked at again."""
        self._keys = None

    def take(self) -> set[str] | None:
        """The keys changed since the last ``take`` (None: too many to say, or
        ``lose``); the next starts from now."""
        keys, self._keys = self._keys, set()
        return keys
