"""Docs whose state is larger than a frame: two sync engines exchange them completely,
every message going through the real codec and frame decoder, and no frame is ever over
the limit (an answer, a live update, an index)."""

from __future__ import annotations

import random
import struct
from collections import deque
from typing import Any

import msgpack
import pycrdt

from p2psync.protocol import wire
from p2psync.protocol.frames import MAX_FRAME_BYTES, FrameDecoder, encode_frame
from p2psync.protocol.messages import SyncMessage, SyncStep2
from p2psync.replica.effects import Disconnect, Send
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync

SHARE = b"s" * 16
SMALL_LIMIT = 64 * 1024


class Link:
    """Two engines ``a`` and ``b`` and the frames between them, each encoded and
    decoded as on the wire with a frame limit of ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        lowered = {} if limit == MAX_FRAME_BYTES else {"max_frame_bytes": limit}
        self.nodes = {name: ShareSync(ShareReplica(SHARE), **lowered) for name in "ab"}
        self.queue: deque[tuple[str, str, SyncMessage]] = deque()
        self.frames: list[tuple[str, int]] = []
        """(type, body bytes) of every frame sent."""

    def queue_effects(self, sender: str, effects: list[Any]) -> None:
        for effect in effects:
            assert not isinstance(effect, Disconnect), effect.reason
            if isinstance(effect, Send):
                assert isinstance(effect.peer, str)
                self.queue.append((sender, effect.peer, effect.message))

    def connect(self) -> None:
        self.queue_effects("a", self.nodes["a"].peer_up("b"))
        self.queue_effects("b", self.nodes["b"].peer_up("a"))
        self.settle()

    def settle(self) -> None:
        while self.queue:
            sender, receiver, message = self.queue.popleft()
            body = wire.encode(message)
            if self.limit == MAX_FRAME_BYTES:
                frame = encode_frame(body)  # the sender's own check of the real limit
            else:
                payload = msgpack.packb(body, use_bin_type=True)
                frame = struct.pack(">I", len(payload)) + payload
            self.frames.append((body["t"], len(frame) - 4))
            decoder = FrameDecoder(self.limit)  # refuses a frame over the limit
            decoder.receive_data(frame)
            received = decoder.next_frame()
            assert received is not None
            decoded = wire.decode(received)
            assert isinstance(decoded, SyncMessage)
            self.queue_effects(receiver, self.nodes[receiver].receive(sender, decoded))
        for name in "ab":
            self.queue_effects(name, self.nodes[name].flush_index())
        if self.queue:
            self.settle()

    def text(self, name: str, guid: str) -> str:
        doc = self.nodes[name].replica.get(guid)
        assert doc is not None
        return doc.text()


def written_by_three(size: int, seed: int = 7) -> list[bytes]:
    """Updates of a doc of about ``size`` bytes of text by three clients whose inserts
    land inside each other's (so pieces depend on each other), with some deletes."""
    rng = random.Random(seed)
    docs: list[pycrdt.Doc[Any]] = [pycrdt.Doc(client_id=c) for c in (11, 22, 33)]
    updates: list[bytes] = []
    written = 0
    while written < size:
        doc = rng.choice(docs)
        for other in docs:
            doc.apply_update(other.get_update(doc.get_state()))
        before = doc.get_state()
        text = doc.get("content", type=pycrdt.Text)
        chunk = "".join(rng.choice("abcd ") for _ in range(rng.randrange(1000, 30_000)))
        at = len(str(text)[: rng.randrange(len(str(text)) + 1)].encode())
        text.insert(at, chunk)
        if rng.random() < 0.3:
            del text[at + 10 : at + 20]
        written += len(chunk.encode())
        updates.append(doc.get_update(before))
    return updates


