"""Only send-receive members change who is in a share: a receive-only member and an
authenticated non-member both fail to add, remove or promote anyone."""

from __future__ import annotations

from pathlib import Path

import trio

from p2psync.ids import DeviceId
from p2psync.protocol import connection as proto
from p2psync.protocol import wire
from p2psync.protocol.messages import MemberEntry, MemberList
from tests.support.daemons import setup, wait_for
from tests.support.hostile import Mallory, scene_at
from tests.support.probes import members

BIG_CLOCK = 10**12


def send_member_list(mallory: Mallory, address: str, server: DeviceId, message: MemberList) -> bool:
    """Send ``message`` then a Ping; True once the Pong came back, so the daemon has
    handled the list (one receiver task per connection, in order)."""

    async def main() -> bool:
        channel = await mallory.connect(address, server)
        try:
            await channel.send(message)
            await channel.send(wire.Ping())
            with trio.fail_after(20):
                while not isinstance(await channel.next_event(), proto.PongReceived):
                    pass
            return True
        finally:
            await trio.aclose_forcefully(channel.stream)

    return trio.run(main)


def test_receive_only_members_and_non_members_cannot_inject_members(tmp_path: Path) -> None:
    with scene_at(tmp_path) as scene:
        alice, bob, share = scene.alice, scene.bob, str(scene.share)
        mallory_id = str(scene.mallory.id)
        setup(alice.home, "share", "member", "add", share, mallory_id, "--mode", "receive-only")
        wait_for(lambda: members(bob, share).get(mallory_id) == "receive-only", "the mode at bob")
        eve = DeviceId(b"e" * 32)
        hostile = MemberList(scene.share.raw, (
            MemberEntry(eve.digest, "send-receive", BIG_CLOCK, scene.mallory.id.digest),
            MemberEntry(scene.mallory.id.digest, "send-receive", BIG_CLOCK, eve.digest),
            MemberEntry(DeviceId.parse(bob.id).digest, "removed", BIG_CLOCK, eve.digest),
        ))  # fmt: skip
        before = members(alice, share)
        assert send_member_list(scene.mallory, alice.address, scene.alice_id, hostile)
        assert members(alice, share) == before

        # An authenticated device that is no member of the share at all.
        outsider = Mallory(tmp_path / "outsider")
        setup(alice.home, "peer", "add", str(outsider.id), "127.0.0.1:9")
        assert send_member_list(outsider, alice.address, scene.alice_id, hostile)
        assert members(alice, share) == before
        assert str(eve) not in members(bob, share)
        assert members(bob, share).get(mallory_id) == "receive-only"
