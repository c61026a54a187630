"""The y-websocket codec: what pycrdt's own y-protocols helpers write decodes, what we
write pycrdt reads, and malformed bytes are refused with MalformedAppMessageError."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pycrdt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psync.apps import wire
from p2psync.apps.tokens import doc_token, load_or_create_secret, token_grants


def test_pycrdt_sync_messages_decode() -> None:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=5)
    doc.get("content", type=pycrdt.Text).insert(0, "hi")
    step1 = wire.decode(pycrdt.create_sync_message(doc))
    assert step1 == wire.SyncMessage(wire.SYNC_STEP1, doc.get_state())
    update = wire.decode(pycrdt.create_update_message(doc.get_update()))
    assert update == wire.SyncMessage(wire.SYNC_UPDATE, doc.get_update())


def test_our_messages_are_what_pycrdt_reads() -> None:
    source: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=5)
    source.get("content", type=pycrdt.Text).insert(0, "hi")
    target: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=6)
    message = wire.encode_sync(wire.SYNC_STEP2, source.get_update())
    assert pycrdt.handle_sync_message(message[1:], target) is None
    assert str(target.get("content", type=pycrdt.Text)) == "hi"


def test_adjacent_updates_are_merged_and_the_rest_kept_in_order() -> None:
    docs: list[pycrdt.Doc[pycrdt.Text]] = [pycrdt.Doc(client_id=i) for i in (1, 2, 3)]
    updates = []
    for doc, word in zip(docs, ("one ", "two ", "three "), strict=True):
        doc["content"] = text = pycrdt.Text()
        text += word
        updates.append(doc.get_update())
    awareness = wire.encode_awareness([wire.AwarenessEntry(7, 1, "{}")])
    queued = [wire.encode_sync(wire.SYNC_UPDATE, u) for u in updates[:2]]
    queued += [awareness, wire.encode_sync(wire.SYNC_UPDATE, updates[2])]
    frames = wire.merge_update_frames(queued)
    assert len(frames) == 3
    assert frames[1:] == queued[2:]
    merged = wire.decode(frames[0])
    assert isinstance(merged, wire.SyncMessage)
    assert merged.kind == wire.SYNC_UPDATE
    one_by_one: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=8)
    for update in updates[:2]:
        one_by_one.apply_update(update)
    at_once: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=9)
    at_once.apply_update(merged.payload)
    assert at_once.get_state() == one_by_one.get_state()
    assert str(at_once.get("content", type=pycrdt.Text)) == str(
        one_by_one.get("content", type=pycrdt.Text)
    )


def test_an_apps_updates_are_merged_up_to_what_follows_and_a_bad_one_unmerged() -> None:
    updates = []
    for i in (1, 2):
        doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=i)
        doc["content"] = pycrdt.Text(str(i))
        updates.append(wire.SyncMessage(wire.SYNC_UPDATE, doc.get_update()))
    step2 = wire.SyncMessage(wire.SYNC_STEP2, updates[0].payload)
    merged = wire.merge_update_messages([*updates, step2])
    assert [m.kind for m in merged] == [wire.SYNC_UPDATE, wire.SYNC_STEP2]
    assert merged[0].payload == pycrdt.merge_updates(updates[0].payload, updates[1].payload)
    bad = [updates[0], wire.SyncMessage(wire.SYNC_UPDATE, b"\x05\x01\x02")]
    assert wire.merge_update_messages(bad) == bad


def test_at_most_merge_max_updates_make_one_message() -> None:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=4)
    doc["content"] = text = pycrdt.Text()
    queued = []
    for i in range(wire.MERGE_MAX + 1):
        before = doc.get_state()
        text += str(i)
        queued.append(wire.encode_sync(wire.SYNC_UPDATE, doc.get_update(before)))
    frames = wire.merge_update_frames(queued)
    assert len(frames) == 2
    assert frames[1] == queued[-1]


def test_awareness_round_trips_with_pycrdt() -> None:
    awareness = pycrdt.Awareness(pycrdt.Doc(client_id=9))
    awareness.set_local_state({"user": {"name": "ann"}})
    message = pycrdt.create_awareness_message(awareness.encode_awareness_update([9]))
    decoded = wire.decode(message)
    assert isinstance(decoded, wire.AwarenessMessage)
    (entry,) = decoded.entries
    assert (entry.client, entry.removed) == (9, False)
    other = pycrdt.Awareness(pycrdt.Doc(client_id=10))
    other.apply_awareness_update(
        pycrdt.read_message(wire.encode_awareness(decoded.entries)[1:]), "x"
    )
    assert other.states[9] == {"user": {"name": "ann"}}


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\x09",  # unknown type
        b"\x00\x05\x00",  # unknown sync type
        b"\x00\x02\x05ab",  # a field longer than the message
        b"\x00\x02\x01ab",  # bytes after the end
        b"\x80\x80\x80\x80\x80\x80\x80\x80\x80",  # a number too long
        b"\x01\x05\x01\x01\x01\x01{",  # an awareness state that is not JSON
        b"\x01\x02\x41\x00",  # too many awareness clients
    ],
)
def test_malformed_messages_are_refused(message: bytes) -> None:
    with pytest.raises(wire.MalformedAppMessageError):
        wire.decode(message)


@given(st.binary(max_size=64))
def test_any_bytes_decode_or_are_refused(data: bytes) -> None:
    with contextlib.suppress(wire.MalformedAppMessageError):
        wire.decode(data)


def test_tokens_grant_one_doc_and_the_secret_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "apps.key"
    secret = load_or_create_secret(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(path) == secret
    token = doc_token(secret, "SHARE", "doc-a")
    assert token_grants(secret, token, "SHARE", "doc-a")
    assert not token_grants(secret, token, "SHARE", "doc-b")
    assert not token_grants(secret, token, "OTHER", "doc-a")
    assert not token_grants(b"x" * 32, token, "SHARE", "doc-a")
    assert not token_grants(secret, "", "SHARE", "doc-a")
