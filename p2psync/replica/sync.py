"""The sync engine of one share: merge decisions, no I/O.

``ShareSync`` takes what happened (a peer came or went, a message arrived, a local
change, updates another process appended to a log) and returns effects for the
daemon to carry out in order: ``Persist`` updates durably, then ``Send`` messages.

Per peer and doc the exchange is: index entry → SyncStep1 (our state vector) →
SyncStep2 (the diff) → live Updates. Every change takes a new sequence number in the
share's index and is flooded to every other connected member; duplicates and
reordering are harmless because pycrdt reports only what an update integrated, and a
change that integrates nothing is neither stored nor forwarded. What the engine knows
of each peer is in ``replica.peerstate``; how its messages fit frames, ``replica.framing``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from p2psync.errors import MalformedYjsError, UpdateError
from p2psync.protocol.frames import MAX_FRAME_BYTES
from p2psync.protocol.messages import (
    DocError,
    Index,
    IndexRequest,
    SyncMessage,
    SyncStep1,
    SyncStep2,
    Update,
)
from p2psync.protocol.yjs import DocVersion, encode_state_vector
from p2psync.protocol.yjs_split import split_update
from p2psync.replica.doc import DocReplica
from p2psync.replica.effects import (
    AppApplied,
    Disconnect,
    Effect,
    Peer,
    Persist,
    Quarantine,
    Reload,
    Send,
    Tell,
)
from p2psync.replica.framing import FRAME_PAYLOAD_SHARE, frames_of, index_messages
from p2psync.replica.membership import MemberPolicy
from p2psync.replica.peerstate import PeerState, Remembered, in_sync, resume_point, sync_counts
from p2psync.replica.share import ShareReplica
from p2psync.replica.stored import EMPTY_UPDATE, diff_of_stored
from p2psync.storage.compaction import YDoc

log = logging.getLogger(__name__)

MAX_UNASKED_NEW_DOCS = 200
"""Docs one connection may create with live updates we did not ask for; later ones are
dropped (the peer's index announces them and we ask, at our pace)."""
MAX_DROPPED_NEW_DOCS = 1000
"""Dropped live updates of unknown docs after which the peer is disconnected with a
penalty: it creates docs far faster than anyone edits."""


class ShareSync:
    """Keeps one share's replica in sync with the connected members."""

    def __init__(self, replica: ShareReplica, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        """``max_frame_bytes``: the frame limit every message sent must fit (tests lower
        it); update bytes are split to a quarter of it (FRAME_PAYLOAD_SHARE)."""
        self.replica = replica
        self._payload_bytes = max_frame_bytes // FRAME_PAYLOAD_SHARE
        self._peers: dict[Peer, PeerState] = {}
        self._remembered: dict[Peer, Remembered] = {}
        self.policy = MemberPolicy()
        """Members' modes (replica.membership): set by the daemon's membership service."""
        self.urgent: frozenset[str] = frozenset()
        """Docs a peer should ask for before the others (the share's manifest: a peer
        writes no file before it has it). Their entries go ahead of an index delta."""

    @property
    def share_id(self) -> bytes:
        return self.replica.share_id

    # -- peers -------------------------------------------------------------------

    def peer_up(self, peer: Peer) -> list[Effect]:
        """A member connected: ask for its index since what we saw last time.

        A peer already up (a new link replaced its old one before the old one went
        down) starts over as if it had gone down first: what its old link was still
        to bring is asked for again."""
        if peer in self._peers:
            log.debug("share %s: peer %s is up on a new link: sync restarts", self._name, peer)
            self.peer_down(peer)
        known = self._remembered.get(peer, Remembered())
        self._peers[peer] = PeerState(known.index_id, known.max_sequence, 0, known.versions)
        log.debug(
            "share %s: sync with peer %s starts from its index %s after sequence %d",
            self._name, peer, known.index_id.hex() or "(none)", known.max_sequence,
        )  # fmt: skip
        request = IndexRequest(self.share_id, known.index_id, known.max_sequence)
        return [Send(peer, request)]

    def peer_down(self, peer: Peer) -> None:
        """A member disconnected; outstanding requests to it are forgotten, and what
        we remember of its index stops before the first of them (``resume_point``)."""
        state = self._peers.pop(peer, None)
        if state is not None:
            if state.requested:
                log.debug("share %s: peer %s went down before it sent %d docs we asked for: "
                          "they are asked for again on its next link", self._name, peer,
                          len(state.requested))  # fmt: skip
            self._remembered[peer] = resume_point(state)

    def peers(self) -> list[Peer]:
        return list(self._peers)

    def remembered(self) -> dict[Peer, tuple[bytes, int, dict[str, tuple[int, DocVersion]]]]:
        """Per peer (connected or not): the index ID and sequence of its index we are
        up to date with, and the versions it announced, for the persisted index."""
        known = {p: (r.index_id, r.max_sequence, r.versions) for p, r in self._remembered.items()}
        for peer, state in self._peers.items():
            point = resume_point(state)
            known[peer] = (point.index_id, point.max_sequence, point.versions)
        return {peer: (i, m, dict(v)) for peer, (i, m, v) in known.items() if i}

    def remember(
        self, peer: Peer, index_id: bytes, max_sequence: int,
        versions: dict[str, tuple[int, DocVersion]],
    ) -> None:  # fmt: skip
        """Restore what ``peer``'s index told us before a restart (see ``remembered``)."""
        self._remembered[peer] = Remembered(index_id, max_sequence, versions)

    def answer_from_log(self, peer: Peer, message: SyncStep1, stored: list[bytes]) -> list[Effect]:
        """Answer a SyncStep1 for a doc that is not loaded from the updates of its log,
        without building the doc (``replica.stored``)."""
        if peer not in self._peers:
            return []
        try:
            update = diff_of_stored(message.guid, stored, message.state_vector)
        except UpdateError as exc:
            self.peer_down(peer)
            return [Disconnect(peer, str(exc))]
        return self._step2(peer, message.guid, update)

    def doc_loaded(self, guid: str, recorded: DocVersion) -> list[Effect]:
        """Doc ``guid`` was loaded and holds more than its ``recorded`` version
        (another process appended to its log while it was unloaded): flood the rest."""
        doc = self.replica.get(guid)
        if doc is None:
            return []
        return self._flood(guid, [doc.diff(encode_state_vector(recorded.state_vector))],
                           source=None)  # fmt: skip

    def doc_lost(self, guid: str) -> list[Effect]:
        """Doc ``guid`` lost changes on disk (its log deleted while unloaded): ask every
        connected peer we take changes from for what we now miss."""
        effects: list[Effect] = []
        sv = self.replica.state_vector(guid)
        for peer, state in self._peers.items():
            if self.policy.takes_from(peer):
                state.requested.add(guid)
                effects.append(Send(peer, SyncStep1(self.share_id, guid, sv)))
        return effects

    # -- messages ----------------------------------------------------------------

    def receive(self, peer: Peer, message: SyncMessage) -> list[Effect]:
        """Handle one message from ``peer``.

        A malformed update or state vector ends in a Disconnect effect (after the
        effects of whatever valid updates came before it in the same message).
        """
        state = self._peers.get(peer)
        if state is None:
            return []  # not connected (any more): ignore
        try:
            return self._dispatch(peer, state, message)
        except _RejectedError as rejected:
            self.peer_down(peer)  # what it sends until the link is gone is ignored
            disconnect = Disconnect(peer, rejected.reason, rejected.penalty)
            # Last: carrying out a Disconnect cancels the peer's task, which may be the
            # one carrying out these effects, so the reload must come before it.
            return [*rejected.effects, *rejected.reload, disconnect]

    def _dispatch(self, peer: Peer, state: PeerState, message: SyncMessage) -> list[Effect]:
        match message:
            case IndexRequest():
                return self._answer_index_request(peer, state, message)
            case Index():
                return self._on_index(peer, state, message)
            case SyncStep1():
                doc = self.replica.get(message.guid)
                if doc is None and message.guid in self.replica:
                    raise LookupError(f"doc {message.guid} is not loaded (answer_from_log)")
                try:
                    update = doc.diff(message.state_vector) if doc else EMPTY_UPDATE
                except UpdateError as exc:
                    raise _RejectedError(str(exc)) from None
                return self._step2(peer, message.guid, update)
            case SyncStep2() | Update():
                if not self.policy.takes_from(peer):
                    return self._refuse(peer, state, message.guid)
                asked = message.guid in state.requested
                if not asked and not self._may_create(state, message):
                    return []
                if isinstance(message, Update):
                    return self._integrate(peer, state, message.guid, message.updates,
                                           live=True, asked=asked)  # fmt: skip
                if not message.more:  # the answer is complete (docs/protocol.md §7)
                    state.requested.discard(message.guid)
                return self._integrate(peer, state, message.guid, [message.update],
                                       live=False, asked=asked)  # fmt: skip
        return []

    def _step2(self, peer: Peer, guid: str, update: bytes) -> list[Effect]:
        """The SyncStep2 answering ``peer`` with ``update``, in as many frames as it
        takes (``protocol.yjs_split``): the parts in order, all but the last with
        ``more``, so the peer keeps the doc asked for until the whole answer is in."""
        try:
            parts = split_update(update, self._payload_bytes)
        except MalformedYjsError as exc:  # our own state: Yrs wrote something we cannot read
            log.warning("share %s: the answer for doc %s cannot be split (%s): sent whole",
                        self._name, guid, exc)  # fmt: skip
            parts = [update]
        last = len(parts) - 1
        return [
            Send(peer, SyncStep2(self.share_id, guid, part, more=number < last))
            for number, part in enumerate(parts)
        ]

    def _may_create(self, state: PeerState, message: SyncStep2 | Update) -> bool:
        """False (drop it) if ``message`` would create a doc we did not ask for after
        this connection already created MAX_UNASKED_NEW_DOCS; raises _RejectedError
        with a penalty past MAX_DROPPED_NEW_DOCS."""
        if message.guid in self.replica or state.new_docs < MAX_UNASKED_NEW_DOCS:
            return True
        state.dropped_new_docs += 1
        if state.dropped_new_docs > MAX_DROPPED_NEW_DOCS:
            raise _RejectedError(
                f"it sent updates for {state.new_docs + state.dropped_new_docs} new docs "
                "we did not ask for",
                penalty=True,
            )
        return False

    def _answer_index_request(
        self, peer: Peer, state: PeerState, request: IndexRequest
    ) -> list[Effect]:
        since = request.since if request.index_id == self.replica.index_id else 0
        state.sent_sequence = since
        return self._index_delta(peer, state, force=True)

    def _on_index(self, peer: Peer, state: PeerState, index: Index) -> list[Effect]:
        if index.index_id != state.index_id:
            state.versions.clear()
        state.index_id = index.index_id
        state.heard_index = True
        state.max_sequence = max(index.max_sequence, state.max_sequence)
        effects: list[Effect] = []
        for entry in index.entries:
            seen = state.versions.get(entry.guid)
            if seen is not None and seen[0] >= entry.sequence:
                continue  # an older entry arriving late
            state.versions[entry.guid] = (entry.sequence, entry.version)
            if not self.policy.takes_from(peer):
                continue  # its changes are not ours to take (modes): never ask for them
            ours = self.replica.version(entry.guid)
            if entry.guid in state.requested or (
                ours is not None
                and ours.has_all_of(entry.version)
                and ours.delete_digest == entry.version.delete_digest
            ):
                continue
            state.requested.add(entry.guid)
            sv = self.replica.state_vector(entry.guid)
            effects.append(Send(peer, SyncStep1(self.share_id, entry.guid, sv)))
        return effects

    # -- local changes -----------------------------------------------------------

    def local_update(self, guid: str, update: bytes) -> list[Effect]:
        """A local app changed doc ``guid``: store ``update`` as given, then flood.

        Raises UpdateError if it is not a Yjs v1 update (nothing is stored).
        """
        doc = self.replica.get_or_create(guid)
        integrated = doc.apply(update)
        effects: list[Effect] = [Persist(guid, [update])]
        if integrated:
            self.replica.touch(guid)
            effects += self._flood(guid, integrated, source=None)
        return effects

    def app_update(self, guid: str, update: bytes) -> AppApplied:
        """A local app's update (docs/apps.md): checked exactly as a peer's
        (``DocReplica.apply_many`` with ``remote``: a malformed update is refused, one
        that depends on changes the doc lacks is not applied), then stored and flooded
        as a local change. A pycrdt panic ends in Quarantine and Reload effects."""
        held = self.replica.get(guid)
        doc = held if held is not None else DocReplica(guid)
        applied = doc.apply_many([update], remote=True)
        effects: list[Effect] = []
        if applied.integrated:
            if held is None:
                self.replica.add(doc)
            self.replica.touch(guid)
            effects = [Persist(guid, applied.integrated)]
            effects += self._flood(guid, applied.integrated, source=None)
        if applied.error is not None and doc.poisoned and held is not None:
            effects += [Quarantine(guid, [update], str(applied.error)), Reload(guid)]
        return AppApplied(effects, applied.integrated, applied.error, applied.missing)

    def local_edit(self, guid: str, edit: Callable[[YDoc], None]) -> list[Effect]:
        """Change doc ``guid`` (created if new) in place with ``edit`` as a local
        change: store and flood what it produced (DocReplica.local_edit)."""
        doc = self.replica.get_or_create(guid)
        integrated = doc.local_edit(edit)
        if not integrated:
            return []
        self.replica.touch(guid)
        return [Persist(guid, integrated), *self._flood(guid, integrated, source=None)]

    def stored_updates(self, guid: str, updates: list[bytes]) -> list[Effect]:
        """Updates another local process appended to the log of ``guid`` (already
        durable): apply and flood. Malformed ones are skipped and logged."""
        doc = self.replica.get_or_create(guid)
        integrated: list[bytes] = []
        while updates:
            applied = doc.apply_many(updates)
            integrated += applied.integrated
            if applied.error is None or applied.failed_at is None or doc.poisoned:
                break
            log.warning("share %s: skipped an update appended to the log: %s", self._name,
                        applied.error)  # fmt: skip
            updates = updates[applied.failed_at + 1 :]
        if not integrated:
            return []
        self.replica.touch(guid)
        return self._flood(guid, integrated, source=None)

    def doc_appeared(self, guid: str) -> list[Effect]:
        """A doc was loaded from a log that appeared while running (another process
        created it): send its whole state to every peer at once, so their live updates
        never wait on a base that only the next index exchange would bring."""
        doc = self.replica.get(guid)
        if doc is None:
            return []
        self.replica.touch(guid)
        return self._flood(guid, [doc.full_state()], source=None)

    # -- index -------------------------------------------------------------------

    def flush_index(self) -> list[Effect]:
        """Index deltas (docs changed since the last one sent) for every peer."""
        effects: list[Effect] = []
        for peer, state in self._peers.items():
            effects += self._index_delta(peer, state, force=False)
        return effects

    def _index_delta(self, peer: Peer, state: PeerState, *, force: bool) -> list[Effect]:
        entries = self.replica.entries_since(state.sent_sequence)
        if not entries and not force:
            return []
        since, state.sent_sequence = state.sent_sequence, self.replica.max_sequence
        messages = index_messages(
            self.share_id, self.replica.index_id, entries, since=since,
            max_sequence=self.replica.max_sequence, urgent=self.urgent,
            payload_bytes=self._payload_bytes,
        )  # fmt: skip
        return [Send(peer, message) for message in messages]

    # -- status ------------------------------------------------------------------

    def in_sync_with(self, peer: Peer) -> bool:
        """True when ``peer`` has told us it holds exactly our version of every doc."""
        state = self._peers.get(peer)
        return state is not None and in_sync(peer, state, self.replica, self.policy)

    def sync_counts(self, peer: Peer) -> tuple[int, int]:
        """``(docs in sync, docs)`` with a connected ``peer``, over the docs either side
        holds (ours, and those its index announced): a doc is in sync when the peer
        counts as ``in_sync_with`` does, modes included (a send-only peer's copy holds
        edits of its own). (0, 0) for a peer that is not connected.
        Read-only, for progress displays: a device joining a share sees the count of
        docs grow as the peer's index arrives and the docs come in."""
        state = self._peers.get(peer)
        return (0, 0) if state is None else sync_counts(peer, state, self.replica, self.policy)

    def progress_marker(self) -> tuple[object, ...]:
        """A value that changes whenever ``in_sync_with`` may change for some peer, so
        a watcher can skip the full comparison while nothing happens. Read-only."""
        return (
            self.replica.max_sequence,
            len(self.replica),
            tuple(
                (p, s.index_id, s.max_sequence, s.sent_sequence, len(s.requested), s.heard_index)
                for p, s in self._peers.items()
            ),
        )

    # -- internals ---------------------------------------------------------------

    @property
    def _name(self) -> str:
        return self.share_id.hex()[:8]

    def _resync(self, peer: Peer, state: PeerState, doc: DocReplica) -> list[Effect]:
        """Live updates from ``peer`` skip ahead of what we hold: drop them and ask for
        everything we miss (the SyncStep2 brings the dropped ones too)."""
        if doc.guid in state.requested:
            return []
        state.requested.add(doc.guid)
        return [Send(peer, SyncStep1(self.share_id, doc.guid, doc.state_vector()))]

    def _integrate(
        self,
        peer: Peer,
        state: PeerState,
        guid: str,
        updates: list[bytes],
        *,
        live: bool,
        asked: bool,
    ) -> list[Effect]:
        """Apply a peer's updates (checked first, see DocReplica.apply_many), store and
        forward what they integrated. Live updates that skip ahead of what we hold stop
        there and we ask for everything we miss (the SyncStep2 brings them again); a
        SyncStep2 answers our own state vector, so a gap in it is a protocol error."""
        held = self.replica.get(guid)
        doc = held if held is not None else DocReplica(guid)
        applied = doc.apply_many(updates, remote=True)
        effects: list[Effect] = []
        if applied.integrated:
            if held is None:  # a new doc exists once something valid arrived for it
                self.replica.add(doc)
                state.new_docs += not asked
            self.replica.touch(guid)
            effects = [Persist(guid, applied.integrated)]
            effects += self._flood(guid, applied.integrated, source=peer)
        if applied.missing and live:
            return effects + self._resync(peer, state, doc)
        if applied.missing:
            raise _RejectedError(f"doc {guid}: the SyncStep2 depends on changes it does not bring",
                                 effects)  # fmt: skip
        if applied.error is not None:
            reload: list[Effect] = []
            if doc.poisoned and applied.failed_at is not None:
                bad = updates[applied.failed_at :]
                reload = [Quarantine(guid, bad, str(applied.error))]
                reload += [Reload(guid)] if held is not None else []  # a new doc is dropped
            raise _RejectedError(str(applied.error), effects, reload, penalty=doc.poisoned)
        return effects

    def _refuse(self, peer: Peer, state: PeerState, guid: str) -> list[Effect]:
        """Changes from a peer whose changes we do not take (modes): dropped; a
        receive-only peer is told so, once per doc and connection."""
        state.requested.discard(guid)
        if not self.policy.refuses(peer) or guid in state.refused:
            return []
        state.refused.add(guid)
        message = "you are a receive-only member: your changes are not applied or forwarded"
        return [Tell(peer, DocError(self.share_id, guid, "receive-only", message))]

    def _flood(self, guid: str, updates: list[bytes], *, source: Peer | None) -> list[Effect]:
        peers = [p for p in self._peers if p != source and self.policy.sends_to(p)]
        if not peers:
            return []
        return [
            Send(peer, Update(self.share_id, guid, chunk))
            for chunk in frames_of(updates, self._payload_bytes)
            for peer in peers
        ]


class _RejectedError(Exception):
    """A peer's message failed validation part-way; carries the effects so far.
    ``penalty``: the peer exceeded a limit (or crashed the CRDT engine)."""

    def __init__(
        self,
        reason: str,
        effects: list[Effect] | None = None,
        reload: list[Effect] | None = None,
        *,
        penalty: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.effects = effects or []
        self.reload = reload or []
        self.penalty = penalty
