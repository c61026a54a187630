"""Editing traces become Yjs updates that rebuild exactly the trace's final text."""

from __future__ import annotations

from bench.traces import trace_updates
from p2psync.replica.doc import DocReplica


def test_seph_blog_trace_with_non_ascii_edits_replays_exactly() -> None:
    """Its patches insert non-ASCII text: code point positions must become byte offsets."""
    updates, end_content = trace_updates("seph-blog1")
    assert len(updates) >= 137_993
    assert DocReplica("blog", updates).text() == end_content
