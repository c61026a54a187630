"""Who may connect: unknown, missing, mismatched, own and replayed credentials get no
share data in either direction from a live daemon (docs/security.md).

Each hand-built client sends an Update for the share right behind its Auth, without
waiting for the answer: if the daemon ever read it before refusing, the doc would show.
"""

from __future__ import annotations

import json
from pathlib import Path

import pycrdt
import pytest
import trio

from p2psync.ids import DeviceId
from p2psync.net.identity import load_or_create_identity
from p2psync.net.transport import HandshakeError
from p2psync.protocol.messages import Update
from tests.support.daemons import cli, setup, wait_for
from tests.support.hostile import (
    Mallory,
    RawOutcome,
    Scene,
    folder_digest,
    frame_of,
    raw_session,
    signed_by,
)


def smuggled(scene: Scene) -> bytes:
    """An Update frame that would append "smuggled" to notes.md if it were applied."""
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=666)
    state = scene.alice.export("notes.md")
    assert state is not None
    doc.apply_update(state)
    before = doc.get_state()
    text = doc.get("content", type=pycrdt.Text)
    text.insert(len(text), "smuggled")
    return frame_of(Update(scene.share.raw, "notes.md", [doc.get_update(before)]))


def assert_nothing_exchanged(scene: Scene, outcome: RawOutcome, before: dict[str, str]) -> None:
    assert not outcome.established
    assert outcome.share_data == []
    assert scene.alice_alive()
    assert folder_digest(scene.alice.folder) == before
    assert scene.alice.text("notes.md") == "honest text. "


def test_an_unknown_device_is_pending_and_gets_nothing(scene: Scene, tmp_path: Path) -> None:
    stranger = Mallory(tmp_path / "stranger")
    before = folder_digest(scene.alice.folder)
    outcome = raw_session(
        scene.alice.address, signed_by(stranger.identity), after_auth=smuggled(scene)
    )
    assert outcome.refusal == "unknown-device"
    assert_nothing_exchanged(scene, outcome, before)
    assert str(stranger.id) in scene.alice.status()["pending"]


@pytest.mark.parametrize("proof", ["no certificate", "not a certificate", "impersonation"])
def test_no_valid_proof_no_data(scene: Scene, proof: str, tmp_path: Path) -> None:
    stranger = Mallory(tmp_path / "stranger").identity
    mallory = scene.mallory.identity

    def prove(transcript: bytes) -> tuple[bytes, bytes]:
        if proof == "no certificate":
            return b"", b""
        if proof == "not a certificate":
            return b"\x30" * 300, b"\x30" * 70
        return mallory.cert_der, stranger.sign(transcript)  # a member's cert, another key

    before = folder_digest(scene.alice.folder)
    outcome = raw_session(scene.alice.address, prove, after_auth=smuggled(scene))
    assert outcome.refusal == "bad-proof"
    assert_nothing_exchanged(scene, outcome, before)


def test_a_replayed_proof_is_refused(scene: Scene) -> None:
    mallory = scene.mallory.identity
    first = raw_session(scene.alice.address, signed_by(mallory))
    assert first.established  # mallory is a member: the honest proof works
    recorded = mallory.sign(first.transcript)
    before = folder_digest(scene.alice.folder)
    replay = raw_session(
        scene.alice.address,
        lambda transcript: (mallory.cert_der, recorded),
        after_auth=smuggled(scene),
    )
    assert replay.transcript != first.transcript  # fresh nonces on each connection
    assert replay.refusal == "bad-proof"
    assert_nothing_exchanged(scene, replay, before)


def test_a_connection_to_ourselves_is_dropped(scene: Scene) -> None:
    own = load_or_create_identity(scene.alice.home / "identity")
    before = folder_digest(scene.alice.folder)
    outcome = raw_session(scene.alice.address, signed_by(own), after_auth=smuggled(scene))
    assert outcome.refusal == "self"
    assert_nothing_exchanged(scene, outcome, before)


def test_a_certificate_that_is_not_the_dialed_device_is_refused(
    scene: Scene, tmp_path: Path
) -> None:
    # Our own client code: bob's address answers with bob's certificate, not alice's.
    with pytest.raises(HandshakeError) as refused:
        trio.run(scene.mallory.connect, scene.bob.address, scene.alice_id)
    assert refused.value.code == "wrong-device"
    # The daemon's dialer: alice told that a stranger lives at bob's address.
    stranger = Mallory(tmp_path / "stranger2")
    setup(scene.alice.home, "peer", "add", str(stranger.id), scene.bob.address)

    def stranger_error() -> str:
        peers = json.loads(cli(scene.alice.home, "peers", "--json").stdout)["peers"]
        return next((p["last_error"] for p in peers if p["device_id"] == str(stranger.id)), "")

    wait_for(lambda: "not" in stranger_error(), "alice refusing bob's certificate")
    assert str(DeviceId.parse(scene.bob.id).short()) in stranger_error()
    assert scene.alice.status()["connected"] == [scene.bob.id]