def test_a_doc_over_the_frame_limit_syncs_completely_in_frames_under_it() -> None:
    link = Link(SMALL_LIMIT)
    for update in written_by_three(20 * SMALL_LIMIT):
        link.nodes["a"].local_update("big.md", update)
    whole = link.nodes["a"].replica.get("big.md")
    assert whole is not None
    assert len(whole.full_state()) > 10 * SMALL_LIMIT
    link.connect()
    assert link.text("b", "big.md") == link.text("a", "big.md")
    assert link.nodes["a"].in_sync_with("b")
    assert link.nodes["b"].in_sync_with("a")
    answers = [size for kind, size in link.frames if kind == "s2"]
    assert len(answers) > 10
    assert max(size for _, size in link.frames) <= SMALL_LIMIT


def test_a_live_update_over_the_limit_reaches_the_peer_in_frames_under_it() -> None:
    link = Link(SMALL_LIMIT)
    link.nodes["a"].local_update("notes.md", written_by_three(100)[0])
    link.connect()
    link.frames.clear()
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=99)
    doc.apply_update(link.nodes["a"].replica.get("notes.md").full_state())  # type: ignore[union-attr]
    before = doc.get_state()
    doc.get("content", type=pycrdt.Text).insert(0, "pasted " * 40_000)  # 280 KB at once
    link.queue_effects("a", link.nodes["a"].local_update("notes.md", doc.get_update(before)))
    link.settle()
    assert link.text("b", "notes.md") == link.text("a", "notes.md")
    assert link.text("b", "notes.md").startswith("pasted " * 40_000)
    assert [kind for kind, _ in link.frames].count("upd") > 4
    assert max(size for _, size in link.frames) <= SMALL_LIMIT
    assert link.nodes["b"].in_sync_with("a")


def test_an_index_of_many_docs_with_large_state_vectors_fits_the_limit() -> None:
    link = Link(SMALL_LIMIT)
    for number in range(60):
        for client in range(1000 + number * 50, 1050 + number * 50):  # 50 clients a doc
            link.nodes["a"].local_update(f"doc{number}", _one_char(client))
    link.connect()
    indexes = [size for kind, size in link.frames if kind == "idx"]
    assert len(indexes) > 2
    assert max(size for _, size in link.frames) <= SMALL_LIMIT
    assert sorted(link.nodes["b"].replica.guids()) == sorted(link.nodes["a"].replica.guids())
    assert link.nodes["b"].in_sync_with("a")


def _one_char(client: int) -> bytes:
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=client)
    doc.get("content", type=pycrdt.Text).insert(0, "x")
    return doc.get_update()


def test_a_peer_keeps_a_doc_asked_for_until_the_last_part_of_its_answer() -> None:
    link = Link(SMALL_LIMIT)
    for update in written_by_three(4 * SMALL_LIMIT):
        link.nodes["a"].local_update("big.md", update)
    b = link.nodes["b"]
    link.queue_effects("b", b.peer_up("a"))
    link.queue_effects("a", link.nodes["a"].peer_up("b"))
    parts = 0
    while link.queue:  # deliver everything but the answer's last part
        sender, receiver, message = link.queue.popleft()
        if isinstance(message, SyncStep2):
            parts += 1
            if not message.more:
                continue
        link.queue_effects(receiver, link.nodes[receiver].receive(sender, message))
    assert parts > 2
    assert link.text("b", "big.md") != link.text("a", "big.md")
    b.peer_down("a")  # the link is lost before the last part
    requests = [e.message for e in b.peer_up("a") if isinstance(e, Send)]
    link.queue.extend(("b", "a", message) for message in requests)
    link.queue_effects("a", link.nodes["a"].peer_up("b"))
    link.settle()
    assert link.text("b", "big.md") == link.text("a", "big.md")


def test_a_real_doc_over_16_mib_syncs_with_the_real_frame_limit() -> None:
    link = Link(MAX_FRAME_BYTES)
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=5)
    doc.get("content", type=pycrdt.Text).insert(0, "0123456789abcdef" * (1_300_000))  # 20.8 MB
    link.nodes["a"].local_update("big.txt", doc.get_update())
    link.connect()
    assert link.text("b", "big.txt") == link.text("a", "big.txt")
    assert link.nodes["b"].in_sync_with("a")
    assert [kind for kind, _ in link.frames].count("s2") >= 5
