"""The human form of ``p2psync history``: one row per version, as the reply orders them;
with ``--deleted``, the deleted folders, then the deleted files."""

from __future__ import annotations

from p2psync.cli.deleted import format_deleted
from p2psync.cli.history import format_versions
from p2psync.control.replies import HistoryDeletedReply, VersionRow

DEVICE = "VFVQ4IY-JPUL65Y-LXKJKCO-PCQA2BX-4MYJWUL-6G2HQVD-CQPQ6ED-KGEYTAD"
NOW = 1_800_000_000.0


def test_versions_are_rows_with_short_device_ids_and_changes() -> None:
    versions: list[VersionRow] = [
        {"number": 2, "time": NOW - 120, "device": DEVICE, "kind": "remote change",
         "size": 2048, "added": 12, "removed": 4},
        {"number": 1, "time": NOW - 7200, "device": DEVICE, "kind": "create",
         "size": 30, "added": 30, "removed": 0},
    ]  # fmt: skip
    lines = format_versions(versions, NOW).splitlines()
    assert lines[0].split() == ["VERSION", "WHEN", "WHAT", "DEVICE", "SIZE", "CHANGES"]
    assert lines[1].split() == ["2", "2", "min", "ago", "changed", "by", "a", "peer", "VFVQ4IY",
                                "2.0", "KiB", "+12", "-4"]  # fmt: skip
    assert lines[2].split()[:3] == ["1", "2", "h"]
    assert "create" in lines[2]
    assert "+30 -0" in lines[2]


def test_a_version_several_devices_made_names_each() -> None:
    other = "T5NXIS3-BI2AQ2E-VTZO2CM-P3E7QY4-YMEDD4T-RMHUEBS-3C3QQAP-UH7NHQT"
    together: VersionRow = {"number": 4, "time": NOW - 5, "device": DEVICE, "kind": "local save",
                            "size": 10, "added": 3, "removed": 1, "others": [other]}  # fmt: skip
    row = format_versions([together], NOW).splitlines()[1]
    assert "VFVQ4IY, T5NXIS3" in row


def test_no_versions_is_one_sentence() -> None:
    assert format_versions([], NOW) == "No versions yet."


def test_deleted_folders_then_files_with_their_last_version() -> None:
    last: VersionRow = {"number": 3, "time": NOW - 600, "device": DEVICE, "kind": "local save",
                        "size": 2048, "added": 1, "removed": 0}  # fmt: skip
    reply: HistoryDeletedReply = {
        "share": "s7x2kq4m9a",
        "files": [
            {"path": "old/a.md", "kind": "text", "deleted": NOW - 60, "device": DEVICE,
             "last_version": last},
            {"path": "pic.png", "kind": "binary", "deleted": None, "device": None,
             "last_version": None},
        ],
        "folders": [{"path": "old", "files": 1, "deleted": NOW - 60, "device": DEVICE}],
    }  # fmt: skip
    folders, files = format_deleted(reply, NOW).split("\n\n")
    assert folders.splitlines()[1].split() == ["old/", "1", "min", "ago", "VFVQ4IY", "1"]
    rows = files.splitlines()
    assert rows[0].split() == ["FILE", "DELETED", "BY", "LAST", "VERSION", "SIZE"]
    assert rows[1].split() == ["old/a.md", "1", "min", "ago", "VFVQ4IY", "3", "2.0", "KiB"]
    assert rows[2].split() == ["pic.png", "?", "?", "-", "-"]
    assert format_deleted({"share": "s", "files": [], "folders": []}, NOW) == "No deleted files."
