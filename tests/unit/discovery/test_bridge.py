"""The zeroconf side of the bridge without a network: the inbox's bounds and what
a resolved service turns into (found, ignored, refused), fed with real ServiceInfo."""

from __future__ import annotations

import trio
import trio.testing
from zeroconf import ServiceInfo, ServiceStateChange

from p2psync.discovery.announce import SERVICE_TYPE, encode_txt, new_instance_id
from p2psync.discovery.mdns import MAX_INBOX, LanDiscovery, _Inbox
from p2psync.ids import DeviceId, ShareId

US = DeviceId(bytes(32))
PEER = DeviceId(bytes(range(32)))
SHARED = ShareId(bytes(16))


class Recorder:
    def __init__(self) -> None:
        self.found: list[tuple[DeviceId, tuple[str, ...]]] = []
        self.lost: list[DeviceId] = []

    def discovery(self) -> LanDiscovery:
        return LanDiscovery(
            US, ("10.77.0.1", 22070), (1,), held=lambda: [SHARED],
            found=lambda d, a: self.found.append((d, a)), lost=self.lost.append,
        )  # fmt: skip


def info(name: str, device: DeviceId, shares: list[ShareId], address: str) -> ServiceInfo:
    return ServiceInfo(
        SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", port=22070,
        properties=encode_txt(device, new_instance_id(), (1,), shares),
        parsed_addresses=[address],
    )  # fmt: skip


async def test_the_inbox_keeps_the_latest_state_per_name_and_wakes_once() -> None:
    wakes: list[int] = []
    inbox = _Inbox(trio.lowlevel.current_trio_token(), lambda: wakes.append(1))
    inbox.put("a", ServiceStateChange.Added)
    inbox.put("a", ServiceStateChange.Removed)
    inbox.put("b", ServiceStateChange.Added)
    await trio.testing.wait_all_tasks_blocked()
    assert wakes == [1]
    assert inbox.drain() == {"a": ServiceStateChange.Removed, "b": ServiceStateChange.Added}
    inbox.close()
    inbox.put("c", ServiceStateChange.Added)
    assert inbox.drain() == {}


async def test_ten_thousand_names_fill_the_inbox_only_to_its_bound() -> None:
    inbox = _Inbox(trio.lowlevel.current_trio_token(), lambda: None)
    for n in range(10_000):
        inbox.put(f"fake-{n}.{SERVICE_TYPE}", ServiceStateChange.Added)
    assert len(inbox.drain()) == MAX_INBOX
    assert inbox.dropped == 10_000 - MAX_INBOX


def test_a_member_is_found_with_its_addresses() -> None:
    recorder = Recorder()
    discovery = recorder.discovery()
    discovery._saw("peer", info("peer", PEER, [SHARED], "10.77.0.2"))
    assert recorder.found == [(PEER, ("10.77.0.2:22070",))]
    discovery._saw("peer", info("peer", PEER, [SHARED], "10.77.0.2"))  # new instance ID
    assert len(recorder.found) == 2


def test_a_device_sharing_nothing_is_listed_but_not_found() -> None:
    recorder = Recorder()
    discovery = recorder.discovery()
    discovery._saw("stranger", info("stranger", PEER, [ShareId.new()], "10.77.0.3"))
    assert recorder.found == []
    assert [row["shares_in_common"] for row in discovery.snapshot()] == [False]


def test_our_own_announcement_and_garbage_are_ignored() -> None:
    recorder = Recorder()
    discovery = recorder.discovery()
    discovery._saw("self", info("self", US, [SHARED], "10.77.0.1"))
    garbage = ServiceInfo(SERVICE_TYPE, f"junk.{SERVICE_TYPE}", port=1, properties={"v": "9"})
    discovery._saw("junk", garbage)
    assert recorder.found == []
    assert len(discovery.table) == 0
    assert discovery.malformed == 1


def test_a_flood_of_fake_members_keeps_the_table_bounded() -> None:
    recorder = Recorder()
    discovery = recorder.discovery()
    for n in range(10_000):
        fake = DeviceId(n.to_bytes(32, "big"))
        discovery._saw(f"fake{n}", info(f"fake{n}", fake, [ShareId.new()], "10.77.0.9"))
    assert len(discovery.table) == discovery.table.max_entries
    assert recorder.found == []
