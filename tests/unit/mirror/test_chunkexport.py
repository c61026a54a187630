"""A chunked file's export reads as a text doc holding its text (mirror/chunkexport.py)."""

from __future__ import annotations

from typing import Any

import pycrdt

from p2psync.errors import ChunkedDocError, UsageError
from p2psync.mirror.chunked import CONTENT, chunk_order, seed
from p2psync.mirror.chunkexport import chunked_export, refuse_apply

Doc = pycrdt.Doc[Any]


def chunked(text: str) -> tuple[Doc, dict[str, Doc]]:
    chunks: dict[str, Doc] = {}
    root: Doc = pycrdt.Doc(client_id=1)
    seed(root, "f:1", lambda g: chunks.setdefault(g, pycrdt.Doc(client_id=1)), text, 64)
    return root, chunks


def exported_text(update: bytes) -> str:
    doc: Doc = pycrdt.Doc()
    doc.apply_update(update)
    return str(doc.get(CONTENT, type=pycrdt.Text))


def chunk_text(chunks: dict[str, Doc]) -> Any:
    return lambda guid: str(chunks[guid].get(CONTENT, type=pycrdt.Text)) if guid in chunks else ""


def test_the_export_holds_the_chunks_text_in_order() -> None:
    text = "".join(f"line {n} 中文 😀\n" for n in range(40))
    root, chunks = chunked(text)
    assert len(chunk_order(root, "f:1")) > 5
    assert exported_text(chunked_export(root, "f:1", chunk_text(chunks))) == text


def test_an_empty_file_or_a_chunk_not_here_yet_exports_what_is_known() -> None:
    root, chunks = chunked("")
    assert exported_text(chunked_export(root, "f:1", chunk_text(chunks))) == ""
    text = "abc\n" * 40
    root, chunks = chunked(text)
    first = chunk_order(root, "f:1")[0]
    missing = str(chunks.pop(first).get(CONTENT, type=pycrdt.Text))
    assert exported_text(chunked_export(root, "f:1", chunk_text(chunks))) == text[len(missing) :]


def test_apply_is_refused_with_one_sentence_naming_the_file() -> None:
    error = refuse_apply("docs/big.txt")
    assert isinstance(error, ChunkedDocError)
    assert isinstance(error, UsageError)  # exit 2
    message = str(error)
    assert message.startswith("docs/big.txt is a large text file")
    assert "\n" not in message
