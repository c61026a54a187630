"""The deleted files and folders of a manifest view, and which deletions a step made."""

from __future__ import annotations

from pathlib import Path

import trio

from p2psync.control.replies import DeletedFile
from p2psync.daemon.deletions import DeletionWatch
from p2psync.daemon.filehistory import (
    deleted_entries,
    deleted_files,
    deleted_folders,
    plan_restore_at,
    under,
)
from p2psync.errors import StorageError
from p2psync.mirror.hlc import Timestamp
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import Entry, ManifestView
from p2psync.storage.timeline import Version


def _entry(guid: str, path: str, wall: int = 1, **fields: object) -> Entry:
    return Entry(guid, path, FileKind.TEXT, Timestamp(wall, 0, b"d"), **fields)  # type: ignore[arg-type]


def _row(path: str, deleted: float | None, device: str | None = "B") -> DeletedFile:
    return {"path": path, "kind": "text", "deleted": deleted, "device": device,
            "last_version": None}  # fmt: skip


def test_deleted_entries_are_the_latest_per_path_no_live_file_holds() -> None:
    view = ManifestView.of({
        e.guid: e for e in [
            _entry("g1", "a.md", 1, deleted=True),
            _entry("g2", "a.md", 2, deleted=True),  # the later one of a.md
            _entry("g3", "b.md", 1, deleted=True),
            _entry("g4", "b.md", 2),  # b.md is a file again
            _entry("g5", "c.md", 1, deleted=True, superseded_by="g6"),  # lost its path
            _entry("g6", "c.md", 0),
        ]
    })  # fmt: skip
    assert [e.guid for e in deleted_entries(view)] == ["g2"]


def test_a_folder_is_deleted_when_it_holds_deleted_files_and_no_live_one() -> None:
    view = ManifestView.of({"l": _entry("l", "keep/live.md")})
    files = [_row("gone/a.md", 10.0), _row("gone/sub/b.md", 20.0, "C"), _row("keep/x.md", 5.0),
             _row("gone/sub/c.md", None)]  # fmt: skip
    folders = deleted_folders(files, view)
    assert [(f["path"], f["files"], f["deleted"], f["device"]) for f in folders] == [
        ("gone", 3, 20.0, "C")
    ]


def test_a_watch_tells_each_deletion_and_revival_once() -> None:
    live = ManifestView.of({"g": _entry("g", "a.md")})
    watch = DeletionWatch(live)
    assert not watch.look(live)
    gone = ManifestView.of({"g": _entry("g", "a.md", deleted=True)})
    found = watch.look(gone)
    assert ([e.guid for e in found.deleted], found.revived) == (["g"], [])
    assert not watch.look(ManifestView.of({"g": _entry("g", "a.md", deleted=True)}))
    back = watch.look(ManifestView.of({"g": _entry("g", "a.md")}))
    assert ([e.guid for e in back.revived], back.deleted) == (["g"], [])


def test_a_watch_tells_the_deletions_of_a_view_changed_in_place() -> None:
    view = ManifestView.of({"g": _entry("g", "a.md"), "h": _entry("h", "b.md")})
    watch = DeletionWatch(view)
    assert view.replace(view.by_guid["g"], _entry("g", "a.md", deleted=True))
    found = watch.look(view)  # the same view, changed since the last look
    assert ([e.guid for e in found.deleted], found.revived) == (["g"], [])
    assert not watch.look(view)


def test_a_watch_tells_each_rename_with_the_old_path_once() -> None:
    watch = DeletionWatch(ManifestView.of({"g": _entry("g", "a.md"), "h": _entry("h", "b.md")}))
    moved = watch.look(ManifestView.of({"g": _entry("g", "d/a.md"), "h": _entry("h", "b.md")}))
    assert [(e.guid, e.path, old) for e, old in moved.renamed] == [("g", "d/a.md", "a.md")]
    assert (moved.deleted, moved.revived) == ([], [])
    assert not watch.look(ManifestView.of({"g": _entry("g", "d/a.md"), "h": _entry("h", "b.md")}))
    gone = watch.look(ManifestView.of({"g": _entry("g", "e.md", deleted=True)}))
    assert gone.renamed == []  # a deleted file is no rename


