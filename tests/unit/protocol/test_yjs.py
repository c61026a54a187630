"""Yjs state vectors and delete sets, checked against what pycrdt really writes."""

from __future__ import annotations

import pycrdt
import pytest

from p2psync.errors import MalformedYjsError, RemoteProtocolError
from p2psync.protocol.yjs import (
    MAX_CLIENTS,
    MAX_YJS_INT,
    check_delete_set_update,
    covers,
    decode_state_vector,
    delete_set_digest,
    encode_state_vector,
    is_behind,
)


def text_doc(client_id: int, text: str = "") -> pycrdt.Doc[pycrdt.Text]:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=client_id)
    doc.get("content", type=pycrdt.Text).insert(0, text)
    return doc


def merged(*docs: pycrdt.Doc[pycrdt.Text]) -> pycrdt.Doc[pycrdt.Text]:
    out: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=999)
    for doc in docs:
        out.apply_update(doc.get_update())
    return out


def test_decodes_what_pycrdt_writes() -> None:
    assert decode_state_vector(pycrdt.Doc().get_state()) == {}
    a, b, c = text_doc(1, "abc"), text_doc(2**32 - 1, "hello"), text_doc(2**53 - 1, "x")
    assert decode_state_vector(merged(a, b, c).get_state()) == {1: 3, 2**32 - 1: 5, 2**53 - 1: 1}


def test_comparison_ignores_client_order() -> None:
    a, b = text_doc(5, "aa"), text_doc(300, "bbb")
    one, two = merged(a, b), merged(b, a)
    assert decode_state_vector(one.get_state()) == decode_state_vector(two.get_state())
    reordered = b"\x02" + b"".join(_pairs([(300, 3), (5, 2)]))
    assert decode_state_vector(reordered) == decode_state_vector(one.get_state())


def _pairs(pairs: list[tuple[int, int]]) -> list[bytes]:
    return [encode_state_vector({client: clock})[1:] for client, clock in pairs]


def test_encode_round_trips_and_pycrdt_accepts_it() -> None:
    doc = merged(text_doc(1, "abc"), text_doc(70_000, "de"))
    vector = decode_state_vector(doc.get_state())
    encoded = encode_state_vector(vector)
    assert decode_state_vector(encoded) == vector
    assert doc.get_update(encoded) == doc.get_update(doc.get_state())  # nothing missing


def test_encode_refuses_out_of_range_values() -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_state_vector({MAX_YJS_INT + 1: 0})
    with pytest.raises(ValueError, match="out of range"):
        encode_state_vector({1: -1})


def test_is_behind_and_covers() -> None:
    ours = decode_state_vector(text_doc(1, "ab").get_state())
    theirs = decode_state_vector(merged(text_doc(1, "ab"), text_doc(2, "c")).get_state())
    assert is_behind(ours, theirs)
    assert not is_behind(theirs, ours)
    assert covers(theirs, ours)
    assert not is_behind(ours, dict(ours))
    assert is_behind({1: 3}, {2: 1})
    assert is_behind({2: 1}, {1: 3})  # concurrent: each is behind the other
    assert not is_behind({1: 3, 2: 0}, {1: 3})
    assert not is_behind({1: 3}, {1: 3, 2: 0})  # a zero clock is nothing


def test_malformed_state_vectors_are_remote_protocol_errors() -> None:
    for data in (b"", b"\x01", b"\x01\x01", b"\x00\x00", b"\x02\x01\x01\x01\x01"):
        with pytest.raises(MalformedYjsError) as info:
            decode_state_vector(data)
        assert isinstance(info.value, RemoteProtocolError)
    at_limit = dict.fromkeys(range(MAX_CLIENTS), 1)
    assert decode_state_vector(encode_state_vector(at_limit)) == at_limit
    too_many = b"\xa1\x8d\x06"  # MAX_CLIENTS + 1 as a varuint, refused before the rest
    with pytest.raises(MalformedYjsError, match="over the limit"):
        decode_state_vector(too_many)
    with pytest.raises(MalformedYjsError, match="over 2"):
        decode_state_vector(b"\x01\x80\x80\x80\x80\x80\x80\x80\x10\x00")  # 2**53


def deletions(client_id: int, text: str, cuts: list[tuple[int, int]]) -> pycrdt.Doc[pycrdt.Text]:
    doc = text_doc(client_id, text)
    content = doc.get("content", type=pycrdt.Text)
    for start, end in cuts:
        del content[start:end]
    return doc


def digest_of(doc: pycrdt.Doc[pycrdt.Text]) -> bytes:
    return delete_set_digest(doc.get_update(doc.get_state()))


def test_delete_set_digest_tells_deletes_apart() -> None:
    plain = text_doc(1, "abcdef")
    cut = merged(plain)
    del cut.get("content", type=pycrdt.Text)[1:3]
    assert decode_state_vector(plain.get_state()) == decode_state_vector(cut.get_state())
    assert digest_of(plain) != digest_of(cut)  # same state vector, different content
    assert digest_of(merged(cut)) == digest_of(cut)


def test_delete_set_digest_is_canonical() -> None:
    # one client, ranges split, unsorted and overlapping, versus the merged form
    split = b"\x00\x01\x07\x03" + b"\x04\x02" + b"\x00\x02" + b"\x02\x03"
    whole = b"\x00\x01\x07\x01\x00\x06"
    assert delete_set_digest(split) == delete_set_digest(whole)
    two_clients = b"\x00\x02\x09\x01\x00\x01\x07\x01\x00\x06"
    swapped = b"\x00\x02\x07\x01\x00\x06\x09\x01\x00\x01"
    assert delete_set_digest(two_clients) == delete_set_digest(swapped)
    empty_ranges = b"\x00\x02\x07\x01\x00\x06\x09\x01\x05\x00"
    assert delete_set_digest(empty_ranges) == delete_set_digest(whole)
    assert delete_set_digest(b"\x00\x00") == delete_set_digest(b"\x00\x01\x04\x00")


def test_delete_set_check_accepts_pycrdt_output_and_refuses_the_rest() -> None:
    doc = deletions(1, "hello world", [(0, 2), (3, 5)])
    check_delete_set_update(doc.get_update(doc.get_state()))
    bad = [b"", b"\x01\x00", b"\x00\x01\x01\x01", b"\x00\x00\x00", b"\x00\x01\x01\x02\x00\x01"]
    for data in bad:
        with pytest.raises(MalformedYjsError):
            check_delete_set_update(data)
