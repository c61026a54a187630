"""The persisted index: its file format, what start-up trusts, and a restarted
engine that reconnects at the cost of what changed, with docs held unloaded."""

from __future__ import annotations

import contextlib
import random
import struct
import zlib
from pathlib import Path
from unittest import mock

import msgpack
import pycrdt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psync.config import FolderMode
from p2psync.errors import CorruptIndexError
from p2psync.protocol.messages import (
    MAX_INDEX_ENTRIES,
    Index,
    IndexEntry,
    IndexRequest,
    SyncMessage,
    SyncStep1,
    SyncStep2,
)
from p2psync.protocol.yjs import DocVersion, decode_state_vector
from p2psync.replica import share
from p2psync.replica.doc import DocReplica
from p2psync.replica.effects import Effect, Persist, Send
from p2psync.replica.index import plan_start, reread, restore, snapshot
from p2psync.replica.membership import MemberPolicy
from p2psync.replica.share import ShareReplica
from p2psync.replica.stored import diff_of_stored
from p2psync.replica.sync import ShareSync
from p2psync.storage.indexstore import (
    HEADER_BYTES,
    DocRecord,
    PeerRecord,
    StoredIndex,
    decode_index,
    encode_index,
    load_index,
    save_index,
)

SHARE = b"s" * 16
PATH = Path("index.bin")


def sample_index() -> StoredIndex:
    docs = {f"d{i}": DocRecord(i + 1, {7: i, 9: 3}, bytes([i]) * 16, 100 + i, 10**18 + i)
            for i in range(5)}  # fmt: skip
    peers = {"peer": PeerRecord(b"p" * 8, 42, {"d1": (3, {5: 2}, b"\x01" * 16)}),
             "refused": PeerRecord(b"q" * 8, 7, {}, refused=True)}  # fmt: skip
    return StoredIndex(b"i" * 8, 5, True, docs, peers)


def test_the_file_round_trips_and_is_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "index.bin"
    assert load_index(path) is None
    save_index(path, sample_index())
    assert load_index(path) == sample_index()
    save_index(path, StoredIndex(b"j" * 8, 0, False))
    assert load_index(path) == StoredIndex(b"j" * 8, 0, False)
    assert [p.name for p in tmp_path.iterdir()] == ["index.bin"]  # no temp file left


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: HEADER_BYTES - 1], "shorter than the header"),
        (lambda b: b"X" + b[1:], "bad magic"),
        (lambda b: b[:8] + b"\x00\x09" + b[10:], "version 9"),
        (lambda b: b[:-1], "checksum"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "checksum"),
    ],
)
def test_damage_is_a_corrupt_index_error_naming_the_file(damage: object, message: str) -> None:
    data = encode_index(sample_index())
    with pytest.raises(CorruptIndexError, match=message) as raised:
        decode_index(damage(data), PATH)  # type: ignore[operator]
    assert str(PATH) in str(raised.value)


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=400))
def test_any_bytes_decode_or_fail_cleanly(junk: bytes, cut: int) -> None:
    data = encode_index(sample_index())
    for candidate in (junk, data[:cut] + junk, data[:HEADER_BYTES] + junk):
        with contextlib.suppress(CorruptIndexError):
            decode_index(candidate, PATH)


def test_a_valid_checksum_over_a_bad_body_is_still_refused() -> None:
    body = msgpack.packb({"i": b"short", "m": -1, "c": True, "d": {}, "p": {}})
    data = struct.pack(">8sHII", b"P2PSIDX\n", 1, len(body), zlib.crc32(body)) + body
    with pytest.raises(CorruptIndexError, match="does not decode"):
        decode_index(data, PATH)


