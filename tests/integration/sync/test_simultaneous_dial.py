"""Two real daemons (in process, loopback, real TLS) that dial each other at about the
same moment, round after round: every round each changes a doc while they are apart,
then both dial, so two links come up between them and the tie-break closes one. The
round ends only once each holds the other's new doc and both say they are in sync;
one stuck round fails the test. The link closed by the tie-break is no disconnection:
neither daemon says a peer went."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from p2psync.config import Member, ShareConfig, save_config
from p2psync.control.home import Home
from p2psync.daemon.configedits import load_or_init_config
from p2psync.daemon.daemon import Daemon
from p2psync.ids import ShareId
from p2psync.net.identity import load_or_create_identity
from tests.support.updates import text_updates

ROUNDS = 40
GAP_STEP_S = 0.002
"""The dial that wins the tie-break starts ``round * GAP_STEP_S`` after the other one,
so over the rounds the losing link carries more and more of the exchange (requests,
index, answers) before it is closed."""
ROUND_DEADLINE_S = 20.0
POLL_S = 0.02


def daemon_pair(tmp_path: Path) -> tuple[Daemon, Daemon, ShareId]:
    """Two daemons holding one share, the smaller device ID first. No peer address
    is configured (no dialer runs): the test dials."""
    share = ShareId.new()
    homes = [Home.resolve(tmp_path / name) for name in ("alice", "bob")]
    for home in homes:
        home.ensure()
    ids = [load_or_create_identity(home.identity_dir).device_id for home in homes]
    for me, home in enumerate(homes):
        config = load_or_init_config(home)
        members = (Member(ids[1 - me]),)
        config = config.with_share(ShareConfig(share, home.root / "share", members))
        save_config(home.config_path, config)
    a, b = (Daemon(home, listen="127.0.0.1:0", mdns=False) for home in homes)
    if b.identity.device_id < a.identity.device_id:
        a, b = b, a
    return a, b, share


async def dial(daemon: Daemon, other: Daemon, delay_s: float) -> None:
    """``daemon`` dials ``other`` after ``delay_s`` and runs the link it gets."""
    await trio.sleep(delay_s)
    device = other.identity.device_id
    channel, failures = await daemon.peers.dialer._connect(device, (other.listen_address,))
    assert channel is not None, failures
    daemon.peers.adopt(channel, "static")


def converged(a: Daemon, b: Daemon, share: ShareId, guids: list[str]) -> bool:
    ours, theirs = a.shares[share].sync, b.shares[share].sync
    for guid in guids:
        version = ours.replica.version(guid)
        if version is None or version != theirs.replica.version(guid):
            return False
    return ours.in_sync_with(b.identity.device_id) and theirs.in_sync_with(a.identity.device_id)


async def wait_converged(a: Daemon, b: Daemon, share: ShareId, guids: list[str], n: int) -> None:
    try:
        with trio.fail_after(ROUND_DEADLINE_S):
            while not converged(a, b, share, guids):
                await trio.sleep(POLL_S)
    except trio.TooSlowError:
        pytest.fail(f"round {n}: the daemons never converged after dialing each other")


async def apart(a: Daemon, b: Daemon) -> None:
    """Close every link between them and wait until both ends saw it go."""
    a.peers.disconnect(b.identity.device_id, "next round")
    b.peers.disconnect(a.identity.device_id, "next round")
    with trio.fail_after(ROUND_DEADLINE_S):
        while a.peers.links or b.peers.links:
            await trio.sleep(POLL_S)


def events_of(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The types of the events ``daemon`` publishes from now on, as they come."""
    seen: list[str] = []
    publish = daemon.events.publish

    def record(type_: str, **fields: Any) -> None:
        seen.append(type_)
        publish(type_, **fields)

    monkeypatch.setattr(daemon.events, "publish", record)
    return seen


@pytest.mark.slow
def test_daemons_dialing_each_other_at_once_converge_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, share = daemon_pair(tmp_path)  # a's dial wins the tie-break
    for daemon in (a, b):  # the addresses their member lists carry start no dialer: the test dials
        monkeypatch.setattr(
            daemon.peers.dialer, "members_told", lambda sender, pairs, members: False
        )
    links: list[tuple[int, int]] = []
    said = {id(daemon): events_of(daemon, monkeypatch) for daemon in (a, b)}
    gone: list[tuple[int, int]] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for daemon in (a, b):
                await nursery.start(daemon.run)
            guids: list[str] = []
            for n in range(ROUNDS):
                await apart(a, b)
                before = [said[id(d)].count("peer-disconnected") for d in (a, b)]
                for i, daemon in enumerate((a, b)):
                    guid = f"round-{n}-{i}"
                    update = text_updates(1, client_id=100 * n + i + 1, text=guid)[0][0]
                    await daemon.shares[share].local_update(guid, update)
                    guids.append(guid)
                async with trio.open_nursery() as dials:
                    dials.start_soon(dial, b, a, 0.0)  # the link that loses
                    dials.start_soon(dial, a, b, n * GAP_STEP_S)  # the one that wins
                await wait_converged(a, b, share, guids, n)
                links.append((len(a.peers.links), len(b.peers.links)))
                after = [said[id(d)].count("peer-disconnected") for d in (a, b)]
                gone.append((after[0] - before[0], after[1] - before[1]))
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert links == [(1, 1)] * ROUNDS
    assert gone == [(0, 0)] * ROUNDS  # the tie-break's closed link: no peer-disconnected
