"""DocReplica: what an update integrated, v1-only validation, versions."""

from __future__ import annotations

import gc
import weakref

import pycrdt
import pytest

from p2psync.errors import UpdateError
from p2psync.replica.doc import DocReplica, check_v1_update
from tests.support.updates import text_updates

# "v2 text" inserted into Y.Text "content" by Yjs 13.6.33, encoded with encodeStateAsUpdateV2.
YJS_V2_UPDATE = bytes.fromhex(
    "00000596dec2e61c00000104110e636f6e74656e747632207465787447000101000001010000"
)


def test_v2_and_empty_updates_are_refused() -> None:
    for update in (YJS_V2_UPDATE, b""):
        with pytest.raises(UpdateError, match="not a Yjs v1 update"):
            check_v1_update(update)
    with pytest.raises(UpdateError, match="notes"):
        DocReplica("notes").apply(YJS_V2_UPDATE)


def test_v1_updates_with_and_without_structs_pass() -> None:
    updates, _ = text_updates(3)
    doc = DocReplica("d", updates)
    state = doc.state_vector()
    copy: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=9)
    copy.apply_update(doc.full_state())
    del copy.get("content", type=pycrdt.Text)[0:2]
    delete_only = copy.get_update(state)
    for update in [*updates, delete_only]:
        check_v1_update(update)
    assert doc.apply(delete_only)  # a delete integrates something...
    assert doc.version().state_vector == DocReplica("d", updates).version().state_vector
    assert doc.version() != DocReplica("d", updates).version()  # ...seen in the digest


def test_duplicates_integrate_nothing() -> None:
    updates, text = text_updates(5)
    doc = DocReplica("d", updates)
    assert doc.apply(updates[2]) == []
    assert doc.text() == text


def test_pending_updates_integrate_when_their_dependencies_arrive() -> None:
    updates, text = text_updates(3)
    doc = DocReplica("d")
    assert doc.apply(updates[2]) == []
    assert doc.apply(updates[1]) == []
    assert len(doc.apply(updates[0])) == 1
    assert doc.text() == text


def test_apply_many_keeps_the_valid_prefix_and_names_the_bad_update() -> None:
    updates, _ = text_updates(120)
    doc = DocReplica("d")
    batch = [*updates[:75], YJS_V2_UPDATE, *updates[75:]]
    applied = doc.apply_many(batch)
    assert applied.failed_at == 75
    assert applied.error is not None
    assert "not a Yjs v1 update" in str(applied.error)
    assert doc.text() == DocReplica("e", updates[:75]).text()
    garbage = [*updates[75:80], b"\x01\x05garbage", *updates[80:]]
    applied = doc.apply_many(garbage)
    assert applied.failed_at == 5
    assert doc.text() == DocReplica("e", updates[:80]).text()


def test_chunked_apply_integrates_what_one_by_one_would() -> None:
    updates, text = text_updates(200)
    merged = DocReplica("m")
    deltas = merged.apply_many(updates).integrated
    assert merged.text() == text
    rebuilt = DocReplica("r", deltas)
    assert rebuilt.version() == merged.version()


def test_a_dropped_replica_frees_its_doc() -> None:
    """pycrdt's observe makes a cycle through Rust the collector cannot see; a replica
    must not keep its Doc (nor itself) alive once nothing else holds it (issue 19: every
    doc a first sync loaded stayed in memory after it was unloaded)."""
    updates, _ = text_updates(3)
    doc = DocReplica("d", updates[:1])
    assert doc.apply(updates[1])  # the transaction's delta still reaches the replica
    replica_ref, ydoc_ref = weakref.ref(doc), weakref.ref(doc.ydoc)
    del doc
    gc.collect()
    assert replica_ref() is None
    assert ydoc_ref() is None
