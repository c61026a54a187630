"""The Yjs update scan under hypothesis: any bytes give a shape or a MalformedYjsError;
what the scan accepts never makes pycrdt panic on a doc that holds text, and a doc
fed only accepted, gap-free updates keeps a state vector that matches its content."""

from __future__ import annotations

import contextlib
from typing import Any

import pycrdt
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.errors import MalformedYjsError
from p2psync.protocol.yjs import decode_state_vector
from p2psync.protocol.yjs_update import scan_update
from p2psync.replica.doc import DocReplica
from p2psync.replica.validate import is_panic
from tests.support.updates import text_updates

UPDATES, _ = text_updates(40, client_id=1)
BASE = DocReplica("base", UPDATES).full_state()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    out = bytearray(draw(st.sampled_from(UPDATES)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 3))
        at = draw(st.integers(0, len(out)))
        if kind == 0 and at < len(out):
            out[at] = draw(st.integers(0, 255))
        elif kind == 1:
            del out[at:]
        elif kind == 2:
            out[at:at] = draw(st.binary(min_size=1, max_size=9))
        else:
            donor = draw(st.sampled_from(UPDATES))
            out[at:] = donor[draw(st.integers(0, len(donor))) :]
    return bytes(out)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300) | mutated())
def test_the_scan_raises_only_malformed_yjs_errors(update: bytes) -> None:
    with contextlib.suppress(MalformedYjsError):
        scan_update(update)


@settings(max_examples=1000, deadline=None)
@given(mutated())
def test_what_the_scan_accepts_without_a_gap_never_poisons_a_doc(update: bytes) -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(BASE)
    state = decode_state_vector(doc.get_state())
    try:
        shape = scan_update(update)
    except MalformedYjsError:
        return
    if shape.missing(state):
        return
    try:
        doc.apply_update(update)
    except ValueError:
        return
    except BaseException as exc:
        assert not is_panic(exc), f"panic on {update.hex()}"
        raise
    shape.advance(state)
    if not shape.internal:  # else the replica compares and rebuilds (test_validate.py)
        assert decode_state_vector(doc.get_state()) == state
    fresh: pycrdt.Doc[Any] = pycrdt.Doc()
    fresh.apply_update(doc.get_update())  # the doc still encodes, and its encoding loads
    assert str(fresh.get("content", type=pycrdt.Text)) == str(doc.get("content", type=pycrdt.Text))
