"""Invite and join between real daemons, and every way a join must fail.

Alice invites bob into a share she holds with carol: bob joins, gets the share's
content, carol learns from alice that bob is a member and accepts him. Wrong,
expired, reused and mistyped codes, a replayed proof and a proof made for another
session get nothing, and change nothing on either side: not the joiner's config,
state, peers or folders, whichever way the join fails.
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pycrdt
import pytest

from p2psync.ids import DeviceId, ShareId
from p2psync.invitecode import InviteCode, parse_invite
from p2psync.net.identity import load_or_create_identity
from p2psync.net.invitekey import invite_verifier, sign_join
from p2psync.protocol.auth import join_transcript
from p2psync.protocol.messages import JoinProof
from tests.support.daemons import Device, cli, free_port, link, make_share, setup, wait_for
from tests.support.hostile import raw_session, signed_by
from tests.support.probes import members


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[list[Device]]:
    made = [Device(tmp_path, name) for name in ("alice", "carol", "bob", "dave")]
    yield made
    for device in made:
        device.stop(signal.SIGKILL)


def invite(device: Device, share: str, *args: str) -> str:
    result = cli(device.home, "invite", share, "--json", *args)
    code: str = json.loads(result.stdout)["code"]
    return code


def connected(device: Device, other: Device) -> bool:
    peers = json.loads(cli(device.home, "peers", "--json").stdout)["peers"]
    return any(p["device_id"] == other.id and p["connected"] for p in peers)


def own_mode(device: Device, share: str) -> str:
    mode: str = next(s for s in device.status()["shares"] if s["id"] == share)["mode"]
    return mode


def share_ids(device: Device) -> set[str]:
    return {
        s["id"] for s in json.loads(cli(device.home, "share", "list", "--json").stdout)["shares"]
    }


def test_invite_join_sync_and_a_third_member_accepts_the_joiner(devices: list[Device]) -> None:
    alice, carol, bob, dave = devices
    share = make_share([alice, carol])
    port = free_port()
    alice.start(port)
    for device in (carol, bob, dave):
        device.start()
    link([alice, carol])
    alice.apply_text("notes.md", "before bob. ", client_id=1)
    wait_for(lambda: carol.text("notes.md") == "before bob. ", "the note at carol")

    code = invite(alice, share, "--expires", "10m")
    joined = cli(bob.home, "join", code, str(bob.folder), "--json")
    assert json.loads(joined.stdout)["share"] == share
    wait_for(lambda: bob.text("notes.md") == "before bob. ", "the share's content at bob")
    assert members(alice, share)[bob.id] == "send-receive"
    assert members(bob, share) == {alice.id: "send-receive", carol.id: "send-receive"}

    # Carol never added bob: she learns it from alice, and accepts him.
    wait_for(lambda: bob.id in members(carol, share), "bob in carol's member list")
    setup(bob.home, "peer", "add", carol.id, carol.address)
    wait_for(lambda: connected(carol, bob), "carol accepting bob")
    alice.stop()
    carol.apply_text("notes.md", "carol to bob. ", client_id=2)
    wait_for(lambda: bob.text("notes.md") == "before bob. carol to bob. ", "carol's edit at bob")
    bob.apply_text("notes.md", "bob to carol.", client_id=3)
    wait_for(lambda: carol.text("notes.md") == bob.text("notes.md"), "bob's edit at carol")

    # The code worked once: dave cannot use it again (alice back up to refuse it).
    alice.start(port)
    reused = cli(dave.home, "join", code, str(dave.folder), check=False)
    assert reused.returncode == 5
    assert "refused the invite" in reused.stderr
    assert share not in share_ids(dave)
    assert dave.id not in members(alice, share)


def test_bad_codes_get_nothing_and_change_nothing(devices: list[Device]) -> None:
    alice, _, bob, _ = devices
    share = make_share([alice])
    alice.start()
    bob.start()
    before = (alice.home / "config.toml").read_text()
    code = invite(alice, share)
    bob_config = (bob.home / "config.toml").read_text()

    typo = code[:10] + ("A" if code[10] != "A" else "B") + code[11:]
    result = cli(bob.home, "join", typo, str(bob.folder), check=False)
    assert result.returncode == 2
    assert "mistyped" in result.stderr
    result = cli(bob.home, "join", code[:40], str(bob.folder), check=False)
    assert result.returncode == 2

    # A well-formed code whose secret alice never issued.
    real = parse_invite(code)
    forged = InviteCode.new(real.share_id, real.inviter, real.addresses, real.expires)
    result = cli(bob.home, "join", str(forged), str(bob.folder), check=False)
    assert result.returncode == 5
    assert "refused the invite" in result.stderr

    # An expired code is refused by the joiner at once, and by the inviter too.
    short = invite(alice, share, "--expires", "1s")
    expiry = parse_invite(short).expires
    wait_for(lambda: time.time() > expiry + 0.1, "the short invite to expire", 5)
    result = cli(bob.home, "join", short, str(bob.folder), check=False)
    assert result.returncode == 2
    assert "expired" in result.stderr
    stale = parse_invite(short)
    identity = load_or_create_identity(bob.home / "identity")
    outcome = raw_session(alice.address, signed_by(identity), join=proof_of(stale.secret))
    assert outcome.refusal == "bad-invite"
    assert not outcome.established

    # No daemon on the joiner's side: a clear error, nothing changes.
    bob.stop()
    result = cli(bob.home, "join", code, str(bob.folder), check=False)
    assert result.returncode == 3
    assert (bob.home / "config.toml").read_text() == bob_config
    assert bob.id not in members(alice, share)
    assert (alice.home / "config.toml").read_text() == before  # invites live in its state


def proof_of(secret: bytes, *, tamper: bool = False) -> Any:
    """A join proof over the session's transcript (or, ``tamper``, over another one)."""

    def make(transcript: bytes) -> JoinProof:
        signed = join_transcript(transcript)
        if tamper:  # what a relay would hold: a proof bound to its own session
            signed = signed[:-1] + bytes([signed[-1] ^ 1])
        return JoinProof(invite_verifier(secret), sign_join(secret, signed))

    return make