def test_a_file_without_the_refused_list_reads_as_refusing_no_peer() -> None:
    # Files of versions before the list ("r") was kept: every peer record reads as one
    # recorded while its changes were taken.
    data = encode_index(sample_index())
    body = msgpack.unpackb(data[HEADER_BYTES:], raw=False, strict_map_key=False)
    assert body.pop("r") == ["refused"]
    older = msgpack.packb(body, use_bin_type=True)
    header = struct.pack(">8sHII", b"P2PSIDX\n", 1, len(older), zlib.crc32(older))
    stored = decode_index(header + older, PATH)
    assert stored.peers["refused"] == PeerRecord(b"q" * 8, 7, {})
    assert stored.peers["peer"] == sample_index().peers["peer"]


def test_start_trusts_only_logs_whose_size_and_mtime_match() -> None:
    stored = sample_index()
    logs = {"d0": (100, 10**18), "d1": (999, 10**18 + 1), "new": (5, 5)}
    plan = plan_start(stored, logs)
    assert set(plan.trusted) == {"d0"}
    assert plan.reread == ["d1", "new"]
    assert set(plan.recorded) == {"d1"}
    assert plan_start(None, logs).reread == ["d0", "d1", "new"]


# -- engines over a fake wire -------------------------------------------------------


def edit(doc: DocReplica, text: str) -> bytes:
    client: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=random.randrange(1, 2**31))
    client.apply_update(doc.full_state())
    before = client.get_state()
    content = client.get("content", type=pycrdt.Text)
    content.insert(len(content), text)
    return client.get_update(before)


class Node:
    """A sync engine and the logs its Persist effects wrote: a stand-in for the daemon,
    which answers a SyncStep1 for an unloaded doc from its log and loads a doc before
    anything is applied to it."""

    def __init__(self, sync: ShareSync) -> None:
        self.sync = sync
        self.logs: dict[str, list[bytes]] = {}

    def run(self, effects: list[Effect]) -> list[Send]:
        for effect in effects:
            if isinstance(effect, Persist):
                self.logs.setdefault(effect.guid, []).extend(effect.updates)
        return [e for e in effects if isinstance(e, Send)]

    def receive(self, peer: str, message: SyncMessage) -> list[Send]:
        guid = getattr(message, "guid", None)
        replica = self.sync.replica
        if guid is not None and guid in replica and not replica.is_loaded(guid):
            if isinstance(message, SyncStep1):
                return self.run(self.sync.answer_from_log(peer, message, self.logs[guid]))
            replica.replace(DocReplica(guid, self.logs[guid]))
        return self.run(self.sync.receive(peer, message))

    def restart(self, *, clean: bool = True) -> Node:
        """A new node built only from what the persisted index holds (and the logs)."""
        replica = self.sync.replica
        records = {}
        for guid in replica.guids():
            version = replica.version(guid)
            assert version is not None
            records[guid] = DocRecord(replica.sequence_of(guid), version.state_vector,
                                      version.delete_digest, 1, 1)  # fmt: skip
        stored = decode_index(encode_index(snapshot(self.sync, records, clean=clean)), PATH)
        fresh = ShareSync(ShareReplica(SHARE))
        restore(fresh, stored, plan_start(stored, dict.fromkeys(records, (1, 1))), str)
        node = Node(fresh)
        node.logs = {guid: list(updates) for guid, updates in self.logs.items()}
        return node


def connect(nodes: dict[str, Node]) -> list[SyncMessage]:
    """Both nodes see the other come up and flush their index; returns every message."""
    sent: list[SyncMessage] = []
    a, b = nodes
    queue: list[tuple[str, Send]] = [(a, e) for e in nodes[a].run(nodes[a].sync.peer_up(b))]
    queue += [(b, e) for e in nodes[b].run(nodes[b].sync.peer_up(a))]
    for flushing in (False, True):
        if flushing:
            queue += [
                (n, e) for n, node in nodes.items() for e in node.run(node.sync.flush_index())
            ]
        while queue:
            source, effect = queue.pop(0)
            sent.append(effect.message)
            target = str(effect.peer)
            queue += [(target, e) for e in nodes[target].receive(source, effect.message)]
    return sent


