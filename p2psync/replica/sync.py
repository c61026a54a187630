"""The sync engine of one share: merge decisions, no I/O.

``ShareSync`` takes what happened (a peer came or went, a message arrived, a local
change, updates another process appended to a log) and returns effects for the
daemon to carry out in order: ``Persist`` updates durably, then ``Send`` messages.

Per peer and doc the exchange is: index entry → SyncStep1 (our state vector) →
SyncStep2 (the diff) → live Updates. Every change takes a new sequence number in the
share's index and is flooded to every other connected member; duplicates and
reordering are harmless because pycrdt reports only what an update integrated, and a
change that integrates nothing is neither stored nor forwarded.

``ShareSync`` is the façade: it owns the peers' comings and goings and what it
remembers of those gone. The state its parts share is ``replica.syncstate``; a peer's
messages are answered in ``replica.inbound``, local changes in
``replica.localchanges``, and what goes out is built in ``replica.outbox``. What the
engine knows of each peer is in ``replica.peerstate``; how its messages fit frames,
``replica.framing``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Set
from dataclasses import dataclass

from p2psync.errors import UpdateError
from p2psync.protocol.frames import MAX_FRAME_BYTES
from p2psync.protocol.messages import IndexRequest, SyncMessage, SyncStep1, SyncStep2
from p2psync.protocol.yjs import DocVersion
from p2psync.replica import inbound, localchanges, outbox
from p2psync.replica.effects import AppApplied, Disconnect, Effect, Peer, Send
from p2psync.replica.framing import FRAME_PAYLOAD_SHARE
from p2psync.replica.membership import MemberPolicy
from p2psync.replica.peerstate import (
    PeerState,
    Remembered,
    in_sync,
    resume_point,
    stop_before,
)
from p2psync.replica.peertally import PeerTally, tally
from p2psync.replica.share import ShareReplica
from p2psync.replica.stored import diff_of_stored
from p2psync.replica.syncstate import SyncState
from p2psync.storage.compaction import YDoc

log = logging.getLogger(__name__)


@dataclass
class _Figures:
    """``in_sync_with``, ``sync_counts`` and the docs it lacks (``sending``) of one
    peer as found at ``marker`` (None: not asked yet), for the peer's ``state`` then."""

    state: PeerState
    marker: tuple[object, ...]
    in_sync: bool | None = None
    counts: tuple[int, int] | None = None
    lacking: frozenset[str] | None = None


