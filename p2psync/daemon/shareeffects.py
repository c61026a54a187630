"""The sync engine's effects carried out for one share, and who hears of a change.

``ShareEffects.execute`` does what the engine (``replica.sync``) returns, in order:
updates queued on the doc's writer (a peer's change is a version of the file history
by that device), messages handed to the peer layer (a doc's state only once what its
log has queued is durable), peers disconnected, docs reloaded or quarantined. Every
change of a doc is told to the app clients that have it open (``to_apps``); one that
did not come from the plain-file mirror is told to the mirror (``changed``), so it
writes the file back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from typing import Protocol

from p2psync.daemon.arrivals import Arrivals
from p2psync.daemon.doclogs import DocLogs
from p2psync.daemon.events import EventBus
from p2psync.daemon.mirror import MirrorService
from p2psync.daemon.residency import Residency
from p2psync.daemon.sharehistory import ShareHistory
from p2psync.protocol.messages import DocError, SyncMessage, SyncStep1, SyncStep2
from p2psync.replica.effects import Disconnect, Effect, Persist, Quarantine, Reload, Send, Tell

Peer = Hashable
SendFn = Callable[[Peer, SyncMessage | DocError], None]
AppUpdatesFn = Callable[[str, list[bytes], object], None]
"""Doc guid, the deltas it integrated, and the app client they came from (or None)."""


RoomFn = Callable[[Peer], Awaitable[None]]
"""Wait until a peer's send queue has room (``PeerManager.room``)."""


class DisconnectFn(Protocol):
    """Drop a peer; ``penalty`` keeps it out for a while (it exceeded a limit)."""

    def __call__(self, peer: Peer, reason: str, /, *, penalty: bool = False) -> None: ...


class EffectsShare(Protocol):
    """What carrying out effects needs of its share (``ShareService``)."""

    @property
    def name(self) -> str: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def logs(self) -> DocLogs: ...

    @property
    def history(self) -> ShareHistory: ...

    @property
    def arrivals(self) -> Arrivals: ...

    @property
    def mirror(self) -> MirrorService | None: ...

    @property
    def residency(self) -> Residency: ...

    @property
    def on_app_updates(self) -> AppUpdatesFn | None: ...

    @property
    def app_docs(self) -> Counter[str]: ...

    @property
    def failing_docs(self) -> dict[str, str]: ...


class ShareEffects:
    """Carries out one share's effects (see the module docstring)."""

    def __init__(
        self,
        share: EffectsShare,
        *,
        send: SendFn,
        disconnect: DisconnectFn,
        room: RoomFn | None = None,
    ) -> None:
        self._share = share
        self._send = send
        self._disconnect = disconnect
        self._room = room

    async def room(self, peer: Peer) -> None:
        """Wait until ``peer``'s send queue has room for more (at once without links:
        a share run alone)."""
        if self._room is not None:
            await self._room(peer)

    async def execute(
        self, effects: list[Effect], *, peer: Peer | None = None, new: str | None = None
    ) -> None:
        """Carry out the engine's effects in order; ``peer`` sent the message they
        answer (its changes are versions of the file history by that device). The
        updates of ``new`` (a doc the message made: no log yet) and of docs in the
        group forming are stored with a group (``daemon.arrivals``). A SyncStep2 (a
        doc's state) waits until what its log has queued is durable: nothing leaves
        this device that a kill here could take back."""
        share = self._share
        for effect in effects:
            match effect:
                case Persist():
                    self.to_apps(effect.guid, effect.updates)
                    note = None
                    if peer is not None:
                        note = share.history.note(effect.guid, "remote change", str(peer))
                    if effect.guid == new or share.arrivals.takes(effect.guid):
                        share.arrivals.add(effect.guid, effect.updates, note)
                        continue
                    writer = await share.logs.writer(effect.guid)
                    await writer.enqueue(effect.updates, note)
                    share.logs.maybe_compact(effect.guid, writer)
                case Send() | Tell():
                    if isinstance(effect.message, SyncStep2):  # the doc's state now:
                        await self.durable(effect.message.guid)  # none of it a kill takes back
                    self._send(effect.peer, effect.message)
                case Disconnect():
                    share.events.publish("error", share=share.name, message=effect.reason)
                    self._disconnect(effect.peer, effect.reason, penalty=effect.penalty)
                case Reload():
                    await self.reload(effect.guid)
                case Quarantine():
                    kept = await share.logs.quarantine(effect)
                    where = kept or "nowhere (the quarantine is full)"
                    share.failing_docs[effect.guid] = (
                        f"a peer's update could not be applied ({effect.reason}); kept at {where}"
                    )

    async def durable(self, guid: str) -> None:
        """Return once what is queued for doc ``guid``'s log is durable (a new doc's
        group stored first)."""
        await self._share.logs.arrived(guid)
        writer = self._share.logs.writers.get(guid)
        if writer is not None:
            await writer.flush()

    async def reload(self, guid: str) -> None:
        """Load doc ``guid`` afresh from its log (a pycrdt panic left the one in
        memory unusable); the mirror is told, so its file matches."""
        logs = self._share.logs
        writer = logs.writers.pop(guid, None)
        if writer is not None:
            await writer.aclose()
        await logs.open(guid, replace=True)
        self.changed(guid, None)

    def ask(self, questions: list[Effect]) -> None:
        """Hand questions the engine made outside any message (``SyncStep1`` sends,
        ``ShareSync.change_policy``) to the peer layer. Never blocks."""
        for effect in questions:
            if not isinstance(effect, Send) or not isinstance(effect.message, SyncStep1):
                raise TypeError(f"not a question: {effect!r}")
            self._send(effect.peer, effect.message)

    def changed(self, guid: str, peer: Peer | None) -> None:
        """Doc ``guid`` changed other than by the mirror (``peer`` changed it, or
        None): the mirror writes its file back. A peer's change keeps the doc loaded
        until then (``Residency.unmirrored``)."""
        mirror = self._share.mirror
        if mirror is not None:
            if peer is not None and not mirror.stopped:
                self._share.residency.unmirrored(guid)
            mirror.doc_changed(guid, peer)

    def to_apps(self, guid: str, updates: list[bytes], origin: object = None) -> None:
        """Doc ``guid`` integrated ``updates``: told to the apps endpoint if app
        clients have it open (``origin``: the app client they came from, or None)."""
        share = self._share
        if share.on_app_updates is not None and updates and guid in share.app_docs:
            share.on_app_updates(guid, updates, origin)