def test_a_restarted_engine_reconnects_at_the_cost_of_what_changed() -> None:
    nodes = {"a": Node(ShareSync(ShareReplica(SHARE))), "b": Node(ShareSync(ShareReplica(SHARE)))}
    a = nodes["a"]
    for i in range(300):
        doc = a.sync.replica.get_or_create(f"doc{i}")
        a.run(a.sync.local_update(f"doc{i}", edit(doc, f"text {i}")))
    connect(nodes)
    assert nodes["b"].sync.in_sync_with("a")
    assert a.sync.in_sync_with("b")
    a.sync.peer_down("b")
    # b restarts from its index alone (nothing loaded); a changes one doc meanwhile.
    nodes["b"] = b = nodes["b"].restart()
    assert len(b.sync.replica) == 300
    assert not b.sync.replica.loaded()
    changed = a.sync.replica.get("doc7")
    assert changed is not None
    a.run(a.sync.local_update("doc7", edit(changed, " more")))
    sent = connect(nodes)
    entries = [e.guid for m in sent if isinstance(m, Index) for e in m.entries]
    assert set(entries) == {"doc7"}  # a's answer, then b's own change of it
    assert len(sent) < 10
    assert b.sync.in_sync_with("a")
    assert a.sync.in_sync_with("b")
    assert [d.guid for d in b.sync.replica.loaded()] == ["doc7"]
    doc7 = b.sync.replica.get("doc7")
    assert doc7 is not None
    assert doc7.text() == "text 7 more"


def test_a_reconnected_peer_is_not_in_sync_until_its_index_arrives() -> None:
    # What b remembers of a's index says they are in sync, but a changed a doc while
    # they were apart: until a's answer comes, b must not claim to be up to date.
    nodes = {"a": Node(ShareSync(ShareReplica(SHARE))), "b": Node(ShareSync(ShareReplica(SHARE)))}
    a = nodes["a"]
    a.run(a.sync.local_update("doc", edit(a.sync.replica.get_or_create("doc"), "first")))
    connect(nodes)
    assert nodes["b"].sync.in_sync_with("a")
    a.sync.peer_down("b")
    nodes["b"] = b = nodes["b"].restart()
    changed = a.sync.replica.get("doc")
    assert changed is not None
    a.run(a.sync.local_update("doc", edit(changed, " second")))
    b.run(b.sync.peer_up("a"))  # b's request for a's index is on its way
    for request in a.run(a.sync.peer_up("b")):
        b.receive("a", request.message)  # b answers a's request: it sent all it has
    assert not b.sync.in_sync_with("a")
    connect(nodes)
    assert b.sync.in_sync_with("a")


def deliver(nodes: dict[str, Node], queue: list[tuple[str, Send]]) -> None:
    """Hand each queued message to its target, and what that sends back, until none."""
    while queue:
        source, effect = queue.pop(0)
        target = str(effect.peer)
        queue += [(target, e) for e in nodes[target].receive(source, effect.message)]


def test_what_was_asked_of_a_peer_whose_share_restarted_is_asked_again() -> None:
    # b asks a for its doc; a's share stops before it answers (a mirror failure: the
    # share restarts, the link stays up). The restarted share asks for b's index: b
    # asks again for what it asked before, or it would wait for that answer forever.
    nodes = {"a": Node(ShareSync(ShareReplica(SHARE))), "b": Node(ShareSync(ShareReplica(SHARE)))}
    a, b = nodes["a"], nodes["b"]
    a.run(a.sync.local_update("doc", edit(a.sync.replica.get_or_create("doc"), "kept")))
    queue = [("a", e) for e in a.run(a.sync.peer_up("b"))]
    queue += [("b", e) for e in b.run(b.sync.peer_up("a"))]
    lost = []
    while queue:
        source, effect = queue.pop(0)
        if isinstance(effect.message, SyncStep1) and effect.message.guid == "doc":
            lost.append(effect.message)  # the stopping share drops the question
            continue
        queue += [
            (str(effect.peer), e) for e in nodes[str(effect.peer)].receive(source, effect.message)
        ]
    assert lost
    assert not b.sync.in_sync_with("a")
    nodes["a"] = a = a.restart()
    deliver(nodes, [("a", e) for e in a.run(a.sync.peer_up("b"))])
    deliver(nodes, [(n, e) for n, node in nodes.items() for e in node.run(node.sync.flush_index())])
    assert b.sync.in_sync_with("a")
    doc = b.sync.replica.get("doc")
    assert doc is not None
    assert doc.text() == "kept"