def test_a_watch_tells_new_files_and_files_of_another_kind() -> None:
    watch = DeletionWatch(ManifestView.of({"g": _entry("g", "a.md")}))
    grown = Entry("g", "a.md", FileKind.CHUNKED, Timestamp(1, 0, b"d"))
    found = watch.look(ManifestView.of({"g": grown, "h": _entry("h", "b.md")}))
    assert [e.guid for e in found.appeared] == ["g", "h"]
    assert not watch.look(ManifestView.of({"g": grown, "h": _entry("h", "b.md")}))


def test_a_starting_watch_tells_every_live_file_new_and_a_moved_one_renamed() -> None:
    """The first look of a start: from the manifest as stored, a file renamed while
    the daemon was down is a rename; every live file is new to it (its version
    caught up), and the first look compares even an unchanged view."""
    stored = ManifestView.of({"g": _entry("g", "a.md"), "h": _entry("h", "b.md")})
    watch = DeletionWatch(stored, starting=True)
    found = watch.look(ManifestView.of({"g": _entry("g", "c.md"), "h": _entry("h", "b.md")}))
    assert [(e.guid, old) for e, old in found.renamed] == [("g", "a.md")]
    assert [e.guid for e in found.appeared] == ["g", "h"]
    same = DeletionWatch(stored, starting=True).look(stored)
    assert [e.guid for e in same.appeared] == ["g", "h"]


def test_under_a_folder() -> None:
    assert under("a/b.md", "a")
    assert under("a/b.md", "")
    assert not under("ab/c.md", "a")


class _Timelines:
    """A share's stored timelines for ``readable_versions``: one of them damaged."""

    name = "s"
    device_id = "D"

    def __init__(self, good: dict[str, list[Version]], damaged: str) -> None:
        self.good = good
        self.damaged = damaged

    async def stored_versions(self, guid: str) -> list[Version]:
        if guid == self.damaged:
            raise StorageError(Path(f"/share/.p2psync/docs/{guid}.yhist"), "fails its checksum")
        return self.good.get(guid, [])

    async def mark_version(self, guid: str, kind: str, device: str, old_path: str = "") -> None:
        raise AssertionError("not called")

    def file_changed(self, guid: str, kind: str, device: str) -> bool:
        raise AssertionError("not called")

    async def first_version(self, guid: str, device: str) -> None:
        raise AssertionError("not called")


def test_a_damaged_timeline_is_its_files_problem_not_the_listings() -> None:
    view = ManifestView.of({
        e.guid: e for e in [
            _entry("g1", "gone/a.md", deleted=True),
            _entry("g2", "gone/b.md", deleted=True),
            _entry("g3", "live.md"),
        ]
    })  # fmt: skip
    kept = Version(5.0, "B", "create", 10, 4, 4, 0, number=0)
    deletion = Version(9.0, "B", "delete", 20, 0, 0, 4, number=1)
    store = _Timelines({"g1": [kept, deletion], "g3": [kept]}, damaged="g2")

    async def main() -> None:
        files = await deleted_files(store, view)
        assert [(f["path"], f["deleted"]) for f in files] == [("gone/a.md", 9.0),
                                                             ("gone/b.md", None)]  # fmt: skip
        plan = await plan_restore_at(store, view, "", 6.0)
        assert plan.rows["g2"]["result"] == "left"
        assert plan.rows["g2"]["reason"] == "its history cannot be read: fails its checksum"
        assert plan.numbers == {"g1": 0, "g3": 0}

    trio.run(main)


def test_deleted_files_and_folders_are_listed_latest_deletion_first() -> None:
    """Not in path or manifest order: by when each was deleted, the latest first,
    deletions of unknown time last (docs/history.md)."""
    paths = {"g1": "a.md", "g2": "b/x.md", "g3": "c.md", "g4": "d/y.md", "g5": "e.md"}
    when = {"g1": 7.0, "g2": 9.0, "g3": 8.0, "g4": 6.0}  # e.md: its deletion unknown
    view = ManifestView.of({g: _entry(g, p, deleted=True) for g, p in paths.items()})
    kept = Version(1.0, "B", "create", 10, 4, 4, 0, number=0)
    store = _Timelines(
        {g: [kept, Version(t, "B", "delete", 20, 0, 0, 4, number=1)] for g, t in when.items()},
        damaged="",
    )

    async def main() -> None:
        files = await deleted_files(store, view)
        assert [f["path"] for f in files] == ["b/x.md", "c.md", "a.md", "d/y.md", "e.md"]
        assert [f["path"] for f in deleted_folders(files, view)] == ["b", "d"]

    trio.run(main)
