"""A hostile peer for tests: a real device identity speaking raw bytes to a live daemon.

``Mallory`` owns an identity (``p2psync.net.identity``) and connects with the
product's own TLS handshake (``p2psync.net.transport.handshake``), so the daemon sees
an authenticated device; after that it writes whatever bytes a test wants. Each call
runs its own ``trio.run``: the tests around it are synchronous, like the subprocess
daemons they talk to (``tests/support/daemons.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import signal
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import trio

from p2psync.config import parse_address
from p2psync.errors import RemoteProtocolError
from p2psync.ids import DeviceId, ShareId
from p2psync.mirror.records import record_file
from p2psync.net.identity import Identity, load_or_create_identity
from p2psync.net.transport import HandshakeError, PeerChannel, client_context, handshake
from p2psync.protocol import connection as proto
from p2psync.protocol import wire
from p2psync.protocol.frames import encode_frame
from p2psync.protocol.messages import JoinProof, Message, SyncMessage
from p2psync.storage.layout import log_path
from p2psync.storage.versionindex import versions_path
from tests.support.daemons import Device, link, make_share, start_all, wait_for

CONNECT_TIMEOUT_S = 20.0
CLOSE_WAIT_S = 20.0


def frame_of(message: Message) -> bytes:
    """The frame of ``message`` without the sender-side validation (hostile frames)."""
    return encode_frame(wire.encode(message))


class Mallory:
    """A device that connects to daemons and sends what the test asks."""

    def __init__(self, home: Path) -> None:
        self.identity: Identity = load_or_create_identity(home / "identity")
        self.id: DeviceId = self.identity.device_id

    async def connect(self, address: str, expected: DeviceId) -> PeerChannel:
        """An authenticated channel to the daemon at ``address``; HandshakeError if the
        daemon refuses (e.g. we are not a member anywhere)."""
        host, port = parse_address(address)
        with trio.fail_after(CONNECT_TIMEOUT_S):
            stream = await trio.open_tcp_stream(host, port)
            return await handshake(
                stream, role=proto.Role.CLIENT, identity=self.identity,
                device_name="mallory", expected=expected, address=address,
            )  # fmt: skip

    def feed(
        self, address: str, expected: DeviceId, batches: Sequence[bytes], *, parallel: int = 8
    ) -> FeedReport:
        """Send each of ``batches`` (raw bytes: frames, partial frames, garbage) on its own
        authenticated connection, ``parallel`` connections at a time, and wait for the
        daemon to close each one or for the batch to be read (then we close).

        Returns how the daemon reacted: how many connections it closed on us, how many
        refused the handshake, and the Goodbye codes it sent.
        """
        report = FeedReport()

        async def one(batch: bytes) -> None:
            try:
                channel = await self.connect(address, expected)
            except (HandshakeError, OSError, trio.TooSlowError):
                report.refused += 1
                return
            await send_and_wait(channel, batch, report)

        async def main() -> None:
            await run_limited([lambda b=b: one(b) for b in batches], parallel)  # type: ignore[misc]

        trio.run(main)
        return report


class FeedReport:
    """What a daemon did with the connections of ``Mallory.feed``."""

    def __init__(self) -> None:
        self.closed_by_daemon = 0
        self.left_open = 0
        self.refused = 0
        self.goodbyes: dict[str, int] = {}
        self.messages: list[SyncMessage] = []
        self.open_batches: list[bytes] = []
        """The batches after which the daemon kept the connection open."""


async def send_and_wait(channel: PeerChannel, data: bytes, report: FeedReport) -> None:
    """Write ``data`` then read until the daemon closes or goes quiet for a moment."""
    try:
        await channel.stream.send_all(data)
        with trio.move_on_after(1.0) as quiet:
            while True:
                event = await channel.next_event()
                quiet.deadline = trio.current_time() + 1.0
                if isinstance(event, proto.Closed):
                    report.goodbyes[event.code] = report.goodbyes.get(event.code, 0) + 1
                    report.closed_by_daemon += 1
                    return
                if isinstance(event, proto.MessageReceived):
                    report.messages.append(event.message)
        report.left_open += 1
        report.open_batches.append(data)
    except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        report.closed_by_daemon += 1
    except RemoteProtocolError:
        report.closed_by_daemon += 1
    finally:
        await trio.aclose_forcefully(channel.stream)


async def run_limited(jobs: Iterable[Callable[[], Awaitable[None]]], parallel: int) -> None:
    """Run ``jobs`` with at most ``parallel`` at once."""
    slots = trio.Semaphore(parallel)

    async def guarded(job: Callable[[], Awaitable[None]]) -> None:
        try:
            await job()
        finally:
            slots.release()

    async with trio.open_nursery() as nursery:
        for job in jobs:
            await slots.acquire()
            nursery.start_soon(guarded, job)


def folder_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative path → digest), except the
    share's persisted index (``.p2psync/index.*``): the daemon's own bookkeeping,
    rewritten whenever its index or a peer's changes, not data a peer put there."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not _is_index_file(path.relative_to(folder))
    }


def without_honest_edits(digest: dict[str, str], folder: Path) -> dict[str, str]:
    """``digest`` (of ``folder_digest``) without what bob's honest edits of notes.md
    change at alice: that doc's log and its history's timeline, the mirrored file and
    the mirror's record of it."""
    notes_log = log_path(folder, "notes.md")
    timeline = str(versions_path(notes_log).relative_to(folder))
    record = str(record_file(folder, "notes.md").relative_to(folder))
    honest = {str(notes_log.relative_to(folder)), timeline, "notes.md", ".p2psync/mirror.json",
              record}  # fmt: skip
    return {k: v for k, v in digest.items() if k not in honest}