def test_replayed_and_relayed_proofs_get_nothing_and_spend_nothing(
    devices: list[Device], tmp_path: Path
) -> None:
    alice, _, bob, _ = devices
    share = make_share([alice])
    alice.start()
    code = parse_invite(invite(alice, share))
    mallory = load_or_create_identity(tmp_path / "mallory")

    # A proof recorded in one session, replayed in another: the nonces differ.
    recorded: list[JoinProof] = []

    def record(transcript: bytes) -> JoinProof:
        recorded.append(proof_of(code.secret, tamper=True)(transcript))
        return recorded[-1]

    first = raw_session(alice.address, signed_by(mallory), join=record)
    assert first.refusal == "bad-invite"
    replay = raw_session(alice.address, signed_by(mallory), join=lambda _: recorded[0])
    assert replay.refusal == "bad-invite"
    assert not replay.established
    # A proof made for a session with another server (a man in the middle's
    # certificate in the transcript) does not hold in a session with alice.
    other_server = load_or_create_identity(tmp_path / "other").cert_der

    def relayed(transcript: bytes) -> JoinProof:
        nonces = transcript[len(b"p2psync-auth-v1") :][:64]
        forged = (
            b"p2psync-auth-v1" + nonces + hashlib.sha256(other_server).digest() + transcript[-32:]
        )
        return JoinProof(
            invite_verifier(code.secret), sign_join(code.secret, join_transcript(forged))
        )

    mitm = raw_session(alice.address, signed_by(mallory), join=relayed)
    assert mitm.refusal == "bad-invite"
    assert str(mallory.device_id) not in members(alice, share)
    # None of this spent the invite: the honest joiner still gets in with it.
    bob.start()
    cli(bob.home, "join", str(code), str(bob.folder))
    assert bob.id in members(alice, share)
    assert str(DeviceId.from_certificate_der(mallory.cert_der)) not in members(alice, share)
    assert ShareId.parse(share) == code.share_id


def test_joining_a_second_share_of_a_device_already_connected(devices: list[Device]) -> None:
    alice, _, bob, _ = devices
    make_share([alice, bob])
    alice.start()
    bob.start()
    link([alice, bob])
    wait_for(lambda: connected(alice, bob), "alice and bob connected for their first share")
    added = setup(alice.home, "share", "add", str(alice.home / "second"), "--create")
    second = added.stdout.strip()
    doc = alice.home / "second" / "plan.md"
    update = alice.home / "plan.bin"
    _write_text_update(update, "the plan")
    cli(alice.home, "doc", "apply", str(doc), str(update))

    cli(bob.home, "join", invite(alice, second), str(bob.home / "second"))
    wait_for(lambda: _text_at(bob, bob.home / "second" / "plan.md") == "the plan",
             "the second share's doc at bob")  # fmt: skip
    assert bob.id in members(alice, second)


