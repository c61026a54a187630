"""The docs of a set that are a file's (``status``'s files expected, received, to
send, sent and unasked): counted without a call per doc, they equal a count of each
doc told apart by ``_is_file_doc``."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psync.daemon import sharestatus
from p2psync.daemon.shares import ShareService
from p2psync.daemon.sharestatus import transfer_status
from p2psync.mirror.chunked import CHUNK_GUID
from p2psync.mirror.manifest import MANIFEST_GUID

GUIDS = st.one_of(
    st.text(max_size=40),
    st.from_regex(CHUNK_GUID, fullmatch=True),
    st.text(alphabet="c:0123456789abcdefg", max_size=36),  # chunk-like, some not chunks
    st.just(MANIFEST_GUID),
    st.uuids().map(lambda u: u.hex),
)


@given(st.sets(GUIDS, max_size=30))
def test_the_files_among_docs_equal_a_count_of_each_doc(guids: set[str]) -> None:
    assert sharestatus._files_among(guids) == sum(map(sharestatus._is_file_doc, guids))


@given(st.from_regex(CHUNK_GUID, fullmatch=True))
def test_every_chunk_guid_begins_with_the_prefix_looked_for(guid: str) -> None:
    assert guid.startswith(sharestatus.CHUNK_PREFIX)


def test_a_file_doc_is_not_matched_against_the_chunk_guid(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first sync's transfer holds every doc of the share, counted five times a
    status call: only a doc whose guid begins as a chunk's is matched."""
    matched: list[str] = []
    chunk = CHUNK_GUID

    class Counting:
        def fullmatch(self, guid: str) -> re.Match[str] | None:
            matched.append(guid)
            return chunk.fullmatch(guid)

    monkeypatch.setattr(sharestatus, "CHUNK_GUID", Counting())
    guids = {f"{n:032x}" for n in range(1000)} | {MANIFEST_GUID, "c:" + "0" * 32}
    sync = SimpleNamespace(
        transfer=lambda peer: (guids, guids, 0, 0),
        sending=lambda peer: ({}, set(), set()),
        unasked=lambda peer: set(),
        sizes=lambda guid: None,
    )
    status = transfer_status(cast(ShareService, SimpleNamespace(sync=sync)), "peer")
    assert (status["files_expected"], status["files_received"]) == (1000, 1000)
    assert matched == ["c:" + "0" * 32] * 2
