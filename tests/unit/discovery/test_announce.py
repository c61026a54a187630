"""The TXT record: round trips, limits, and what salted share hashes reveal."""

from __future__ import annotations

import pytest

from p2psync.discovery.announce import (
    MAX_SHARE_HASHES,
    MAX_TXT_VALUE_BYTES,
    MalformedAnnouncementError,
    common_shares,
    encode_txt,
    new_instance_id,
    parse_txt,
    share_hash,
)
from p2psync.ids import DeviceId, ShareId

ALICE = DeviceId(bytes(range(32)))
BOB = DeviceId(bytes(range(1, 33)))


def as_properties(txt: dict[str, bytes]) -> dict[bytes, bytes | None]:
    """What zeroconf hands a browser: bytes keys."""
    return {key.encode(): value for key, value in txt.items()}


def test_an_announcement_round_trips() -> None:
    shares = [ShareId.new() for _ in range(3)]
    instance = new_instance_id()
    announcement = parse_txt(as_properties(encode_txt(ALICE, instance, (1, 2), shares)))
    assert announcement.device_id == ALICE
    assert announcement.instance_id == instance
    assert announcement.versions == (1, 2)
    assert len(announcement.share_hashes) == 3


def test_every_txt_entry_fits_one_dns_string() -> None:
    txt = encode_txt(ALICE, new_instance_id(), (1,), [ShareId.new() for _ in range(500)])
    assert all(len(key) + 1 + len(value) <= MAX_TXT_VALUE_BYTES for key, value in txt.items())
    assert len(parse_txt(as_properties(txt)).share_hashes) == MAX_SHARE_HASHES


def test_a_holder_recognises_a_common_share_and_no_other() -> None:
    common, only_alice, only_bob = ShareId.new(), ShareId.new(), ShareId.new()
    txt = encode_txt(ALICE, new_instance_id(), (1,), [common, only_alice])
    announcement = parse_txt(as_properties(txt))
    assert common_shares(announcement, [common, only_bob]) == [common]
    assert common_shares(announcement, [only_bob]) == []


def test_hashes_change_with_the_instance_and_the_device() -> None:
    share = ShareId.new()
    a, b = new_instance_id(), new_instance_id()
    assert a != b
    assert share_hash(share, a, ALICE) != share_hash(share, b, ALICE)  # not followable
    assert share_hash(share, a, ALICE) != share_hash(share, a, BOB)  # not comparable
    assert share.raw not in b"".join(encode_txt(ALICE, a, (1,), [share]).values())


def test_unknown_keys_are_ignored() -> None:
    properties = as_properties(encode_txt(ALICE, new_instance_id(), (1,), []))
    properties[b"future"] = b"something"
    properties[b"flag"] = None
    assert parse_txt(properties).device_id == ALICE


def broken(key: str, value: bytes | None) -> dict[bytes, bytes | None]:
    properties = as_properties(encode_txt(ALICE, "0123456789abcdef", (1,), [ShareId.new()]))
    if value is None:
        del properties[key.encode()]
    else:
        properties[key.encode()] = value
    return properties


@pytest.mark.parametrize(
    ("properties", "words"),
    [
        (broken("v", b"2"), "version 1"),
        (broken("v", None), "no 'v'"),
        (broken("id", b"not-a-device"), "device ID"),
        (broken("id", b"\xff" * 10), "device ID"),
        (broken("id", None), "no 'id'"),
        (broken("in", b"0123"), "instance ID"),
        (broken("in", b"0123456789ABCDEF"), "instance ID"),
        (broken("pv", b"1,x"), "protocol versions"),
        (broken("pv", b"0"), "out of range"),
        (broken("pv", b"70000"), "out of range"),
        (broken("pv", b",".join([b"1"] * 17)), "protocol versions"),
        (broken("h0", b"1234567"), "share hashes"),
        (broken("h1", b"x" * 248), "share hashes"),
        ({b"k%d" % i: b"" for i in range(33)}, "more than"),
        ({b"v": b"1", b"x": b"y" * 300}, "too long"),
    ],
)
def test_malformed_records_are_refused_with_a_reason(
    properties: dict[bytes, bytes | None], words: str
) -> None:
    with pytest.raises(MalformedAnnouncementError, match=words):
        parse_txt(properties)