def test_a_peer_asking_for_an_unloaded_doc_is_answered_without_loading_it() -> None:
    nodes = {"a": Node(ShareSync(ShareReplica(SHARE))), "b": Node(ShareSync(ShareReplica(SHARE)))}
    a = nodes["a"]
    for i in range(20):
        a.run(a.sync.local_update(f"doc{i}", edit(a.sync.replica.get_or_create(f"doc{i}"), "x")))
    nodes["a"] = a = a.restart()
    connect(nodes)
    assert nodes["b"].sync.in_sync_with("a")
    assert len(nodes["b"].sync.replica) == 20
    assert not a.sync.replica.loaded()  # every SyncStep1 was answered from the logs


def restart(engine: ShareSync, *, clean: bool = True) -> ShareSync:
    node = Node(engine)
    return node.restart(clean=clean).sync


def test_a_crash_takes_a_new_index_id_and_keeps_the_doc_versions() -> None:
    engine = ShareSync(ShareReplica(SHARE))
    engine.local_update("d", edit(engine.replica.get_or_create("d"), "x"))
    crashed = restart(engine, clean=False)
    assert crashed.replica.index_id != engine.replica.index_id
    assert crashed.replica.version("d") == engine.replica.version("d")
    clean = restart(engine)
    assert clean.replica.index_id == engine.replica.index_id
    assert clean.replica.max_sequence == engine.replica.max_sequence


def test_a_reread_log_counts_as_changed_only_if_it_differs() -> None:
    sync = ShareSync(ShareReplica(SHARE))
    version = DocVersion({1: 3}, bytes(16))
    sync.replica.register("d", version, 5)
    assert reread(sync, "d", version) == 5
    assert reread(sync, "d", DocVersion({1: 4}, bytes(16))) == 6
    assert reread(sync, "new", version) == 7
    assert [e.guid for e in sync.replica.entries_since(5)] == ["d", "new"]


# -- unloaded docs ------------------------------------------------------------------


def test_an_unloaded_doc_keeps_its_version_and_is_answered_from_its_updates() -> None:
    sync = ShareSync(ShareReplica(SHARE))
    updates: list[bytes] = []
    doc = sync.replica.get_or_create("d")
    for word in ["alpha ", "beta ", "gamma"]:
        update = edit(doc, word)
        updates += [e.updates[0] for e in sync.local_update("d", update) if isinstance(e, Persist)]
    peer_state = DocReplica("d", updates[:1]).state_vector()
    expected = doc.diff(peer_state)
    version = doc.version()
    sync.replica.unload("d")
    assert not sync.replica.is_loaded("d")
    assert "d" in sync.replica
    assert sync.replica.version("d") == version
    assert decode_state_vector(sync.replica.state_vector("d")) == version.state_vector
    sync.peer_up("peer")
    with pytest.raises(LookupError):
        sync.replica.get_or_create("d")
    effects = sync.answer_from_log("peer", SyncStep1(SHARE, "d", peer_state), updates)
    assert len(effects) == 1
    assert isinstance(effects[0], Send)
    answer = effects[0].message
    assert isinstance(answer, SyncStep2)
    behind = DocReplica("peer-copy", updates[:1])
    behind.apply(answer.update)
    assert behind.text() == "alpha beta gamma"
    fresh = DocReplica("x", updates[:1])
    fresh.apply(expected)
    assert fresh.text() == behind.text()


