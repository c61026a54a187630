"""``[shares.history] max_bytes`` on a real daemon (issue 18): a binary file's oldest
versions past the cap are dropped on the device whose config says so, the newest
ones stay and restore; a device without the setting keeps them all; a bad value
stops the daemon from starting with one sentence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from p2psync.config import HistoryConfig, load_config, save_config
from p2psync.control.home import Home
from tests.support.daemons import Device, cli, link, make_share, wait_for
from tests.support.history import versions
from tests.support.mirror import holds

SIZE = 4096
CAP = SIZE * 5 // 2
"""Room for two past versions of the picture, not three."""


def _picture(n: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes([n]) * (SIZE - 8)


def _cap(device: Device, max_bytes: int) -> None:
    path = Home(device.home).config_path
    config = load_config(path)
    shares = tuple(
        dataclasses.replace(s, history=HistoryConfig(max_bytes=max_bytes))
        if s.path == device.folder
        else s
        for s in config.shares
    )
    assert shares != config.shares
    save_config(path, dataclasses.replace(config, shares=shares))


def test_a_binary_files_oldest_versions_past_max_bytes_are_dropped(
    pair: list[Device], tmp_path: Path
) -> None:
    alice, bob = pair
    make_share(pair)
    _cap(alice, CAP)
    (alice.folder / "image.png").write_bytes(_picture(1))
    for device in pair:
        device.start()
    link(pair)
    wait_for(holds(bob.folder / "image.png", _picture(1)), "the picture at bob")
    for n in range(2, 6):  # the two devices take turns: no save coalesces into another
        saver, other = (bob, alice) if n % 2 == 0 else (alice, bob)
        (saver.folder / "image.png").write_bytes(_picture(n))
        for device in (saver, other):
            wait_for(lambda d=device, n=n: _newest_size_is(d, n),  # type: ignore[misc]
                     f"save {n} in {device.home.name}'s history")  # fmt: skip

    assert [v["number"] for v in versions(bob, "image.png")] == [5, 4, 3, 2, 1]
    kept = versions(alice, "image.png")
    assert [v["number"] for v in kept] == [5, 4, 3]
    assert sum(v["size"] for v in kept[1:]) <= CAP
    out = tmp_path / "three.png"
    cli(alice.home, "restore", str(alice.folder / "image.png"), "--version", "3", "--to", str(out))
    assert out.read_bytes() == _picture(3)
    gone = cli(alice.home, "restore", str(alice.folder / "image.png"), "--version", "2",
               "--to", str(tmp_path / "two.png"), check=False)  # fmt: skip
    assert gone.returncode != 0
    assert "version 2 of the file is no longer kept" in gone.stderr
    assert not (tmp_path / "two.png").exists()


def _newest_size_is(device: Device, n: int) -> bool:
    """Whether ``device``'s newest version of the picture is save ``n`` (its number)."""
    found = versions(device, "image.png")
    return bool(found) and found[0]["number"] == n


def test_a_bad_max_bytes_stops_the_daemon_with_one_sentence(pair: list[Device]) -> None:
    alice = pair[0]
    make_share([alice])
    path = Home(alice.home).config_path
    path.write_text(path.read_text() + "\n[shares.history]\nmax_bytes = -5\n")
    before = path.read_text()
    refused = cli(alice.home, "run", check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0, refused.stderr
    assert "history max_bytes must be a whole number of bytes, at least 0" in refused.stderr
    assert path.read_text() == before


def test_max_bytes_is_the_shares_the_oldest_past_version_of_any_file_going_first(
    pair: list[Device],
) -> None:
    alice = pair[0]
    make_share([alice])
    _cap(alice, CAP)
    alice.start()
    names = ["a.png", "b.png", "c.png"]
    saves = [(name, 1) for name in names] + [(name, 2) for name in names] + [("a.png", 3)]
    for name, n in saves:
        (alice.folder / name).write_bytes(_sized(n))
        wait_for(lambda name=name, n=n: _holds_save(alice, name, n),  # type: ignore[misc]
                 f"{name} save {n} in the history")  # fmt: skip
    # a.png's one past version (one picture) fits its cap alone; the share's three
    # past versions do not, and a.png's first is the oldest of the share
    kept = versions(alice, "a.png")
    assert 1 not in [v["number"] for v in kept]
    out = alice.home / "a-now.png"
    newest = str(kept[0]["number"])
    cli(alice.home, "restore", str(alice.folder / "a.png"), "--version", newest, "--to", str(out))
    assert out.read_bytes() == _sized(3)
    for name in ("b.png", "c.png"):  # their newest stays, whatever the share holds
        assert versions(alice, name)[0]["size"] == SIZE + 2


def _sized(n: int) -> bytes:
    """The picture of save ``n``, ``n`` bytes longer than ``SIZE``: its version's
    size says which save it is."""
    return _picture(n) + bytes(n)


def _holds_save(device: Device, name: str, n: int) -> bool:
    """Whether ``device``'s newest version of ``name`` is its save ``n``."""
    found = versions(device, name)
    return bool(found) and found[0]["size"] == SIZE + n
