"""Property tests for the mDNS TXT parser: anything from the LAN, valid or not."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from p2psync.discovery.announce import (
    HASH_KEYS,
    MAX_SHARE_HASHES,
    MalformedAnnouncementError,
    common_shares,
    encode_txt,
    parse_txt,
)
from p2psync.ids import DeviceId, ShareId

keys = st.sampled_from([b"v", b"id", b"in", b"pv", *(k.encode() for k in HASH_KEYS)]) | st.binary(
    max_size=20
)
values = st.none() | st.binary(max_size=300)
properties = st.dictionaries(keys, values, max_size=40)
devices = st.binary(min_size=32, max_size=32).map(DeviceId)
shares = st.lists(st.binary(min_size=16, max_size=16).map(ShareId), max_size=120)
instances = st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)
versions = st.lists(st.integers(1, 0xFFFF), min_size=1, max_size=16)


@given(properties)
def test_hostile_properties_parse_or_fail_with_the_typed_error(
    raw: dict[bytes, bytes | None],
) -> None:
    try:
        announcement = parse_txt(raw)
    except MalformedAnnouncementError as exc:
        assert str(exc)
        return
    assert len(announcement.share_hashes) <= MAX_SHARE_HASHES
    assert 1 <= len(announcement.versions) <= 16


@given(devices, instances, versions, shares, st.data())
def test_valid_records_round_trip_with_mutations_refused_or_parsed(
    device: DeviceId, instance: str, pv: list[int], held: list[ShareId], data: st.DataObject
) -> None:
    txt: dict[bytes, bytes | None] = {
        k.encode(): v for k, v in encode_txt(device, instance, pv, held).items()
    }
    announcement = parse_txt(txt)
    assert (announcement.device_id, announcement.instance_id) == (device, instance)
    assert announcement.versions == tuple(pv)
    assert set(common_shares(announcement, held)) == set(sorted(held)[:MAX_SHARE_HASHES])
    key = data.draw(st.sampled_from(sorted(txt)))
    txt[key] = data.draw(values)
    with contextlib.suppress(MalformedAnnouncementError):
        parse_txt(txt)