def test_a_doc_loaded_with_more_than_its_record_floods_the_rest() -> None:
    sync = ShareSync(ShareReplica(SHARE))
    doc = sync.replica.get_or_create("d")
    first = edit(doc, "one ")
    sync.local_update("d", first)
    sync.replica.unload("d")
    recorded = sync.replica.version("d")
    assert recorded is not None
    sync.peer_up("peer")
    later = DocReplica("d", [first])
    more = edit(later, "two")
    loaded = DocReplica("d", [first, more])
    before = sync.replica.max_sequence
    assert sync.replica.replace(loaded)
    assert sync.replica.max_sequence == before + 1
    flood = sync.doc_loaded("d", recorded)
    assert len(flood) == 1
    assert isinstance(flood[0], Send)
    peer = DocReplica("p", [first])
    for update in flood[0].message.updates:  # type: ignore[union-attr]
        peer.apply(update)
    assert peer.text() == "one two"


def test_a_malformed_state_vector_for_an_unloaded_doc_disconnects() -> None:
    with pytest.raises(Exception, match="doc d"):
        diff_of_stored("d", [DocReplica("d").full_state()], b"\xff\xff")
    sync = ShareSync(ShareReplica(SHARE))
    sync.replica.register("d", DocVersion({}, bytes(16)), 1)
    sync.peer_up("peer")
    effects = sync.answer_from_log("peer", SyncStep1(SHARE, "d", b"\xff\xff\xff"), [b"\x01"])
    assert [type(e).__name__ for e in effects] == ["Disconnect"]


def test_an_urgent_doc_is_asked_for_first_and_the_sync_still_completes() -> None:
    count = MAX_INDEX_ENTRIES * 2 + 50  # the urgent doc changed last: in the last frame
    nodes = {"a": Node(ShareSync(ShareReplica(SHARE))), "b": Node(ShareSync(ShareReplica(SHARE)))}
    a, b = nodes["a"], nodes["b"]
    a.sync.urgent = frozenset({"manifest"})
    for guid in [*(f"doc{i}" for i in range(count)), "manifest"]:
        doc = a.sync.replica.get_or_create(guid)
        a.run(a.sync.local_update(guid, edit(doc, guid)))
    sent = connect(nodes)
    asked = [m.guid for m in sent if isinstance(m, SyncStep1) and m.guid in a.sync.replica]
    answered = [m.guid for m in sent if isinstance(m, SyncStep2) and m.guid in a.sync.replica]
    assert asked[0] == "manifest"  # b asked for it before any other doc
    assert answered[0] == "manifest"
    assert sorted(asked) == sorted(a.sync.replica.guids())  # each asked once
    frames = [m for m in sent if isinstance(m, Index) and m.entries]
    assert [e.guid for e in frames[0].entries] == ["manifest"]
    assert frames[0].max_sequence == 0  # it claims nothing: a cut-short answer is asked again
    assert b.sync.in_sync_with("a")
    manifest = b.sync.replica.get("manifest")
    assert manifest is not None
    assert manifest.text() == "manifest"


def test_a_peers_empty_doc_does_not_keep_a_device_from_being_in_sync() -> None:
    """A doc whose log was created and never written (left by a crash) is in the
    index of the device that holds it; the other side never gets it (there is
    nothing to send), and is in sync all the same: the soak's daemons never went
    idle once a kill storm had left such a log on one of them."""
    nodes = {"a": Node(ShareSync(ShareReplica(SHARE))), "b": Node(ShareSync(ShareReplica(SHARE)))}
    a = nodes["a"]
    a.run(a.sync.local_update("doc", edit(a.sync.replica.get_or_create("doc"), "text")))
    a.sync.replica.get_or_create("empty")
    connect(nodes)
    assert nodes["b"].sync.replica.get("doc") is not None
    assert nodes["b"].sync.in_sync_with("a")
    assert a.sync.in_sync_with("b")


