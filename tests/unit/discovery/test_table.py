"""The peer table: changes reported, expiry, and its bounds under a flood."""

from __future__ import annotations

import tracemalloc

from p2psync.discovery.announce import Announcement
from p2psync.discovery.table import MAX_SERVICES_PER_DEVICE, Change, PeerTable
from p2psync.ids import DeviceId


def device(n: int) -> DeviceId:
    return DeviceId(n.to_bytes(32, "big"))


def seen(n: int, instance: str = "0" * 16) -> Announcement:
    return Announcement(device(n), instance, (1,), frozenset())


def test_a_sighting_is_new_then_same_then_moved_then_restarted() -> None:
    table = PeerTable()
    assert table.saw("a", seen(1), ("10.0.0.1:1",), relevant=True, now=0) is Change.NEW
    assert table.saw("a", seen(1), ("10.0.0.1:1",), relevant=True, now=1) is Change.SAME
    assert table.saw("a", seen(1), ("10.0.0.2:1",), relevant=True, now=2) is Change.MOVED
    assert table.saw("a", seen(1, "1" * 16), ("10.0.0.2:1",), relevant=True, now=3) is (
        Change.RESTARTED
    )
    assert table.addresses(device(1)) == ("10.0.0.2:1",)


def test_addresses_of_a_device_gather_its_services_newest_first() -> None:
    table = PeerTable()
    table.saw("old", seen(1), ("10.0.0.1:1",), relevant=True, now=0)
    table.saw("new", seen(1), ("10.0.0.2:1", "10.0.0.1:1"), relevant=True, now=1)
    table.saw("other", seen(2), ("10.0.0.3:1",), relevant=True, now=2)
    assert table.addresses(device(1)) == ("10.0.0.2:1", "10.0.0.1:1")
    assert table.addresses(device(3)) == ()


def test_services_not_seen_for_the_expiry_are_dropped() -> None:
    table = PeerTable(expiry_s=10)
    table.saw("a", seen(1), (), relevant=True, now=0)
    table.saw("b", seen(2), (), relevant=True, now=0)
    table.touch("b", now=8)
    assert table.expire(now=5) == []
    assert [e.name for e in table.expire(now=11)] == ["a"]
    assert [e.name for e in table.entries()] == ["b"]
    assert [e.name for e in table.expire(now=19)] == ["b"]
    assert len(table) == 0


def test_a_goodbye_removes_the_service() -> None:
    table = PeerTable()
    table.saw("a", seen(1), (), relevant=True, now=0)
    entry = table.remove("a")
    assert entry is not None
    assert entry.device_id == device(1)
    assert table.remove("a") is None


def test_a_full_table_evicts_strangers_before_members() -> None:
    table = PeerTable(max_entries=3)
    table.saw("member", seen(1), (), relevant=True, now=0)
    table.saw("stranger1", seen(2), (), relevant=False, now=1)
    table.saw("stranger2", seen(3), (), relevant=False, now=2)
    assert table.saw("member2", seen(4), (), relevant=True, now=3) is Change.NEW
    assert {e.name for e in table.entries()} == {"member", "stranger2", "member2"}


def test_a_table_full_of_members_refuses_strangers() -> None:
    table = PeerTable(max_entries=2)
    table.saw("m1", seen(1), (), relevant=True, now=0)
    table.saw("m2", seen(2), (), relevant=True, now=0)
    assert table.saw("stranger", seen(3), (), relevant=False, now=1) is None
    assert table.dropped == 1
    assert {e.name for e in table.entries()} == {"m1", "m2"}


def test_one_device_id_claims_few_services() -> None:
    table = PeerTable()
    for i in range(50):
        table.saw(f"replay{i}", seen(1), (f"10.0.1.{i}:1",), relevant=True, now=i)
    assert len(table) == MAX_SERVICES_PER_DEVICE
    assert table.addresses(device(1))[0] == "10.0.1.49:1"


def flood(table: PeerTable, start: int, count: int, *, relevant: bool) -> None:
    for n in range(start, start + count):
        table.saw(f"fake-{n}", seen(n), (f"10.1.{n % 250}.{n % 251}:22070",), relevant=relevant,
                  now=float(n))  # fmt: skip


def test_ten_thousand_fake_announcements_do_not_grow_memory() -> None:
    table = PeerTable(max_entries=512)
    table.saw("member", seen(0), ("10.0.0.9:1",), relevant=True, now=0)
    tracemalloc.start()
    try:
        flood(table, 1, 1_000, relevant=False)  # full: every entry now allocated while traced
        before = tracemalloc.get_traced_memory()[0]
        flood(table, 1_001, 10_000, relevant=False)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(table) == 512
    assert table.addresses(device(0)) == ("10.0.0.9:1",)  # the member survived the flood
    assert grown < 64 * 1024, f"the table grew by {grown} bytes"
