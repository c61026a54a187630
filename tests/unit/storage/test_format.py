"""The record format: round trips, and every kind of damage is detected precisely."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from p2psync.storage import format as fmt

payloads = st.lists(st.binary(max_size=64), min_size=1, max_size=8)


def log_bytes(batches: list[list[bytes]]) -> bytes:
    return fmt.encode_header() + b"".join(fmt.encode_updates(b) for b in batches)


@given(st.lists(payloads, max_size=6))
def test_records_round_trip(batches: list[list[bytes]]) -> None:
    scan = fmt.scan_log(log_bytes(batches))
    assert scan.stop is None
    assert [r.updates for r in scan.records] == batches
    assert [r.type for r in scan.records] == [
        fmt.RecordType.UPDATE if len(b) == 1 else fmt.RecordType.UPDATES for b in batches
    ]


def test_snapshot_record_round_trips() -> None:
    data = fmt.encode_header() + fmt.encode_snapshot(b"state") + fmt.encode_updates([b"u"])
    records = fmt.scan_log(data).records
    assert [(r.type, r.updates) for r in records] == [
        (fmt.RecordType.SNAPSHOT, [b"state"]),
        (fmt.RecordType.UPDATE, [b"u"]),
    ]


SAMPLE = [[b"first update"], [b"a", b"batch", b"of three"], [b""], [b"last" * 10]]


def test_every_single_byte_flip_is_detected() -> None:
    data = log_bytes(SAMPLE)
    good = fmt.scan_log(data)
    starts = [r.offset for r in good.records]
    for i in range(len(data)):
        for bit in (0x01, 0x80):
            damaged = bytearray(data)
            damaged[i] ^= bit
            scan = fmt.scan_log(bytes(damaged))
            assert scan.stop is not None, f"flip at byte {i} went unnoticed"
            assert scan.stop.damage is fmt.Damage.CORRUPT, i
            # Nothing after the damaged byte is trusted; everything before it is kept.
            damaged_record = max([0, *(s for s in starts if s <= i)]) if i >= 16 else 0
            assert scan.end == damaged_record
            assert scan.records == good.records[: len(scan.records)]


def test_truncation_at_every_offset_keeps_exactly_the_whole_records() -> None:
    data = log_bytes(SAMPLE)
    records = fmt.scan_log(data).records
    for cut in range(len(data) + 1):
        scan = fmt.scan_log(data[:cut])
        kept = [r for r in records if r.end <= cut]
        assert scan.records == kept
        boundaries = {fmt.FILE_HEADER_BYTES, *(r.end for r in records)}
        if cut in boundaries:
            assert scan.stop is None
        else:
            assert scan.stop is not None
            assert scan.stop.damage is fmt.Damage.TORN
            assert scan.stop.offset == max([0, *(b for b in boundaries if b <= cut)])


def test_unknown_record_type_is_unsupported_not_corrupt() -> None:
    record = bytearray(fmt.encode_updates([b"x"]))
    record[4] = 99  # the type byte; recompute the header CRC as a newer writer would
    record[9:13] = fmt.crc32c(bytes(record[:9])).to_bytes(4, "little")
    scan = fmt.scan_log(fmt.encode_header() + bytes(record))
    assert scan.stop is not None
    assert scan.stop.damage is fmt.Damage.UNSUPPORTED
    assert scan.stop.offset == fmt.FILE_HEADER_BYTES


def test_newer_format_version_is_unsupported() -> None:
    scan = fmt.scan_log(fmt.encode_header(version=fmt.FORMAT_VERSION + 1))
    assert scan.stop is not None
    assert scan.stop.damage is fmt.Damage.UNSUPPORTED


def test_oversized_length_with_valid_header_crc_is_corrupt() -> None:
    fields = fmt._RECORD_FIELDS.pack(fmt.MAX_RECORD_BYTES + 1, 1, 0)
    header = fields + fmt.crc32c(fields).to_bytes(4, "little")
    scan = fmt.scan_log(fmt.encode_header() + header)
    assert scan.stop is not None
    assert scan.stop.damage is fmt.Damage.CORRUPT


def test_batch_payload_that_is_not_a_list_of_bytes_is_corrupt() -> None:
    record = fmt.encode_record(b"\x92\x01\x02", fmt.RecordType.UPDATES)  # msgpack [1, 2]
    scan = fmt.scan_log(fmt.encode_header() + record)
    assert scan.stop is not None
    assert scan.stop.damage is fmt.Damage.CORRUPT
    assert "batch" in scan.stop.reason


@given(st.binary(max_size=300))
def test_scanning_arbitrary_bytes_never_raises(data: bytes) -> None:
    scan = fmt.scan_log(data)
    assert scan.end <= max(len(data), 0)
    scan = fmt.scan_log(fmt.encode_header() + data)
    assert scan.end <= len(data) + fmt.FILE_HEADER_BYTES
