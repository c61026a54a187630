"""A hostile member and presence on a live daemon: a malformed awareness frame closes
its link, a flood of valid ones is dropped past the peer's bound (what the daemon
holds, and shows its apps, stays bounded), and the daemon goes on serving."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import trio

from p2psync.apps.presence import ENTRY_COST, PresenceLimits
from p2psync.protocol import connection as proto
from p2psync.protocol.messages import (
    MAX_AWARENESS_ENTRIES,
    MAX_AWARENESS_STATE_BYTES,
    Awareness,
    AwarenessState,
    Ping,
)
from tests.integration.apps.yclient import connect, until
from tests.support.apps import doc_url
from tests.support.daemons import wait_for
from tests.support.hostile import frame_of, scene_at

BIG = '"' + "x" * (MAX_AWARENESS_STATE_BYTES - 2) + '"'
FLOOD_FRAMES = 20


def test_hostile_presence_is_refused_or_bounded(tmp_path: Path) -> None:
    with scene_at(tmp_path) as scene:
        alice = scene.alice
        found = doc_url(alice, "notes.md")
        guid = unquote(found["room"].partition("/")[2])
        share = scene.share.raw

        def frame(*states: AwarenessState) -> bytes:
            return frame_of(Awareness(share, guid, states))

        malformed = [
            frame(AwarenessState(1, 1, "{not json")),
            frame(AwarenessState(1, 1, "NaN")),
            frame(AwarenessState(1, 1, BIG[:-1] + 'xx"')),  # one byte over the limit
            frame(*(AwarenessState(n, 1, "{}") for n in range(MAX_AWARENESS_ENTRIES + 1))),
        ]
        report = scene.mallory.feed(alice.address, scene.alice_id, malformed, parallel=1)
        assert report.goodbyes == {"bad-message": len(malformed)}

        # 20 frames of 64 states of 16 KiB each: 20 MiB of presence on one link.
        flood = b"".join(
            frame(*(AwarenessState(f * 100 + n, 1, BIG) for n in range(MAX_AWARENESS_ENTRIES)))
            for f in range(FLOOD_FRAMES)
        )

        async def flood_then_look() -> dict[int, object]:
            channel = await scene.mallory.connect(alice.address, scene.alice_id)
            try:
                # The daemon reads a link's frames in order: its Pong says it took them.
                await channel.stream.send_all(flood + frame_of(Ping()))
                with trio.fail_after(120):
                    while not isinstance(await channel.next_event(), proto.PongReceived):
                        pass
            finally:
                await trio.aclose_forcefully(channel.stream)
            async with connect(found["url"], client_id=99, max_message_size=2**24) as app:
                await until(lambda: bool(app.peers_presence()), "mallory's states in the app")
                return app.peers_presence()

        held = trio.run(flood_then_look)
        assert scene.alice_alive()
        bound = PresenceLimits().peer_bytes // (MAX_AWARENESS_STATE_BYTES + ENTRY_COST)
        assert 0 < len(held) <= bound < FLOOD_FRAMES * MAX_AWARENESS_ENTRIES

        scene.bob.apply_text("notes.md", "still syncing. ", client_id=2)
        wait_for(lambda: alice.text("notes.md") == "honest text. still syncing. ", "bob's edit")
