"""The revival rule: which deleted entries come back (mirror/revival.py)."""

from __future__ import annotations

from typing import Any

import pycrdt

from p2psync.mirror.chunked import CONTENT, seed, successor_guid
from p2psync.mirror.hlc import Timestamp
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import Entry, parse_entry
from p2psync.mirror.revival import (
    decode_chunk_states,
    deletion_fields,
    edited_since_deletion,
    encode_chunk_states,
)
from p2psync.replica.doc import DocReplica

Doc = pycrdt.Doc[Any]
ROOT = "f:" + "0" * 32


class Docs:
    """A share's docs in memory; records which were asked for."""

    def __init__(self) -> None:
        self.docs: dict[str, DocReplica] = {}
        self.asked: list[str] = []

    def __call__(self, guid: str) -> DocReplica | None:
        self.asked.append(guid)
        return self.docs.get(guid)

    def edit(self, guid: str, edit: Any) -> None:
        self.docs.setdefault(guid, DocReplica(guid)).local_edit(edit)


def chunked_file(text: str = "a" * 300 + "\n" + "b" * 300) -> tuple[Docs, list[str]]:
    """A chunked file of a few chunks of at most 128 bytes."""
    raw: dict[str, Doc] = {}
    root: Doc = pycrdt.Doc(client_id=1)
    guids = seed(root, ROOT, lambda g: raw.setdefault(g, pycrdt.Doc(client_id=1)), text, 128)
    docs = Docs()
    for guid, doc in [(ROOT, root), *raw.items()]:
        docs.docs[guid] = DocReplica(guid)
        docs.docs[guid].apply(doc.get_update())
    return docs, guids


def deleted(docs: Docs, kind: FileKind = FileKind.CHUNKED) -> Entry:
    """The entry of ROOT deleted now, as it reads back from the manifest."""
    live = Entry(ROOT, "big.txt", kind, Timestamp(1, 0, b"d"))
    fields = live.fields() | {"deleted": True} | deletion_fields(live, docs)
    return parse_entry(ROOT, fields)


def append(text: str) -> Any:
    def edit(doc: Doc) -> None:
        content = doc.get(CONTENT, type=pycrdt.Text)
        content.insert(len(content), text)

    return edit


def test_a_chunked_deletion_records_every_chunk_and_nothing_changed_keeps_it_deleted() -> None:
    docs, guids = chunked_file()
    assert len(guids) > 2
    entry = deleted(docs)
    recorded = decode_chunk_states(entry.deleted_chunks, entry.deleted_at)
    assert recorded == {g: docs.docs[g].state_vector() for g in guids}
    assert entry.deleted_at == docs.docs[ROOT].state_vector()
    assert not edited_since_deletion(entry, docs)


def test_an_edit_of_any_chunk_after_the_deletion_revives_it() -> None:
    for index in (0, 1, -1):
        docs, guids = chunked_file()
        entry = deleted(docs)
        docs.edit(guids[index], append("edited"))
        assert edited_since_deletion(entry, docs), index
        assert not edited_since_deletion(entry, docs, chunks=False)  # the root is unchanged


def test_a_chunk_created_after_the_deletion_is_a_change() -> None:
    docs, guids = chunked_file()
    entry = deleted(docs)
    newer = successor_guid(ROOT, guids[-1])
    states = decode_chunk_states(entry.deleted_chunks, entry.deleted_at)
    assert states is not None
    # The root as recorded, but one more chunk: the record does not name it.
    del states[guids[-1]]
    missing = parse_entry(
        ROOT, entry.fields() | {"deleted_chunks": encode_chunk_states(entry.deleted_at, states)}
    )
    assert edited_since_deletion(missing, docs)
    docs.edit(ROOT, lambda d: d.get("chunks", type=pycrdt.Map).__setitem__(newer, [99, 0]))
    assert edited_since_deletion(entry, docs)


def test_a_stale_or_malformed_chunk_record_falls_back_to_the_root_alone() -> None:
    docs, guids = chunked_file()
    entry = deleted(docs)
    docs.edit(guids[0], append("edited"))
    for raw in (b"", b"\xc1", encode_chunk_states(b"\x01\x05\x03", {}), b"\x92\x01\x02"):
        other = parse_entry(ROOT, entry.fields() | {"deleted_chunks": raw})
        assert decode_chunk_states(raw, entry.deleted_at) is None, raw
        assert not edited_since_deletion(other, docs), raw


def test_a_one_doc_file_records_no_chunks_and_revives_on_its_own_edit() -> None:
    docs = Docs()
    docs.edit(ROOT, append("text"))
    entry = deleted(docs, FileKind.TEXT)
    assert entry.deleted_chunks == b""
    assert not edited_since_deletion(entry, docs)
    docs.edit(ROOT, append(" more"))
    assert edited_since_deletion(entry, docs)
    assert set(docs.asked) == {ROOT}  # no chunk looked up for a one-doc file


def test_an_entry_without_deleted_chunks_reads_as_before() -> None:
    docs, _ = chunked_file()
    entry = deleted(docs)
    old = {k: v for k, v in entry.fields().items() if k != "deleted_chunks"}
    assert parse_entry(ROOT, old).deleted_chunks == b""
    assert "deleted_chunks" not in Entry(ROOT, "a", FileKind.TEXT, entry.created).fields()
