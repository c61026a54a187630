"""The files ``status`` says are still to write to a share's folder
(``files_to_write``): of the files whose docs are here, those the mirror has not
written yet, counted over fakes of a share, its mirror and its sync records."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import cast

from p2psync.daemon.shares import ShareService
from p2psync.daemon.sharestatus import files_to_write
from p2psync.mirror.manifest import MANIFEST_GUID

CHUNK = "c:" + "0" * 32


@dataclass
class Entry:
    guid: str
    path: str
    deleted: bool = False


@dataclass
class Record:
    guid: str


@dataclass
class Share:
    """A share whose docs ``held`` arrived, its mirror's view of the manifest
    ``entries``, the paths it wrote (``written``: their record, and whether the doc
    is still at the version recorded) and the docs changed that it has not taken."""

    entries: list[Entry]
    held: set[str]
    written: dict[str, tuple[str, bool]] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)
    settled: bool = False
    ignored: set[str] = field(default_factory=set)
    problems: set[str] = field(default_factory=set)

    def service(self) -> ShareService:
        live = [e for e in self.entries if not e.deleted]
        records = {rel: Record(guid) for rel, (guid, _) in self.written.items()}
        view = SimpleNamespace(by_path={e.path: e for e in live},
                               by_guid={e.guid: e for e in self.entries})  # fmt: skip
        mirror = SimpleNamespace(
            view=view,
            synced=records,
            ignore=SimpleNamespace(ignored=lambda rel, is_dir: rel in self.ignored),
            problems=SimpleNamespace(has=lambda rel: rel in self.problems),
            ledger=SimpleNamespace(doc_as_synced=lambda rel: self.written.get(rel, ("", 0))[1]),
        )
        service = SimpleNamespace(
            stopped=None,
            mirror=SimpleNamespace(mirror=mirror, settled=self.settled, docs_waiting=self.waiting),
            sync=SimpleNamespace(replica=self.held),
        )
        return cast(ShareService, service)


def first_sync(count: int) -> list[Entry]:
    return [Entry(f"g{n}", f"note-{n}.md") for n in range(count)]


def test_files_whose_docs_arrived_and_were_not_written_are_to_write() -> None:
    entries = first_sync(10)
    share = Share(entries, held={MANIFEST_GUID, *(e.guid for e in entries[:6])})
    assert files_to_write(share.service()) == 6  # the 4 others' docs are still to come
    share.written = {f"note-{n}.md": (f"g{n}", True) for n in range(4)}
    assert files_to_write(share.service()) == 2
    share.settled = True  # the mirror is done: nothing is to write
    assert files_to_write(share.service()) == 0


def test_docs_changed_and_not_taken_count_once_unless_their_file_holds_them() -> None:
    entries = [*first_sync(3), Entry("gone", "gone.md", deleted=True)]
    share = Share(entries, held={MANIFEST_GUID, CHUNK, "gone", "early", "g0", "g1", "g2"})
    share.written = {"note-0.md": ("g0", False), "note-1.md": ("g1", True)}
    share.waiting = {MANIFEST_GUID, CHUNK, "gone", "g0", "g1", "g2", "early", "not-here"}
    # g0: a peer's edit not written yet; g2: new, and changed again (once); "early": a
    # doc whose entry the mirror has not read yet. Not: the manifest, a chunk doc, a
    # deleted file's doc, a file written as its doc is now, a doc not held.
    assert files_to_write(share.service()) == 3


def test_new_files_ignored_or_listed_not_in_sync_are_not_to_write() -> None:
    entries = first_sync(3)
    share = Share(entries, held={e.guid for e in entries}, ignored={"note-0.md"},
                  problems={"note-1.md"})  # fmt: skip
    assert files_to_write(share.service()) == 1


def test_a_path_recorded_with_another_doc_is_to_write() -> None:
    # a peer put another file at a path written here (a rename onto it, a collision)
    share = Share([Entry("new", "notes.md")], held={"new"}, written={"notes.md": ("old", True)})
    assert files_to_write(share.service()) == 1
