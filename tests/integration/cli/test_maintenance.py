"""``doctor`` and ``compact`` on real logs, with and without a daemon."""

from __future__ import annotations

import json
from pathlib import Path

from p2psync.ids import ShareId
from p2psync.storage import read_updates
from p2psync.storage.layout import log_path
from tests.support.daemons import Device, cli


def device_with_doc(tmp_path: Path, edits: int = 3) -> tuple[Device, Path]:
    """A device (no daemon) with one share whose doc ``notes.md`` has ``edits`` records."""
    device = Device(tmp_path, "a")
    cli(device.home, "share", "add", str(device.folder), "--create")
    for index in range(edits):
        device.apply_text("notes.md", f"line {index}\n", client_id=5)
    return device, log_path(device.folder.resolve(), "notes.md")


def test_doctor_reports_damage_without_changing_anything(tmp_path: Path) -> None:
    device, log = device_with_doc(tmp_path)
    healthy = cli(device.home, "doctor")
    assert healthy.returncode == 0
    assert "1 logs checked, 0 damaged: all healthy" in healthy.stdout

    data = bytearray(log.read_bytes())
    data[-3] ^= 0xFF  # a bit flip inside the last record
    log.write_bytes(bytes(data))
    damaged = cli(device.home, "doctor", "--json", check=False)
    assert damaged.returncode == 1
    report = json.loads(damaged.stdout)
    assert report["damaged"] == 1
    entry = report["logs"][0]
    assert (entry["state"], entry["doc"], entry["repaired"]) == ("corrupt", "notes.md", False)
    assert entry["offset"] > 0
    assert log.read_bytes() == bytes(data)  # read-only
    human = cli(device.home, "doctor", str(device.folder), check=False)
    assert human.returncode == 1
    assert f"corrupt at offset {entry['offset']}" in human.stdout
    assert "p2psync doctor --repair" in human.stdout


def test_doctor_repair_keeps_the_valid_records_and_a_copy(tmp_path: Path) -> None:
    device, log = device_with_doc(tmp_path)
    data = bytearray(log.read_bytes())
    data[-3] ^= 0xFF
    log.write_bytes(bytes(data))
    repaired = cli(device.home, "doctor", "--repair", "--json")
    entry = json.loads(repaired.stdout)["logs"][0]
    assert (entry["state"], entry["repaired"]) == ("ok", True)
    assert "was corrupt" in entry["reason"]
    assert len(read_updates(log)) == 2  # the records before the damage
    quarantined = list(log.parent.glob(".quarantine/*"))
    assert [q.read_bytes() for q in quarantined] == [bytes(data)]
    assert cli(device.home, "doctor").returncode == 0


def test_doctor_finds_a_torn_tail_and_repair_cuts_it(tmp_path: Path) -> None:
    device, log = device_with_doc(tmp_path, edits=1)
    whole = log.read_bytes()
    log.write_bytes(whole + whole[16:20])  # the start of a record that never finished
    torn = cli(device.home, "doctor", str(log), "--json", check=False)
    assert torn.returncode == 1
    assert json.loads(torn.stdout)["logs"][0]["state"] == "torn"
    assert cli(device.home, "doctor", str(log), "--repair").returncode == 0
    assert log.read_bytes() == whole


def test_doctor_rejects_a_path_that_is_no_share(tmp_path: Path) -> None:
    result = cli(tmp_path, "doctor", str(tmp_path / "missing"), check=False)
    assert result.returncode == 2
    assert "is neither a share folder nor a .ylog file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_compact_without_a_daemon_keeps_the_text(tmp_path: Path) -> None:
    device, log = device_with_doc(tmp_path, edits=5)
    assert len(read_updates(log)) == 5
    result = cli(device.home, "compact", "--json")
    compacted = json.loads(result.stdout)["compacted"]
    assert sorted(compacted.values()) == [0, 1]  # the default share has no logs
    assert len(read_updates(log)) == 1
    assert device.text("notes.md") == "".join(f"line {i}\n" for i in range(5))


def test_compact_through_the_daemon(tmp_path: Path) -> None:
    device, log = device_with_doc(tmp_path, edits=4)
    share = json.loads(cli(device.home, "share", "list", "--json").stdout)["shares"][-1]["id"]
    device.start()
    try:
        result = cli(device.home, "compact", share)
        assert share in result.stdout
        assert len(read_updates(log)) == 1
        assert device.text("notes.md") == "".join(f"line {i}\n" for i in range(4))
        other = str(ShareId.new())
        unknown = cli(device.home, "compact", other, check=False)
        assert unknown.returncode == 2  # as without a daemon
        assert unknown.stderr == f"p2psync: this device has no share {other}\n"
    finally:
        device.stop()