def apart(nodes: dict[str, Node]) -> None:
    """The link between the two nodes goes down."""
    nodes["a"].sync.peer_down("b")
    nodes["b"].sync.peer_down("a")


def crashed(written: Node, now: Node) -> Node:
    """``now`` started again after a crash, from the index ``written`` had when it was
    last persisted and the logs ``now`` has: the logs changed since are read again."""
    node = written.restart(clean=False)
    node.logs = {guid: list(updates) for guid, updates in now.logs.items()}
    for guid, updates in node.logs.items():
        reread(node.sync, guid, DocReplica(guid, updates).version())
    return node


@pytest.mark.parametrize("loss", ["lost-index-folder", "crash"])
def test_a_peers_new_index_below_the_sequence_we_knew_still_brings_later_docs(
    loss: str,
) -> None:
    """b's index starts again below the sequence a saw of its old one: its
    ``.p2psync`` was deleted (a fresh index from sequence 1), or it crashed after
    announcing changes its persisted index never recorded (a new index ID, the
    sequence of the last write). A doc b makes while they are apart takes one of the
    sequence numbers a saw of the old index; a's next link must bring it all the
    same, or a never asks for it while b counts it as lacking forever."""
    nodes = {"a": Node(ShareSync(ShareReplica(SHARE))), "b": Node(ShareSync(ShareReplica(SHARE)))}
    b = nodes["b"]
    b.run(b.sync.local_update("base", edit(b.sync.replica.get_or_create("base"), "x")))
    written = b.restart()  # the index as persisted now
    for i in range(10):
        b.run(b.sync.local_update("busy", edit(b.sync.replica.get_or_create("busy"), str(i))))
    connect(nodes)
    assert nodes["a"].sync.in_sync_with("b")
    apart(nodes)
    if loss == "crash":
        nodes["b"] = b = crashed(written, b)
    else:
        nodes["b"] = b = Node(ShareSync(ShareReplica(SHARE)))  # a fresh index, files re-read
        b.run(b.sync.local_update("rescan", edit(b.sync.replica.get_or_create("rescan"), "x")))
    connect(nodes)
    assert nodes["a"].sync.in_sync_with("b")
    apart(nodes)
    b.run(b.sync.local_update("winner", edit(b.sync.replica.get_or_create("winner"), "won")))
    assert b.sync.replica.sequence_of("winner") <= 11  # a sequence a saw of the old index
    connect(nodes)
    got = nodes["a"].sync.replica.get("winner")
    assert got is not None
    assert got.text() == "won"
    assert b.sync.in_sync_with("a")
    assert nodes["a"].sync.in_sync_with("b")


def test_a_request_past_the_end_of_our_index_is_answered_whole() -> None:
    """A peer that asks for our index after a sequence it never reached kept the
    sequence of an older index of ours (as earlier releases did when our index
    changed): it is answered from the start, or it would never get the docs below."""
    nodes = {"a": Node(ShareSync(ShareReplica(SHARE))), "b": Node(ShareSync(ShareReplica(SHARE)))}
    b = nodes["b"]
    b.run(b.sync.local_update("winner", edit(b.sync.replica.get_or_create("winner"), "won")))
    a = nodes["a"]
    a.sync.remember("b", b.sync.replica.index_id, 50, {})
    connect(nodes)
    got = a.sync.replica.get("winner")
    assert got is not None
    assert got.text() == "won"
    assert a.sync.in_sync_with("b")
    assert b.sync.in_sync_with("a")