class ShareSync:
    """Keeps one share's replica in sync with the connected members."""

    def __init__(self, replica: ShareReplica, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        """``max_frame_bytes``: the frame limit every message sent must fit (tests lower
        it); update bytes are split to a quarter of it (FRAME_PAYLOAD_SHARE)."""
        self.replica = replica
        self.share_id = replica.share_id
        self._state = SyncState(replica, max_frame_bytes // FRAME_PAYLOAD_SHARE)
        self._remembered: dict[Peer, Remembered] = {}
        self._figures: dict[Peer, _Figures] = {}
        self._tallies: dict[Peer, PeerTally] = {}

    @property
    def policy(self) -> MemberPolicy:
        """Members' modes (replica.membership): set by the daemon's membership service
        (``change_policy``)."""
        return self._state.policy

    def change_policy(self, policy: MemberPolicy) -> list[Effect]:
        """Take the members' new modes. A peer whose changes we take now and did not
        before (it was receive-only, or we were send-only) kept the changes we
        refused, and its index will not announce them again: a connected one is asked
        for every doc its index announced with something we lack, and what we
        remember of one not connected is forgotten, so that its next link brings its
        whole index. What the persisted index recorded while refusing a peer counts
        as refused before (``Remembered.refused``): a daemon that stopped after a
        change of mode and before its index was written again starts with it."""
        before, self._state.policy = self._state.policy, policy
        effects: list[Effect] = []
        for peer in dict.fromkeys([*self._state.peers, *self._remembered]):
            known = self._remembered.get(peer)
            refused_before = not before.takes_from(peer) or (known is not None and known.refused)
            if not policy.takes_from(peer) or not refused_before:
                continue
            self._remembered.pop(peer, None)
            state = self._state.peers.get(peer)
            if state is not None:
                for guid, (_, theirs) in list(state.versions.items()):
                    effects += inbound.ask_if_lacking(self._state, peer, state, guid, theirs)
        return effects

    @property
    def sizes(self) -> Callable[[str], int | None]:
        """About how many bytes a doc's whole state takes (None: unknown), announced in
        the index for the peers' progress displays (the daemon gives its log's size)."""
        return self._state.sizes

    @sizes.setter
    def sizes(self, sizes: Callable[[str], int | None]) -> None:
        self._state.sizes = sizes

    @property
    def hold_asks(self) -> Callable[[], bool]:
        """True while new questions to peers wait (``SyncState.hold_asks``); set by
        the daemon, which calls ``resume_asks`` once it is False again."""
        return self._state.hold_asks

    @hold_asks.setter
    def hold_asks(self, hold: Callable[[], bool]) -> None:
        self._state.hold_asks = hold

    def resume_asks(self) -> list[Effect]:
        """The questions whose turn has come, to every connected peer, now that they
        may go (``hold_asks`` no longer holds them)."""
        effects: list[Effect] = []
        for peer, state in self._state.peers.items():
            effects += inbound.asks_due(self._state, peer, state)
        return effects

    @property
    def urgent(self) -> frozenset[str]:
        """Docs a peer should ask for before the others (the share's manifest: a peer
        writes no file before it has it). Their entries go ahead of an index delta."""
        return self._state.urgent

    @urgent.setter
    def urgent(self, guids: frozenset[str]) -> None:
        self._state.urgent = guids

    # -- peers -------------------------------------------------------------------

    def peer_up(self, peer: Peer) -> list[Effect]:
        """A member connected: ask for its index since what we saw last time.

        A peer already up (a new link replaced its old one before the old one went
        down) starts over as if it had gone down first: what its old link was still
        to bring is asked for again."""
        name = self._state.name
        if peer in self._state.peers:
            log.debug("share %s: peer %s is up on a new link: sync restarts", name, peer)
            self.peer_down(peer)
        known = self._remembered.get(peer, Remembered())
        self._state.peers[peer] = PeerState(known.index_id, known.max_sequence, 0, known.versions)
        log.debug(
            "share %s: sync with peer %s starts from its index %s after sequence %d",
            name, peer, known.index_id.hex() or "(none)", known.max_sequence,
        )  # fmt: skip
        request = IndexRequest(self.share_id, known.index_id, known.max_sequence)
        return [Send(peer, request)]

    def peer_down(self, peer: Peer) -> None:
        """A member disconnected; outstanding requests to it are forgotten, and what
        we remember of its index stops before the first of them (``resume_point``)."""
        state = self._state.peers.pop(peer, None)
        self._figures.pop(peer, None)
        self._tallies.pop(peer, None)
        if state is not None:
            if state.requested:
                log.debug("share %s: peer %s went down before it sent %d docs we asked for: "
                          "they are asked for again on its next link", self._state.name, peer,
                          len(state.requested))  # fmt: skip
            self._remembered[peer] = resume_point(state)

    def peers(self) -> list[Peer]:
        return list(self._state.peers)

    def remembered(
        self, unstored: Set[str] = frozenset()
    ) -> dict[Peer, tuple[bytes, int, dict[str, tuple[int, DocVersion]]]]:
        """Per peer (connected or not): the index ID and sequence of its index we are
        up to date with, and the versions it announced, for the persisted index. The
        docs ``unstored`` (held in memory, not durable yet) count as not received: a
        crash would lose them, and the next start must ask for them again."""
        points = dict(self._remembered)
        for peer, state in self._state.peers.items():
            points[peer] = resume_point(state)
        known = {peer: stop_before(point, unstored) for peer, point in points.items()}
        return {
            peer: (point.index_id, point.max_sequence, dict(point.versions))
            for peer, point in known.items()
            if point.index_id
        }

    def remember(
        self, peer: Peer, index_id: bytes, max_sequence: int,
        versions: dict[str, tuple[int, DocVersion]], *, refused: bool = False,
    ) -> None:  # fmt: skip
        """Restore what ``peer``'s index told us before a restart (see ``remembered``);
        ``refused``: recorded while we took none of its changes."""
        self._remembered[peer] = Remembered(index_id, max_sequence, versions, refused)

    # -- messages ----------------------------------------------------------------

    def receive(self, peer: Peer, message: SyncMessage) -> list[Effect]:
        """Handle one message from ``peer`` (``replica.inbound``).

        A malformed update or state vector ends in a Disconnect effect (after the
        effects of whatever valid updates came before it in the same message).
        """
        state = self._state.peers.get(peer)
        if state is None:
            return []  # not connected (any more): ignore
        try:
            effects = inbound.handle(self._state, peer, state, message)
            return effects + inbound.asks_due(self._state, peer, state)
        except inbound.RejectedError as rejected:
            self.peer_down(peer)  # what it sends until the link is gone is ignored
            disconnect = Disconnect(peer, rejected.reason, rejected.penalty)
            # Last: carrying out a Disconnect cancels the peer's task, which may be the
            # one carrying out these effects, so the reload must come before it.
            return [*rejected.effects, *rejected.reload, disconnect]

    def answer_from_log(self, peer: Peer, message: SyncStep1, stored: list[bytes]) -> list[Effect]:
        """Answer a SyncStep1 for a doc that is not loaded from the updates of its log,
        without building the doc (``replica.stored``)."""
        if peer not in self._state.peers:
            return []
        try:
            update = diff_of_stored(message.guid, stored, message.state_vector)
        except UpdateError as exc:
            self.peer_down(peer)
            return [Disconnect(peer, str(exc))]
        return outbox.step2(self._state, peer, message.guid, update)

    def flush_index(self) -> list[Effect]:
        """Index deltas (docs changed since the last one sent) for every peer."""
        effects: list[Effect] = []
        for peer, state in self._state.peers.items():
            effects += outbox.index_delta(self._state, peer, state, force=False)
        return effects

    # -- local changes (replica.localchanges) --------------------------------------

    def local_update(self, guid: str, update: bytes) -> list[Effect]:
        """A local app changed doc ``guid``: store ``update`` as given, then flood.

        Raises UpdateError if it is not a Yjs v1 update (nothing is stored).
        """
        return localchanges.local_update(self._state, guid, update)

    def app_update(self, guid: str, update: bytes) -> AppApplied:
        """A local app's update (docs/apps.md), checked exactly as a peer's, then
        stored and flooded as a local change (``localchanges.app_update``)."""
        return localchanges.app_update(self._state, guid, update)

    def local_edit(self, guid: str, edit: Callable[[YDoc], None]) -> list[Effect]:
        """Change doc ``guid`` (created if new) in place with ``edit`` as a local
        change: store and flood what it produced (DocReplica.local_edit)."""
        return localchanges.local_edit(self._state, guid, edit)

    def stored_updates(self, guid: str, updates: list[bytes]) -> list[Effect]:
        """Updates another local process appended to the log of ``guid`` (already
        durable): apply and flood. Malformed ones are skipped and logged."""
        return localchanges.stored_updates(self._state, guid, updates)

    def doc_appeared(self, guid: str) -> list[Effect]:
        """A doc was loaded from a log that appeared while running (another process
        created it): its whole state goes to every peer at once."""
        return localchanges.doc_appeared(self._state, guid)

    def doc_loaded(self, guid: str, recorded: DocVersion) -> list[Effect]:
        """Doc ``guid`` was loaded and holds more than its ``recorded`` version
        (another process appended to its log while it was unloaded): flood the rest."""
        return localchanges.doc_loaded(self._state, guid, recorded)

    def doc_lost(self, guid: str) -> list[Effect]:
        """Doc ``guid`` lost changes on disk (its log deleted while unloaded): ask every
        connected peer we take changes from for what we now miss."""
        return localchanges.doc_lost(self._state, guid)

    # -- status ------------------------------------------------------------------

    def in_sync_with(self, peer: Peer) -> bool:
        """True when ``peer`` has told us it holds exactly our version of every doc."""
        figures = self._figures_of(peer)
        if figures is None:
            return False
        if figures.in_sync is None:
            figures.in_sync = in_sync(peer, figures.state, self.replica, self.policy)
        return figures.in_sync

    def sync_counts(self, peer: Peer) -> tuple[int, int]:
        """``(docs in sync, docs)`` with a connected ``peer``, over the docs either side
        holds (ours, and those its index announced): a doc is in sync when the peer
        counts as ``in_sync_with`` does, modes included (a send-only peer's copy holds
        edits of its own). (0, 0) for a peer that is not connected.
        Read-only, for progress displays: a device joining a share sees the count of
        docs grow as the peer's index arrives and the docs come in."""
        figures = self._figures_of(peer)
        if figures is None:
            return (0, 0)
        if figures.counts is None:
            figures.counts = self._tally(peer, figures.state).counts(self.replica)
        return figures.counts

    def _figures_of(self, peer: Peer) -> _Figures | None:
        """What was found of a connected ``peer`` since anything ``in_sync_with`` and
        ``sync_counts`` read last changed (``_marker``): a status asked every second
        (the tray) of a share of 10,000 docs made several passes over every doc each
        time, a third of a core on an idle daemon; the counts and the docs it lacks
        are kept as docs change since (``_tally``). None if not connected."""
        state = self._state.peers.get(peer)
        if state is None:
            return None
        marker = self._marker(state)
        figures = self._figures.get(peer)
        if figures is None or figures.state is not state or figures.marker != marker:
            figures = self._figures[peer] = _Figures(state, marker)
        return figures

    def _tally(self, peer: Peer, state: PeerState) -> PeerTally:
        """The docs not in sync with connected ``peer`` and those it lacks, judged
        again only where something changed since the last look (``replica.peertally``:
        ``sync_counts`` and ``docs_to_send`` without a pass over every doc)."""
        found = self._tallies[peer] = tally(
            peer, state, self.replica, self.policy, self._tallies.get(peer)
        )
        return found

    def _marker(self, state: PeerState) -> tuple[object, ...]:
        """A value that changes whenever what ``in_sync`` and ``sync_counts`` read of
        a peer (``state``) and of us may have: every change to our docs takes a new
        sequence number, every change to what we know of the peer's counts in
        ``PeerState.heard``, and the members' modes are a new policy."""
        return (
            self.replica.max_sequence,
            len(self.replica),
            self.policy,
            state.index_id,
            state.max_sequence,
            state.sent_sequence,
            state.heard,
        )

    def transfer(self, peer: Peer) -> tuple[set[str], set[str], int, int | None] | None:
        """``(docs asked, docs received, bytes received, bytes expected)`` of the
        current transfer from a connected ``peer`` (``replica.transfer``; bytes
        expected from the sizes its index announced, None if it did not); None if it
        is not connected. Read-only, for progress displays."""
        state = self._state.peers.get(peer)
        if state is None:
            return None
        t, outstanding = state.transfer, state.requested
        return (
            set(t.asked),
            t.received(outstanding),
            t.bytes_received,
            t.bytes_expected(),
        )

    def sending(self, peer: Peer) -> tuple[dict[str, int], set[str], set[str]] | None:
        """What we send a connected ``peer``: the bytes of each doc whose answer the
        link wrote in the current transfer, the docs answered whole
        (``replica.transfer.Sending``), and the docs it still lacks as far as its
        index told us (``docs_to_send``: those answered whole and not lacking are the
        ones it holds); None if it is not connected. Read-only, for progress
        displays."""
        figures = self._figures_of(peer)
        if figures is None:
            return None
        state = figures.state
        if figures.lacking is None:
            figures.lacking = frozenset(self._tally(peer, state).lacking)
        return dict(state.sending.written), set(state.sending.whole), set(figures.lacking)

    def unasked(self, peer: Peer) -> set[str] | None:
        """The docs a connected ``peer`` lacks as far as its index told us
        (``sending``) whose entries this link announced to it and that it has not
        asked for: nothing is sent of them until it does; none while answers to it are
        under way (a peer asks ``ASK_WINDOW`` docs at a time). None if it is not
        connected. Read-only, for status: what is to send and why it does not go."""
        sending = self.sending(peer)
        state = self._state.peers.get(peer)
        if sending is None or state is None:
            return None
        if not state.heard_index:
            return set()  # what it lacks is what it lacked on its last link
        if state.sending.queued or state.sending.unconfirmed:
            return set()  # answers under way: the rest may wait its turn (ASK_WINDOW)
        written, whole, lacking = sending
        replica, asked = self.replica, state.sending.queued | whole | set(written)
        return {guid for guid in lacking - asked
                if replica.sequence_of(guid) <= state.sent_sequence}  # fmt: skip

    def wrote(self, peer: Peer, message: SyncStep2) -> None:
        """The link wrote ``message``, a part of our answer to ``peer``, to the socket
        (counted for progress displays, ``sending``)."""
        state = self._state.peers.get(peer)
        if state is not None:
            state.sending.wrote(message.guid, len(message.update), last=not message.more)

    def progress_marker(self) -> tuple[object, ...]:
        """A value that changes whenever ``in_sync_with`` may change for some peer, so
        a watcher can skip the full comparison while nothing happens. Read-only."""
        return tuple((p, self._marker(s)) for p, s in self._state.peers.items())