def _is_index_file(relative: Path) -> bool:
    """The index, or the temp file of an atomic write of it caught in flight."""
    parts = relative.parts
    return len(parts) == 2 and parts[0] == ".p2psync" and parts[1].startswith(("index.", ".index."))


@dataclass
class Scene:
    """A share held by two honest running daemons (alice, bob) with mallory as a third
    member that never runs a daemon: tests speak for mallory with raw bytes."""

    alice: Device
    bob: Device
    mallory: Mallory
    share: ShareId

    @property
    def alice_id(self) -> DeviceId:
        return DeviceId.parse(self.alice.id)

    def alice_alive(self) -> bool:
        return self.alice.process is not None and self.alice.process.poll() is None


@contextlib.contextmanager
def scene_at(root: Path) -> Iterator[Scene]:
    """Build the scene under ``root``; the daemons are killed on the way out."""
    alice, bob, mallory = (Device(root, name) for name in ("alice", "bob", "mallory"))
    share = make_share([alice, bob, mallory])
    try:
        start_all([alice, bob])
        link([alice, bob])
        alice.apply_text("notes.md", "honest text. ", client_id=1)
        wait_for(lambda: bob.text("notes.md") == "honest text. ", "the first edit at bob")
        yield Scene(alice, bob, Mallory(mallory.home), ShareId.parse(share))
    finally:
        for device in (alice, bob):
            device.stop(signal.SIGKILL)


@dataclass
class RawOutcome:
    """What a hand-built client saw: the events after its Hello, and what it signed."""

    events: list[proto.Event]
    transcript: bytes
    error: str = ""

    @property
    def refusal(self) -> str | None:
        """The Goodbye code the daemon closed with, if any."""
        closed = [e.code for e in self.events if isinstance(e, proto.Closed)]
        return closed[0] if closed else None

    @property
    def established(self) -> bool:
        return any(isinstance(e, proto.Established) for e in self.events)

    @property
    def share_data(self) -> list[SyncMessage]:
        return [e.message for e in self.events if isinstance(e, proto.MessageReceived)]


Prove = Callable[[bytes], tuple[bytes, bytes]]
"""Given the transcript to sign, the (certificate, signature) a raw client sends."""


def raw_session(
    address: str,
    prove: Prove,
    *,
    after_auth: bytes = b"",
    join: Callable[[bytes], JoinProof] | None = None,
) -> RawOutcome:
    """Connect with TLS (no pinning), exchange Hellos with the product's state machine,
    send the Auth that ``prove`` makes of the transcript, then ``after_auth`` at once
    (without waiting for AuthOk), and collect what the daemon says until it closes or
    goes quiet. The server certificate is whatever the daemon presents. ``join`` makes
    the Auth's invite proof from the transcript."""

    async def main() -> RawOutcome:
        host, port = parse_address(address)
        stream = await trio.open_tcp_stream(host, port)
        tls = trio.SSLStream(stream, client_context(), server_side=False)
        conn = proto.Connection(proto.Role.CLIENT, _hello())
        events: list[proto.Event] = []
        outcome = RawOutcome(events, b"")
        try:
            with trio.fail_after(CONNECT_TIMEOUT_S):
                await tls.do_handshake()
                server_cert = tls.getpeercert(binary_form=True)
                assert server_cert is not None
                channel = PeerChannel(DeviceId.from_certificate_der(server_cert), "", 0,
                                      conn.role, tls, conn, address)  # fmt: skip
                await tls.send_all(conn.start())
                events.append(await channel.next_event())
                certificate, _ = prove(b"")
                outcome.transcript = conn.transcript(server_cert, certificate)
                certificate, signature = prove(outcome.transcript)
                proof = join(outcome.transcript) if join is not None else None
                auth = conn.send_auth(certificate, signature, join=proof)
                await tls.send_all(auth + after_auth)
            with trio.move_on_after(2.0):
                while not isinstance(events[-1], proto.Closed):
                    events.append(await channel.next_event())
        except (EOFError, trio.BrokenResourceError, OSError, RemoteProtocolError) as exc:
            outcome.error = str(exc)
        finally:
            await trio.aclose_forcefully(tls)
        return outcome

    return trio.run(main)


def signed_by(identity: Identity) -> Prove:
    """An honest proof by ``identity``."""
    return lambda transcript: (identity.cert_der, identity.sign(transcript))


def _hello() -> wire.Hello:
    return wire.Hello(proto.SUPPORTED_VERSIONS, "raw", "0", secrets.token_bytes(32))