def test_a_peer_that_lacks_a_doc_it_was_told_of_is_told_again_on_its_next_link() -> None:
    """a's memory of b's index says it saw all of it, yet a lacks b's doc (what an
    older release kept of an index b took anew): b, whose memory of a's index says a
    lacks it, announces it again when a asks for its index, and a asks for it."""
    nodes = {"a": Node(ShareSync(ShareReplica(SHARE))), "b": Node(ShareSync(ShareReplica(SHARE)))}
    a, b = nodes["a"], nodes["b"]
    b.run(b.sync.local_update("winner", edit(b.sync.replica.get_or_create("winner"), "won")))
    for i in range(5):
        b.run(b.sync.local_update("busy", edit(b.sync.replica.get_or_create("busy"), str(i))))
    a.sync.remember("b", b.sync.replica.index_id, b.sync.replica.sequence_of("busy") - 1, {})
    sent = connect(nodes)
    got = a.sync.replica.get("winner")
    assert got is not None
    assert got.text() == "won"
    assert a.sync.in_sync_with("b")
    assert b.sync.in_sync_with("a")
    apart(nodes)
    sent = connect(nodes)  # in sync: a new link repeats nothing
    assert not [e for m in sent if isinstance(m, Index) for e in m.entries]


@pytest.mark.parametrize(("mode_then", "asked_from"), [
    (FolderMode.RECEIVE_ONLY, (b"", 0)),  # refused then: its whole index, as after a change
    (FolderMode.SEND_RECEIVE, (b"i" * 8, 0)),  # taken then: its index, before the doc asked
])  # fmt: skip
def test_what_was_recorded_while_refusing_a_peer_is_asked_again_once_taken_from(
    mode_then: FolderMode, asked_from: tuple[bytes, int]
) -> None:
    # The index was written while "ro" was receive-only; its mode became send-receive
    # and the daemon stopped before writing the index again, so the restarted engine
    # is given send-receive from the outset, with no change of mode to see. What ro
    # announced while refused (and kept on its side) must still be asked for: ro's
    # next link brings its whole index.
    engine = ShareSync(ShareReplica(SHARE))
    engine.change_policy(MemberPolicy(FolderMode.SEND_RECEIVE, {"ro": mode_then}))
    engine.peer_up("ro")
    kept = IndexEntry("doc", 1, DocVersion({1: 2}, bytes(16)))
    engine.receive("ro", Index(SHARE, b"i" * 8, 1, (kept,)))
    engine.peer_down("ro")
    restarted = restart(engine, clean=False)
    restarted.change_policy(MemberPolicy(FolderMode.SEND_RECEIVE, {"ro": FolderMode.SEND_RECEIVE}))
    assert restarted.peer_up("ro") == [Send("ro", IndexRequest(SHARE, *asked_from))]


@given(
    registered=st.lists(st.integers(1, 40), max_size=30),
    touches=st.lists(st.integers(0, 60), max_size=200),
    asked=st.lists(st.integers(0, 300), min_size=1, max_size=10),
)
def test_entries_since_any_sequence_are_the_docs_changed_after_it(
    registered: list[int], touches: list[int], asked: list[int]
) -> None:
    """``entries_since`` reads a recent sequence from the changes it keeps in order
    (superseded ones dropped now and then), an older one from every doc: both give
    what a look at every doc gives."""
    replica = ShareReplica(b"s" * 16)
    for n, sequence in enumerate(registered):  # the index's docs, as a start restores them
        replica.register(f"r{n}", DocVersion({1: 1}, b""), sequence)
    with mock.patch.object(share, "CHANGES_SLACK", 3):
        for doc in touches:  # changes since: registered docs, and docs new here
            guid = f"r{doc}" if doc < len(registered) else f"t{doc}"
            if guid in replica:
                replica.touch(guid)
            else:
                replica.add(DocReplica(guid))
    sequences = replica.sequences()
    for since in asked:
        expected = sorted((s, g) for g, s in sequences.items() if s > since)
        assert [(e.sequence, e.guid) for e in replica.entries_since(since)] == expected
