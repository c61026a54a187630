"""A pending device is listed (status, peers, control API), never let in by itself,
and accepted by ``share member add``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.daemons import cli, setup
from tests.support.hostile import Mallory, raw_session, scene_at, signed_by


def test_a_pending_device_is_listed_refused_then_accepted_by_member_add(tmp_path: Path) -> None:
    with scene_at(tmp_path) as scene:
        alice, share = scene.alice, str(scene.share)
        stranger = Mallory(tmp_path / "stranger")
        for _ in range(2):  # asking again does not get it in
            outcome = raw_session(alice.address, signed_by(stranger.identity))
            assert outcome.refusal == "unknown-device"
        peers = json.loads(cli(alice.home, "peers", "--json").stdout)
        assert [p["device_id"] for p in peers["pending"]] == [str(stranger.id)]
        assert alice.status()["pending"] == [str(stranger.id)]

        setup(alice.home, "share", "member", "add", share, str(stranger.id))
        assert alice.status()["pending"] == []
        accepted = raw_session(alice.address, signed_by(stranger.identity))
        assert accepted.established
        assert accepted.refusal != "unknown-device"
