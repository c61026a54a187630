"""Start and cancel LanDiscovery again and again while announcements arrive.

Run inside a testbed namespace: ``python tests/netns/lifecycle.py ROUNDS HOST SHARE_ID``.
Each round starts the real service (real zeroconf threads), waits until it reports a
device holding SHARE_ID, and cancels it at once, while zeroconf may still be
delivering events: the case where a browser callback waiting on Trio would
deadlock. Prints one JSON line per round (seconds to find, seconds to stop); a
round that does not finish within its deadline raises trio.TooSlowError (exit 1).
"""

from __future__ import annotations

import json
import sys
import time

import trio

from p2psync.discovery import LanDiscovery
from p2psync.discovery.mdns import STOP_TIMEOUT_S
from p2psync.ids import DeviceId, ShareId

FIND_DEADLINE_S = 10.0


async def one_round(host: str, share: ShareId) -> dict[str, float]:
    found = trio.Event()
    discovery = LanDiscovery(
        DeviceId.from_certificate_der(b"lifecycle %f" % time.time()), (host, 22999), (1,),
        held=lambda: [share], found=lambda device, addresses: found.set(), lost=lambda d: None,
    )  # fmt: skip
    started = time.monotonic()
    with trio.fail_after(FIND_DEADLINE_S + STOP_TIMEOUT_S):
        async with trio.open_nursery() as nursery:
            await nursery.start(discovery.run)
            await found.wait()
            seen = time.monotonic()
            nursery.cancel_scope.cancel()
    return {"find_s": seen - started, "stop_s": time.monotonic() - seen}


async def main(rounds: int, host: str, share: ShareId) -> None:
    for _ in range(rounds):
        print(json.dumps(await one_round(host, share)), flush=True)


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]), sys.argv[2], ShareId.parse(sys.argv[3]))
