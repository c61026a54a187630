"""Untrusted updates are scanned before a live Doc sees them: the inputs that make
pycrdt panic or lie about its state vector never reach it."""

from __future__ import annotations

from typing import Any

import pycrdt
import pytest

from p2psync.errors import MalformedYjsError
from p2psync.protocol.messages import SyncStep1, SyncStep2, Update
from p2psync.protocol.yjs import _varuint as varuint
from p2psync.protocol.yjs import decode_state_vector
from p2psync.protocol.yjs_update import MAX_CLOCK, UpdateShape, scan_update
from p2psync.replica.doc import DocReplica
from p2psync.replica.effects import Disconnect, Persist, Quarantine, Reload, Send
from p2psync.replica.share import ShareReplica
from p2psync.replica.sync import ShareSync
from p2psync.replica.validate import Outcome, apply_checked, is_panic
from tests.support.updates import text_updates


def item(client: int, clock: int, text: bytes, origin: tuple[int, int] = (1, 3)) -> bytes:
    """One string item with left and right origins, as Yjs v1 writes it."""
    return (
        b"\x01\x01" + varuint(client) + varuint(clock) + b"\xc4"
        + varuint(origin[0]) + varuint(origin[1]) + varuint(origin[0]) + varuint(origin[1] + 1)
        + varuint(len(text)) + text + b"\x00"
    )  # fmt: skip


def hello_doc() -> pycrdt.Doc[Any]:
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=1)
    doc.get("content", type=pycrdt.Text).insert(0, "hello world")
    return doc


# Inputs found by mutating real updates: each makes pycrdt panic on a Doc that holds
# text of client 1 (an empty string; a clock past u32; an empty group).
PANICKING = [
    item(1, 11, b""),
    item(1, 2**32 - 1, b"x"),
    item(1, 2**53 - 1, b"x"),
    b"\x01\x00\x01\x20\x00",  # an empty struct group of client 1 (found by hypothesis)
]


@pytest.mark.parametrize("update", PANICKING)
def test_the_catalogued_panics_are_real_and_refused_by_the_scan(update: bytes) -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(hello_doc().get_update())
    with pytest.raises(BaseException) as caught:  # pycrdt's PanicException
        doc.apply_update(update)
    assert is_panic(caught.value)
    with pytest.raises(MalformedYjsError):
        scan_update(update)


@pytest.mark.parametrize("update", PANICKING)
def test_merging_or_a_scratch_doc_would_not_have_caught_them(update: bytes) -> None:
    # Why the scan exists: the cheaper candidate validators accept these inputs.
    pycrdt.merge_updates(update, update)
    scratch: pycrdt.Doc[Any] = pycrdt.Doc()
    scratch.apply_update(update)
    assert scratch.get_update()


@pytest.mark.parametrize("update", PANICKING)
def test_a_replica_refuses_them_and_stays_usable(update: bytes) -> None:
    replica = DocReplica("d", [hello_doc().get_update()])
    applied = replica.apply_many([update], remote=True)
    assert applied.error is not None
    assert not replica.poisoned
    assert replica.text() == "hello world"
    assert replica.full_state()


def test_a_gap_is_not_applied_from_a_peer() -> None:
    # pycrdt would show the "x" while its state vector says it lacks it.
    replica = DocReplica("d", [hello_doc().get_update()])
    applied = replica.apply_many([item(1, 100, b"x")], remote=True)
    assert applied.missing
    assert applied.error is None
    assert applied.failed_at == 0
    assert replica.text() == "hello world"


def test_a_missing_origin_is_a_gap() -> None:
    replica = DocReplica("d", [hello_doc().get_update()])
    applied = replica.apply_many([item(2, 0, b"x", origin=(1, 50))], remote=True)
    assert applied.missing
    assert replica.text() == "hello world"


def test_real_updates_scan_to_their_clock_ranges() -> None:
    updates, text = text_updates(120)
    state: dict[int, int] = {}
    for update in updates:
        shape = scan_update(update)
        assert not shape.missing(state)
        shape.advance(state)
    doc = DocReplica("d", updates)
    assert state == decode_state_vector(doc.state_vector())
    assert doc.text() == text


def test_every_shared_type_and_content_scans() -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=7)
    doc["t"] = text = pycrdt.Text("hello 😀é")
    text.format(0, 1, {"bold": True})
    text.insert_embed(1, {"image": "x.png"})
    doc["m"] = pycrdt.Map({"n": 1, "f": 1.5, "s": "x", "l": [1, [2, {"a": None}]], "b": True})
    doc["a"] = pycrdt.Array([b"\x00\x01", "two", 3])
    doc["x"] = xml = pycrdt.XmlFragment()
    xml.children.append(pycrdt.XmlElement("p", {"class": "c"}, [pycrdt.XmlText("hi")]))
    del text[0:1]
    update = doc.get_update()
    shape = scan_update(update)
    assert shape.ranges == {7: (0, decode_state_vector(doc.get_state())[7])}
    assert not shape.missing({})


