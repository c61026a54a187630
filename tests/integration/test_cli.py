"""The CLI contract without a daemon: output, exit codes, one-sentence errors."""

from __future__ import annotations

import json
from pathlib import Path

from p2psync.ids import DeviceId, ShareId
from tests.integration.sync.daemons import cli


def test_id_is_stable_and_parses(tmp_path: Path) -> None:
    first = cli(tmp_path, "id").stdout.strip()
    assert cli(tmp_path, "id").stdout.strip() == first
    assert str(DeviceId.parse(first)) == first


def test_config_commands_work_without_a_daemon(tmp_path: Path) -> None:
    other = cli(tmp_path / "other", "id").stdout.strip()
    folder = tmp_path / "docs"
    share = cli(tmp_path, "share", "add", str(folder)).stdout.strip()
    ShareId.parse(share)
    cli(tmp_path, "share", "member", "add", share, other, "--mode", "receive-only")
    cli(tmp_path, "peer", "add", other, "127.0.0.1:22071")
    listed = json.loads(cli(tmp_path, "share", "list", "--json").stdout)["shares"]
    mine = next(s for s in listed if s["id"] == share)
    assert mine["path"] == str(folder.resolve())
    assert mine["members"] == [{"device_id": other, "mode": "receive-only"}]
    cli(tmp_path, "share", "remove", share)
    listed = json.loads(cli(tmp_path, "share", "list", "--json").stdout)["shares"]
    assert share not in [s["id"] for s in listed]


def test_errors_are_one_sentence_with_documented_exit_codes(tmp_path: Path) -> None:
    cases = [
        (("share", "member", "add", "nope", "nope"), 2, "is not a share ID"),
        (("peer", "add", "ABCDEFG", "127.0.0.1:1"), 2, "is not a device ID"),
        (("status",), 3, "no daemon is running"),
        (("doc", "export", str(tmp_path / "outside.md")), 2, "is not inside a shared folder"),
    ]
    for args, code, sentence in cases:
        result = cli(tmp_path, *args, check=False)
        assert result.returncode == code, (args, result.stderr)
        assert sentence in result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
