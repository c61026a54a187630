"""One document held in memory, over pycrdt.

A DocReplica applies Yjs v1 updates and reports exactly what each one changed (the
delta pycrdt integrated), so a duplicate is recognised as such, a loop of forwarded
updates ends, and only new content is stored and forwarded. It answers state-vector
diffs and reports its version for the index.

pycrdt's ``Doc.observe`` makes a reference cycle through Rust that Python's collector
cannot see (the Doc holds the callback, which holds the Doc), so an observed Doc is
never freed unless its subscription is dropped. A DocReplica observes its Doc through
a weak reference to itself and drops the subscription when it is freed, so an
unloaded doc gives its memory back (issue 19: every doc loaded once stayed in memory).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import pycrdt

from p2psync.errors import UpdateError
from p2psync.ids import new_client_id
from p2psync.protocol.yjs import (
    DocVersion,
    MalformedYjsError,
    check_delete_set_update,
    decode_state_vector,
    delete_set_digest,
)
from p2psync.replica.validate import Outcome, apply_checked, malformed
from p2psync.storage.compaction import YDoc, apply_in_chunks


def check_v1_update(update: bytes) -> None:
    """Raise UpdateError if ``update`` is a Yjs v2 update (or empty).

    pycrdt silently ignores v2 updates. A v2 update starts with a zero byte (its
    feature flag); a v1 update starting with zero has no structs and must then be
    exactly a v1 delete set, which a v2 update never is. Other malformed v1 updates
    are refused by pycrdt itself when applied.
    """
    if not update:
        raise UpdateError("not a Yjs v1 update (empty)")
    if update[0] == 0:
        try:
            check_delete_set_update(update)
        except MalformedYjsError:
            raise UpdateError("not a Yjs v1 update (a Yjs v2 update, or malformed)") from None


def check_local_update(update: bytes) -> None:
    """Raise UpdateError unless ``update`` reads as a Yjs v1 update a replica accepts.

    Judged on the bytes alone, so it runs before anything is created for the update
    (a log, a doc in memory): a refused local change leaves nothing behind.
    """
    check_v1_update(update)
    reason = malformed(update)
    if reason is not None:
        raise UpdateError(f"not a Yjs v1 update ({reason})")


class Applied(NamedTuple):
    """What ``DocReplica.apply_many`` did: the deltas integrated and, if an update was
    refused or must wait for others, why and at which position."""

    integrated: list[bytes]
    error: UpdateError | None = None
    failed_at: int | None = None
    missing: bool = False
    """The update at ``failed_at`` depends on changes this replica does not hold."""


class DocReplica:
    """A loaded document: its pycrdt Doc plus the bookkeeping sync needs.

    After pycrdt panics inside an update (it raises ``PanicException``, a
    BaseException, for a few malformed inputs) the Doc cannot be trusted: the replica
    marks itself ``poisoned`` and the owner must reload it from its log.
    """

    def __init__(self, guid: str, updates: Iterable[bytes] = ()) -> None:
        self.guid = guid
        self.poisoned = False
        self._doc: YDoc = pycrdt.Doc(client_id=new_client_id())
        apply_in_chunks(self._doc, list(updates))
        self._integrated: list[bytes] = []
        self._version: DocVersion | None = None
        self._state: dict[int, int] | None = None
        """The decoded state vector, kept by ``apply_checked`` while only checked
        remote updates change the Doc; None when it must be read again."""
        self._checking = False
        _observe_weakly(self)

    def _on_transaction(self, event: pycrdt.TransactionEvent) -> None:
        self._integrated.append(event.update)
        self._version = None
        if not self._checking:
            self._state = None

    def apply(self, update: bytes) -> list[bytes]:
        """Apply ``update``; return the deltas it integrated, empty if it was nothing new.

        An update whose dependencies are missing is held by pycrdt and integrated (and
        returned) by the call that brings them. Raises UpdateError if the bytes are
        not a Yjs v1 update; the document is unchanged then, unless pycrdt panicked,
        in which case ``poisoned`` is set.
        """
        applied = self.apply_many([update])
        if applied.error is not None:
            raise applied.error
        return applied.integrated

    def apply_many(self, updates: Sequence[bytes], *, remote: bool = False) -> Applied:
        """Apply ``updates`` in order, each checked before the Doc sees it
        (``replica.validate``).

        If one is not a valid Yjs v1 update, the ones before it are applied, it and the
        rest are not, and the result names it. Updates from a peer (``remote``) must
        not depend on anything this replica lacks: the first that does stops the
        batch with ``missing`` set (no error), so the caller can ask for the gap. If
        pycrdt panicked anyway, ``poisoned`` is set and nothing of this call is
        reported as integrated: the owner reloads the doc from its log.
        """
        valid: Sequence[bytes] = updates
        error: UpdateError | None = None
        failed_at: int | None = None
        for index, update in enumerate(updates):
            if update[:1] == b"\x00" or not update:  # v2 (merging would drop it silently)
                try:
                    check_v1_update(update)
                except UpdateError as exc:
                    valid, failed_at = updates[:index], index
                    error = UpdateError(f"doc {self.guid}: {exc}")
                    break
        state = self._state
        if state is None:
            state = decode_state_vector(self._doc.get_state())
        self._checking = remote  # local updates may stay pending: read the state again
        try:
            checked = apply_checked(self._doc, valid, state, allow_missing=not remote)
        finally:
            self._checking = False
        self._state = state if remote and checked.outcome is not Outcome.PANIC else None
        missing = checked.outcome is Outcome.MISSING
        if checked.outcome is Outcome.MALFORMED:
            failed_at = checked.stopped_at
            error = UpdateError(f"doc {self.guid}: not a Yjs v1 update ({checked.reason})")
        elif checked.outcome is Outcome.PANIC:
            self.poisoned = True
            failed_at = checked.stopped_at
            error = UpdateError(f"doc {self.guid}: refused an update: {checked.reason}")
        elif missing:
            failed_at, error = checked.stopped_at, None
        integrated, self._integrated = self._integrated, []
        if self.poisoned:
            integrated = []  # nothing from a Doc that panicked reaches a log or a peer
        return Applied(integrated, error, failed_at, missing)

    def local_edit(self, edit: Callable[[YDoc], None]) -> list[bytes]:
        """Run ``edit`` on the Doc in one transaction of this replica's own client (a
        local change, such as the plain-file mirror turning a save into Y.Text edits);
        return the deltas it produced, empty if it changed nothing. An exception from
        ``edit`` propagates; what it changed before raising is kept and returned by
        the next call."""
        with self._doc.transaction():
            edit(self._doc)
        integrated, self._integrated = self._integrated, []
        return integrated

    @property
    def ydoc(self) -> YDoc:
        """The pycrdt Doc, for reading (change it only through ``local_edit``)."""
        return self._doc

    def clock_of(self, client: int) -> int:
        """The next clock this replica expects from ``client`` (0 if none seen)."""
        return decode_state_vector(self._doc.get_state()).get(client, 0)

    def state_vector(self) -> bytes:
        """This replica's Yjs v1 state vector."""
        return self._doc.get_state()

    def diff(self, remote_state_vector: bytes) -> bytes:
        """The Yjs v1 update a replica at ``remote_state_vector`` is missing.

        Raises UpdateError if the state vector is malformed.
        """
        try:
            return self._doc.get_update(remote_state_vector)
        except ValueError as exc:
            raise UpdateError(f"doc {self.guid}: malformed state vector ({exc})") from exc

    def full_state(self) -> bytes:
        """The whole document as one Yjs v1 update."""
        return self._doc.get_update()

    def version(self) -> DocVersion:
        """State vector and delete-set digest, for index entries and sync checks."""
        if self._version is None:
            state = self._doc.get_state()
            digest = delete_set_digest(self._doc.get_update(state))
            self._version = DocVersion(decode_state_vector(state), digest)
        return self._version

    def text(self, name: str = "content") -> str:
        """The root ``Y.Text`` called ``name`` (used by tests and the plain-file mirror)."""
        return str(self._doc.get(name, type=pycrdt.Text))


def _observe_weakly(replica: DocReplica) -> None:
    """Call ``replica._on_transaction`` on each transaction of its Doc while the replica
    lives, and drop the subscription once it is freed: the callback holds the replica
    only weakly, so nothing keeps the replica alive, and dropping the subscription
    breaks pycrdt's own cycle (Doc, callback, Doc), which the collector cannot see."""
    doc = replica._doc
    ref = weakref.ref(replica)

    def on_transaction(event: pycrdt.TransactionEvent) -> None:
        live = ref()
        if live is not None:
            live._on_transaction(event)

    subscription = doc.observe(on_transaction)
    weakref.finalize(replica, doc.unobserve, subscription).atexit = False
