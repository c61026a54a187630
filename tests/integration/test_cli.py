"""The CLI contract without a daemon: output, exit codes, one-sentence errors."""

from __future__ import annotations

import json
from pathlib import Path

from p2psync.ids import DeviceId, ShareId
from tests.support.daemons import cli


def test_id_is_stable_and_parses(tmp_path: Path) -> None:
    first = cli(tmp_path, "id").stdout.strip()
    assert cli(tmp_path, "id").stdout.strip() == first
    assert str(DeviceId.parse(first)) == first


def test_config_commands_work_without_a_daemon(tmp_path: Path) -> None:
    other = cli(tmp_path / "other", "id").stdout.strip()
    folder = tmp_path / "docs"
    share = cli(tmp_path, "share", "add", str(folder), "--create").stdout.strip()
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


def test_usage_and_file_errors_are_one_sentence(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    cli(tmp_path, "share", "add", str(folder), "--create")
    update = tmp_path / "update.bin"
    update.write_bytes(b"\x00\x00")  # an empty Yjs v1 update
    cli(tmp_path, "doc", "apply", str(folder / "a.md"), str(update))
    cases = [
        (("bogus",), 2, "invalid choice: 'bogus'"),
        (("share", "add"), 2, "the following arguments are required: path"),
        (("doc", "export", str(folder / "a.md"), "-o", str(tmp_path / "no" / "out")), 4,
         f"{tmp_path / 'no' / 'out'}: cannot write it: No such file or directory"),
        (("wait-idle", "--timeout", "x"), 2, "invalid float value: 'x'"),
        (("pause",), 3, "no daemon is running"),
        (("history", str(folder)), 2, "is the folder of share"),  # not a file in it
        (("restore", str(folder), "--version", "1"), 2, "is the folder of share"),
        (("wait-idle", "--timeout", "-1"), 2, "--timeout must be a number of seconds, at least 0"),
        (("--home", "", "id"), 2, "argument --home: empty: name a folder"),
    ]  # fmt: skip
    for args, code, sentence in cases:
        result = cli(tmp_path, *args, check=False)
        assert result.returncode == code, (args, result.stderr)
        assert sentence in result.stderr
        assert result.stderr.startswith("p2psync: ")
        assert len(result.stderr.strip().splitlines()) == 1