def test_an_invite_made_receive_only_admits_a_receive_only_member(
    devices: list[Device],
) -> None:
    alice, carol, bob, _ = devices
    share = make_share([alice, carol])
    for device in (alice, carol, bob):
        device.start()
    link([alice, carol])
    alice.apply_text("notes.md", "read, do not write. ", client_id=1)

    cli(bob.home, "join", invite(alice, share, "--mode", "receive-only"), str(bob.folder))
    wait_for(lambda: bob.text("notes.md") == "read, do not write. ", "the content at bob")
    assert members(alice, share)[bob.id] == "receive-only"
    wait_for(lambda: members(carol, share).get(bob.id) == "receive-only", "the mode at carol")
    wait_for(lambda: own_mode(bob, share) == "receive-only", "bob told his mode")
    bad = cli(alice.home, "invite", share, "--mode", "owner", check=False)
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr


def _write_text_update(path: Path, text: str) -> None:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=7)
    doc.get("content", type=pycrdt.Text).insert(0, text)
    path.write_bytes(doc.get_update())


def _text_at(device: Device, path: Path) -> str | None:
    out = device.home / "export2.bin"
    if cli(device.home, "doc", "export", str(path), "-o", str(out), check=False).returncode:
        return None
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    doc.apply_update(out.read_bytes())
    return str(doc.get("content", type=pycrdt.Text))


def snapshot(device: Device) -> dict[str, Any]:
    """What a join could change on ``device``: its config, every file of its state,
    the devices ``peers`` lists (connected or not) and its share folders."""
    state = device.home / "state"
    files = {str(p.relative_to(state)): p.read_bytes() for p in state.rglob("*") if p.is_file()}
    peers = json.loads(cli(device.home, "peers", "--json").stdout)
    return {
        "config": (device.home / "config.toml").read_bytes(),
        "state": files,
        "peers": [p["device_id"] for p in peers["peers"]],
        "pending": peers["pending"],
        "folder": device.folder.exists(),
    }


@pytest.mark.slow
def test_a_failed_join_leaves_config_state_and_peers_as_before(devices: list[Device]) -> None:
    """Each way a join fails leaves the joiner's config, state, ``peers`` (no inviter
    left behind as "offline, never seen") and folders as they were."""
    alice, carol, bob, _ = devices
    share = make_share([alice])
    alice.start()
    bob.start()
    carol.start()
    before = snapshot(bob)

    def fails(code: str, exit_code: int | None, says: str, folder: Path = bob.folder) -> None:
        """``exit_code`` None: any failure (the table of exit codes decides)."""
        result = cli(bob.home, "join", code, str(folder), check=False)
        assert result.returncode != 0
        assert result.returncode == (exit_code or result.returncode), result.stderr
        assert says in result.stderr, result.stderr
        assert snapshot(bob) == before

    used = invite(alice, share)
    cli(carol.home, "join", used, str(carol.folder))
    fails(used, 5, "refused the invite")
    real = parse_invite(invite(alice, share))
    forged = InviteCode.new(real.share_id, real.inviter, real.addresses, real.expires)
    fails(str(forged), 5, "refused the invite")
    short = invite(alice, share, "--expires", "1s")
    expiry = parse_invite(short).expires
    wait_for(lambda: time.time() > expiry + 0.1, "the short invite to expire", 5)
    fails(short, 2, "expired")
    # A folder that cannot be made here (a file in the way): refused before dialing.
    (bob.home / "a-file").write_text("not a folder\n")
    fails(invite(alice, share), None, "cannot create the folder", bob.home / "a-file" / "share")
    # Accepted, but the share cannot start here (its .p2psync is a file).
    blocked = bob.home / "blocked"
    blocked.mkdir()
    (blocked / ".p2psync").write_text("not a folder\n")
    before = snapshot(bob)
    fails(invite(alice, share), None, "File exists", blocked)
    cli(alice.home, "pause")
    fails(str(real), 5, "could not join")
    alice.stop()
    fails(str(real), 5, "could not join")


def test_without_mdns_a_joiner_and_the_other_members_connect(devices: list[Device]) -> None:
    """mDNS off (``--no-mdns``): bob joins through alice's invite; carol, who knows
    bob only from alice's member list, and bob, who knows carol only from it too,
    learn each other's address from alice and connect, and sync without alice."""
    alice, carol, bob, _ = devices
    share = make_share([alice, carol])
    for device in (alice, carol, bob):
        device.start()
    link([alice, carol])
    cli(bob.home, "join", invite(alice, share), str(bob.folder))
    wait_for(lambda: connected(carol, bob), "carol and bob connected", 60)
    member = next(
        m
        for s in carol.status()["shares"]
        if s["id"] == share
        for m in s["members"]
        if m["device_id"] == bob.id
    )
    assert member["state"] != "pending"
    alice.stop()
    carol.apply_text("notes.md", "carol to bob, alice away.", client_id=2)
    wait_for(lambda: bob.text("notes.md") == "carol to bob, alice away.", "carol's edit at bob")