@pytest.mark.parametrize(
    ("update", "problem"),
    [
        (b"", "ends inside"),
        (b"\x00\x00\x07", "trailing"),
        (item(2, 0, b"\xff"), "UTF-8"),
        (item(1, 5, b"x", origin=(1, 5)), "refers to itself"),
        (item(1, MAX_CLOCK, b"xy"), "past clock"),
        (b"\x01\x01\x01\x00\x9f\x02\x00", "content type"),
        (b"\x01\x01\x01\x00\x07\x01\x01t\x0f", "type reference"),
        (b"\x01\xff\xff\xff\x0f", "bytes left"),
    ],
)
def test_malformed_updates_are_named(update: bytes, problem: str) -> None:
    with pytest.raises(MalformedYjsError, match=problem):
        scan_update(update)


def test_a_batch_stops_at_the_bad_update_after_applying_those_before() -> None:
    updates, _ = text_updates(120)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    state: dict[int, int] = {}
    batch = [*updates[:75], item(9, 0, b"\xff"), *updates[75:]]
    checked = apply_checked(doc, batch, state, allow_missing=False)
    assert checked.outcome is Outcome.MALFORMED
    assert checked.stopped_at == 75
    assert state == decode_state_vector(doc.get_state())
    assert len(str(doc.get("content", type=pycrdt.Text))) == len("".join(
        f"edit {i} " for i in range(75)))  # fmt: skip


def test_local_updates_may_wait_for_their_dependencies() -> None:
    updates, text = text_updates(3)
    replica = DocReplica("d")
    assert replica.apply_many([updates[2]]).error is None  # pending inside pycrdt
    replica.apply_many(updates[:2])
    assert replica.text() == text


SHARE = b"s" * 16


def test_a_panic_that_gets_past_the_scan_is_contained(monkeypatch: pytest.MonkeyPatch) -> None:
    # Stand in for a pycrdt bug the scan does not know: let the scan accept anything.
    import p2psync.replica.validate as validate  # noqa: PLC0415

    monkeypatch.setattr(validate, "scan_update", lambda update: UpdateShape())
    sync = ShareSync(ShareReplica(SHARE))
    sync.replica.add(DocReplica("d", [hello_doc().get_update()]))
    sync.peer_up("peer")
    sync.peer_up("honest")
    effects = sync.receive("peer", Update(SHARE, "d", [PANICKING[0]]))
    assert [type(e) for e in effects] == [Quarantine, Reload, Disconnect]
    quarantine = effects[0]
    assert isinstance(quarantine, Quarantine)
    assert quarantine.updates == [PANICKING[0]]
    assert "crashed" in quarantine.reason
    assert not any(isinstance(e, (Persist, Send)) for e in effects)  # nothing stored or sent


def test_a_syncstep2_with_a_gap_disconnects_and_a_live_update_asks_again() -> None:
    sync = ShareSync(ShareReplica(SHARE))
    sync.replica.add(DocReplica("d", [hello_doc().get_update()]))
    sync.peer_up("peer")
    effects = sync.receive("peer", Update(SHARE, "d", [item(1, 100, b"x")]))
    assert [type(e) for e in effects] == [Send]
    assert isinstance(effects[0], Send)
    assert isinstance(effects[0].message, SyncStep1)
    effects = sync.receive("peer", SyncStep2(SHARE, "d", item(1, 100, b"x")))
    assert [type(e) for e in effects] == [Disconnect]
    assert sync.replica.get("d") is not None


def test_a_dependency_cycle_between_clients_poisons_and_is_reported() -> None:
    # Client 2's item sits after client 3's, and client 3's after client 2's: pycrdt
    # keeps both pending for ever, and a replica would report a state it lacks.
    cycle = (
        b"\x02"
        + b"\x01\x02\x00\x84\x03\x00\x01x"
        + b"\x01\x03\x00\x84\x02\x00\x01y"
        + b"\x00"
    )  # fmt: skip
    shape = scan_update(cycle)
    assert not shape.missing({})
    assert shape.internal
    replica = DocReplica("d", [hello_doc().get_update()])
    applied = replica.apply_many([cycle], remote=True)
    assert replica.poisoned
    assert applied.error is not None
    assert "pending" in str(applied.error)
    assert applied.integrated == []
