"""Real pycrdt docs synced through two Connections: index exchange, SyncStep1/2, live
updates, many docs multiplexed, any chunking of the byte stream, a delta index on
reconnect, and one run over a real socket pair."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Callable

import pycrdt
import pytest

from p2psync.protocol import (
    EMPTY_STATE_VECTOR,
    MAX_INDEX_ENTRIES,
    AuthRequested,
    Closed,
    Connection,
    DocVersion,
    Established,
    Event,
    Hello,
    HelloReceived,
    Index,
    IndexEntry,
    IndexRequest,
    Message,
    MessageReceived,
    Role,
    SyncMessage,
    SyncStep1,
    SyncStep2,
    Update,
    decode_state_vector,
    delete_set_digest,
    is_behind,
)
from tests.support.connections import drain

SHARE = os.urandom(16)
Doc = pycrdt.Doc[pycrdt.Text]
Chunker = Callable[[bytes], list[bytes]]


def version_of(doc: Doc) -> DocVersion:
    state = doc.get_state()
    return DocVersion(decode_state_vector(state), delete_set_digest(doc.get_update(state)))


def text(doc: Doc) -> str:
    return str(doc.get("content", type=pycrdt.Text))


class Replica:
    """A minimal sync engine over the protocol messages, as replica/ does it."""

    def __init__(self, docs: dict[str, Doc]) -> None:
        self.docs = docs
        self.index_id = os.urandom(8)
        self.sequences = {guid: n for n, guid in enumerate(docs, 1)}
        self.max_sequence = len(docs)
        self.peer_index: tuple[bytes, int] = (b"", 0)  # the peer's index we have seen
        self.entries_received = 0

    def edit(self, guid: str, insert: str) -> bytes:
        doc = self.docs.setdefault(guid, pycrdt.Doc())
        before = doc.get_state()
        content = doc.get("content", type=pycrdt.Text)
        content.insert(len(content), insert)
        self.max_sequence += 1
        self.sequences[guid] = self.max_sequence
        return doc.get_update(before)

    def request(self) -> IndexRequest:
        return IndexRequest(SHARE, *self.peer_index)

    def handle(self, message: SyncMessage) -> list[Message]:
        match message:
            case IndexRequest():
                since = message.since if message.index_id == self.index_id else 0
                return list(self.index_since(since))
            case Index():
                return self.on_index(message)
            case SyncStep1():
                doc = self.docs.setdefault(message.guid, pycrdt.Doc())
                return [SyncStep2(SHARE, message.guid, doc.get_update(message.state_vector))]
            case SyncStep2():
                self.docs.setdefault(message.guid, pycrdt.Doc()).apply_update(message.update)
            case Update():
                for update in message.updates:
                    self.docs.setdefault(message.guid, pycrdt.Doc()).apply_update(update)
        return []

    def index_since(self, since: int, page: int = MAX_INDEX_ENTRIES) -> list[Index]:
        changed = sorted((s, g) for g, s in self.sequences.items() if s > since)
        entries = [IndexEntry(g, s, version_of(self.docs[g])) for s, g in changed]
        pages = [tuple(entries[i : i + page]) for i in range(0, len(entries), page)] or [()]
        return [
            Index(SHARE, self.index_id, chunk[-1].sequence if chunk else self.max_sequence,
                  chunk, more=n < len(pages) - 1)
            for n, chunk in enumerate(pages)
        ]  # fmt: skip

    def on_index(self, index: Index) -> list[Message]:
        self.entries_received += len(index.entries)
        if not index.more:
            self.peer_index = (index.index_id, index.max_sequence)
        asks: list[Message] = []
        for entry in index.entries:
            doc = self.docs.get(entry.guid)
            ours = version_of(doc) if doc is not None else None
            theirs = entry.version
            if (
                ours is None
                or is_behind(ours.state_vector, theirs.state_vector)
                or (ours.delete_digest != theirs.delete_digest)
            ):
                vector = doc.get_state() if doc is not None else EMPTY_STATE_VECTOR
                asks.append(SyncStep1(SHARE, entry.guid, vector))
        return asks


class Side:
    def __init__(self, conn: Connection, replica: Replica) -> None:
        self.conn, self.replica, self.outbox = conn, replica, bytearray()

    def send(self, message: Message) -> None:
        self.outbox += self.conn.send(message)


def whole(data: bytes) -> list[bytes]:
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_chunks(seed: int) -> Chunker:
    rng = random.Random(seed)

    def chunks(data: bytes) -> list[bytes]:
        out, i = [], 0
        while i < len(data):
            step = rng.choice((1, 2, 3, rng.randint(1, 64), rng.randint(1, 4096)))
            out.append(data[i : i + step])
            i += step
        return out

    return chunks


CHUNKERS: dict[str, Chunker] = {
    "whole": whole, "bytewise": bytewise, "random-1": random_chunks(1),
    "random-2": random_chunks(2),
}  # fmt: skip
Carry = Callable[["Side", "Side", bytes], list[Event]]
"""Delivers bytes from one side to the other; returns the events they caused there."""


def in_memory(chunks: Chunker = whole) -> Carry:
    def carry(src: Side, dst: Side, data: bytes) -> list[Event]:
        events: list[Event] = []
        for piece in chunks(data):
            dst.conn.receive_data(piece)
            events += drain(dst.conn)
        return events

    return carry


def connect(client: Replica, server: Replica, carry: Carry) -> tuple[Side, Side]:
    c = Side(Connection(Role.CLIENT, Hello((1,), "c", "t", os.urandom(32))), client)
    s = Side(Connection(Role.SERVER, Hello((1,), "s", "t", os.urandom(32))), server)
    [hello_in_server] = carry(c, s, c.conn.start())
    [hello_in_client] = carry(s, c, s.conn.start())
    assert isinstance(hello_in_server, HelloReceived)
    assert isinstance(hello_in_client, HelloReceived)
    [auth] = carry(c, s, c.conn.send_auth(b"cert", b"sig"))
    assert isinstance(auth, AuthRequested)
    assert carry(s, c, s.conn.accept()) == [Established()]
    return c, s


def pump(a: Side, b: Side, carry: Carry) -> None:
    """Carry bytes both ways, letting each replica answer, until both are quiet."""
    while a.outbox or b.outbox:
        for src, dst in ((a, b), (b, a)):
            data, src.outbox = bytes(src.outbox), bytearray()
            if not data:
                continue  # receive_data(b"") would mean the end of the stream
            for event in carry(src, dst, data):
                assert isinstance(event, MessageReceived)
                for reply in dst.replica.handle(event.message):
                    dst.send(reply)


def shared_pair() -> tuple[Replica, Replica]:
    base: Doc = pycrdt.Doc()
    base.get("content", type=pycrdt.Text).insert(0, "shared base. ")
    ours: Doc = pycrdt.Doc()
    theirs: Doc = pycrdt.Doc()
    ours.apply_update(base.get_update())
    theirs.apply_update(base.get_update())
    ours.get("content", type=pycrdt.Text).insert(0, "[client] ")
    content = theirs.get("content", type=pycrdt.Text)
    content.insert(len(content), "[server]")
    del content[0:6]  # a delete: changes no state vector entry of the base's client
    alpha: Doc = pycrdt.Doc()
    beta: Doc = pycrdt.Doc()
    alpha.get("content", type=pycrdt.Text).insert(0, "alpha")
    beta.get("content", type=pycrdt.Text).insert(0, "beta")
    return Replica({"a.md": alpha, "shared.md": ours}), Replica({"shared.md": theirs, "b.md": beta})


def assert_converged(one: Replica, two: Replica) -> None:
    assert set(one.docs) == set(two.docs)
    for guid, doc in one.docs.items():
        other = two.docs[guid]
        assert decode_state_vector(doc.get_state()) == decode_state_vector(other.get_state())
        assert version_of(doc) == version_of(other)
        assert text(doc) == text(other)


@pytest.mark.parametrize("chunking", sorted(CHUNKERS))
def test_index_exchange_then_doc_sync_then_live_updates(chunking: str) -> None:
    carry = in_memory(CHUNKERS[chunking])
    client, server = shared_pair()
    c, s = connect(client, server, carry)
    c.send(client.request())
    s.send(server.request())
    pump(c, s, carry)
    assert_converged(client, server)
    assert text(client.docs["shared.md"]) == "[client]  base. [server]"
    updates = [client.edit("a.md", " one"), client.edit("a.md", " two")]
    c.send(Update(SHARE, "a.md", updates))
    pump(c, s, carry)
    assert_converged(client, server)
    assert text(server.docs["a.md"]) == "alpha one two"


def test_many_docs_multiplexed_in_random_order() -> None:
    rng = random.Random(7)
    client = Replica({f"doc-{i}": pycrdt.Doc() for i in range(60)})
    server = Replica({f"doc-{i}": pycrdt.Doc() for i in range(60)})
    c, s = connect(client, server, in_memory())
    frames = []
    for round_ in range(3):
        for i in range(60):
            for side, name in ((c, "c"), (s, "s")):
                update = side.replica.edit(f"doc-{i}", f"{name}{round_}")
                frames.append((side, Update(SHARE, f"doc-{i}", [update])))
    rng.shuffle(frames)
    for side, message in frames:
        side.send(message)
    pump(c, s, in_memory(random_chunks(3)))
    assert_converged(client, server)
    for doc in client.docs.values():
        assert sorted(text(doc)) == sorted("c0c1c2s0s1s2")


def test_index_is_paginated_with_more() -> None:
    docs: dict[str, Doc] = {f"d{i}": pycrdt.Doc() for i in range(2 * MAX_INDEX_ENTRIES + 5)}
    server, client = Replica(docs), Replica({})
    c, s = connect(client, server, in_memory())
    pages = server.index_since(0)
    assert [len(p.entries) for p in pages] == [MAX_INDEX_ENTRIES, MAX_INDEX_ENTRIES, 5]
    assert [p.more for p in pages] == [True, True, False]
    c.send(client.request())
    pump(c, s, in_memory())
    assert client.peer_index == (server.index_id, server.max_sequence)
    assert set(client.docs) == set(docs)


def test_reconnect_asks_only_for_what_changed() -> None:
    client = Replica({f"doc-{i}": pycrdt.Doc() for i in range(50)})
    server = Replica({})
    for i in range(50):
        server.edit(f"doc-{i}", "x")
    c, s = connect(client, server, in_memory())
    c.send(client.request())
    pump(c, s, in_memory())
    assert client.entries_received == 50
    first = client.peer_index
    for side in (c, s):
        side.conn.close("shutdown", "bye")
    server.edit("doc-3", "y")
    server.edit("doc-7", "z")
    c, s = connect(client, server, in_memory())
    c.send(client.request())
    assert client.request() == IndexRequest(SHARE, first[0], first[1])
    pump(c, s, in_memory())
    assert client.entries_received == 52  # O(changed docs)
    assert_converged(client, server)
    server.index_id = os.urandom(8)  # the server lost its index: the whole one again
    c, s = connect(client, server, in_memory())
    c.send(client.request())
    pump(c, s, in_memory())
    assert client.entries_received == 102


def test_a_delete_alone_is_synced() -> None:
    base: Doc = pycrdt.Doc()
    base.get("content", type=pycrdt.Text).insert(0, "keep drop keep")
    one: Doc = pycrdt.Doc()
    two: Doc = pycrdt.Doc()
    for doc in (one, two):
        doc.apply_update(base.get_update())
    del two.get("content", type=pycrdt.Text)[5:10]
    assert one.get_state() == two.get_state()  # a delete moves no state vector
    client, server = Replica({"d": one}), Replica({"d": two})
    c, s = connect(client, server, in_memory())
    c.send(client.request())
    pump(c, s, in_memory())
    assert text(one) == "keep keep"
    assert_converged(client, server)


def test_over_a_real_socket_pair() -> None:
    client, server = shared_pair()
    ends = socket.socketpair()
    for end in ends:
        end.settimeout(10)

    def over_socket(src: Side, dst: Side, data: bytes) -> list[Event]:
        out, into = ends if src.replica is client else ends[::-1]
        out.sendall(data)
        events: list[Event] = []
        received = 0
        while received < len(data):
            chunk = into.recv(65536)
            received += len(chunk)
            dst.conn.receive_data(chunk)
            events += drain(dst.conn)
        return events

    try:
        c, s = connect(client, server, over_socket)
        c.send(client.request())
        s.send(server.request())
        pump(c, s, over_socket)
        assert_converged(client, server)
        ends[0].sendall(c.conn.close("shutdown", "done"))
        ends[0].close()
        closed: list[Event] = []
        while not closed:
            s.conn.receive_data(ends[1].recv(65536))
            closed = drain(s.conn)
        assert closed == [Closed("shutdown", "done")]
    finally:
        for end in ends:
            end.close()
