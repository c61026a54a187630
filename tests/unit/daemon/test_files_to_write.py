"""The files ``status`` says are still to write to a share's folder
(``files_to_write``): of the files whose docs are here, those the mirror has not
written yet, counted over fakes of a share, its mirror and its sync records."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2psync.daemon import sharestatus
from p2psync.daemon.shares import ShareService
from p2psync.daemon.sharestatus import files_to_write
from p2psync.mirror.manifest import MANIFEST_GUID
from p2psync.replica.touched import Touched

CHUNK = "c:" + "0" * 32


@pytest.fixture(autouse=True)
def counted_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each call counts anew (``status`` counts at most once a second)."""
    monkeypatch.setattr(sharestatus, "FILES_TO_WRITE_EVERY_S", 0.0)


@dataclass
class Entry:
    guid: str
    path: str
    deleted: bool = False


@dataclass
class Record:
    guid: str
    version: int
    """The doc's sequence number whose content the file holds (``Held.sequence_of``)."""


class Records(dict[str, Record]):
    """The sync records by path (``SyncTable``)."""

    touched: Touched


class Service:
    """A share as ``files_to_write`` reads it (an object of its own: it is weakly
    referenced)."""

    stopped: str | None = None
    mirror: SimpleNamespace
    sync: SimpleNamespace


class Held(set[str]):
    """The docs a share holds, each changed once (``ShareReplica.sequence_of``) unless
    ``changes`` says how often."""

    changes: dict[str, int]

    max_sequence = 0

    def sequence_of(self, guid: str) -> int:
        return self.changes.get(guid, 1)

    def changed_since(self, sequence: int) -> set[str] | None:
        return None


@dataclass
class Share:
    """A share whose docs ``held`` arrived, its mirror's view of the manifest
    ``entries``, the paths it wrote (``written``: their record's doc and the doc's
    sequence number whose content the file holds: 1 is the doc as it is, unless
    ``changes`` says otherwise) and the docs changed that it has not taken."""

    entries: list[Entry]
    held: set[str]
    written: dict[str, tuple[str, int]] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)
    settled: bool = False
    problems: set[str] = field(default_factory=set)
    looked_at: list[str] = field(default_factory=list)
    """The paths whose file was compared with its doc (``Ledger.doc_as_synced``)."""
    changes: dict[str, int] = field(default_factory=dict)
    _service: object = None

    def as_synced(self, rel: str) -> bool:
        self.looked_at.append(rel)
        guid, version = self.written[rel]
        return version == self.changes.get(guid, 1)

    def service(self) -> ShareService:
        live = [e for e in self.entries if not e.deleted]
        records = {rel: Record(guid, now) for rel, (guid, now) in self.written.items()}
        view = SimpleNamespace(by_path={e.path: e for e in live},
                               by_guid={e.guid: e for e in self.entries},
                               touched=Touched())  # fmt: skip
        synced = Records(records)
        synced.touched = Touched()
        mirror = SimpleNamespace(
            view=view,  # a new view and table: counted whole (daemon.unwritten)
            synced=synced,
            problems=SimpleNamespace(paths=lambda: set(self.problems)),
            ledger=SimpleNamespace(doc_as_synced=self.as_synced),
        )
        held = Held(self.held)
        held.changes = self.changes
        if self._service is None:  # one share, asked again and again
            self._service = Service()
        service = cast(Service, self._service)
        service.mirror = SimpleNamespace(
            mirror=mirror, settled=self.settled, docs_waiting=self.waiting
        )
        service.sync = SimpleNamespace(replica=held)
        return cast(ShareService, service)


def first_sync(count: int) -> list[Entry]:
    return [Entry(f"g{n}", f"note-{n}.md") for n in range(count)]


def test_files_whose_docs_arrived_and_were_not_written_are_to_write() -> None:
    entries = first_sync(10)
    share = Share(entries, held={MANIFEST_GUID, *(e.guid for e in entries[:6])})
    assert files_to_write(share.service()) == 6  # the 4 others' docs are still to come
    share.written = {f"note-{n}.md": (f"g{n}", 1) for n in range(4)}
    assert files_to_write(share.service()) == 2
    share.settled = True  # the mirror is done: nothing is to write
    assert files_to_write(share.service()) == 0


def test_docs_changed_and_not_taken_count_once_unless_their_file_holds_them() -> None:
    entries = [*first_sync(3), Entry("gone", "gone.md", deleted=True)]
    share = Share(entries, held={MANIFEST_GUID, CHUNK, "gone", "early", "g0", "g1", "g2"})
    share.written = {"note-0.md": ("g0", 0), "note-1.md": ("g1", 1)}
    share.waiting = {MANIFEST_GUID, CHUNK, "gone", "g0", "g1", "g2", "early", "not-here"}
    # g0: a peer's edit not written yet; g2: new, and changed again (once); "early": a
    # doc whose entry the mirror has not read yet. Not: the manifest, a chunk doc, a
    # deleted file's doc, a file written as its doc is now, a doc not held.
    assert files_to_write(share.service()) == 3


def test_new_files_listed_not_in_sync_are_not_to_write() -> None:
    entries = first_sync(3)
    share = Share(entries, held={e.guid for e in entries}, problems={"note-1.md"})
    assert files_to_write(share.service()) == 2


def test_a_path_recorded_with_another_doc_is_to_write() -> None:
    # a peer put another file at a path written here (a rename onto it, a collision)
    share = Share([Entry("new", "notes.md")], held={"new"}, written={"notes.md": ("old", 1)})
    assert files_to_write(share.service()) == 1


def test_a_file_found_as_its_doc_is_not_compared_again_until_either_changes() -> None:
    # a first sync's files written while their docs wait for the mirror's next batch:
    # comparing hashes each doc's version, and status is asked every second
    entries = first_sync(3)
    share = Share(entries, held={e.guid for e in entries}, waiting={"g0", "g1", "g2"})
    share.written = {"note-0.md": ("g0", 1), "note-1.md": ("g1", 0)}
    assert files_to_write(share.service()) == 2
    assert sorted(share.looked_at) == ["note-0.md", "note-1.md"]
    share.looked_at.clear()
    assert files_to_write(share.service()) == 2
    assert share.looked_at == []
    share.changes = {"g0": 2}  # a peer changed it again
    assert files_to_write(share.service()) == 3
    assert share.looked_at == ["note-0.md"]
    share.written["note-1.md"] = ("g1", 1)  # the mirror wrote it: a new record
    share.looked_at.clear()
    assert files_to_write(share.service()) == 2
    assert share.looked_at == ["note-1.md"]


def test_a_count_stands_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """``status`` asked many times a second counts once a second: a count is a pass
    over every file."""
    monkeypatch.setattr(sharestatus, "FILES_TO_WRITE_EVERY_S", 1.0)
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    entries = first_sync(10)
    share = Share(entries, held={MANIFEST_GUID, *(e.guid for e in entries[:6])})
    assert files_to_write(share.service()) == 6
    share.written = {f"note-{n}.md": (f"g{n}", 1) for n in range(4)}
    clock[0] += 0.5
    assert files_to_write(share.service()) == 6  # counted half a second ago
    clock[0] += 0.5
    assert files_to_write(share.service()) == 2


def counted_from_scratch(share: Share) -> int:
    """``files_to_write`` as its doc says, each doc looked at afresh."""
    live = {e.path: e for e in share.entries if not e.deleted}
    by_guid = {e.guid: e for e in share.entries}
    waiting = {e.guid for rel, e in live.items()
               if share.written.get(rel, ("", 0))[0] != e.guid
               and e.guid in share.held and rel not in share.problems}  # fmt: skip
    for guid in share.waiting - waiting:
        entry = by_guid.get(guid)
        if not sharestatus._is_file_doc(guid) or guid not in share.held:
            continue
        if entry is not None and entry.deleted:
            continue
        written = share.written.get(entry.path) if entry is not None else None
        if written is None or written[0] != guid or written[1] != share.changes.get(guid, 1):
            waiting.add(guid)
    return len(waiting)


POOL = [MANIFEST_GUID, CHUNK, "early", *(f"g{n}" for n in range(5))]
CHANGES = st.lists(
    st.one_of(
        st.tuples(st.just("hold"), st.sampled_from(POOL), st.just(0)),
        st.tuples(st.just("write"), st.sampled_from(POOL), st.integers(0, 4)),
        st.tuples(st.just("forget"), st.sampled_from(POOL), st.integers(0, 4)),
        st.tuples(st.just("problem"), st.sampled_from(POOL), st.integers(0, 4)),
        st.tuples(st.just("wait"), st.sampled_from(POOL), st.just(0)),
        st.tuples(st.just("change"), st.sampled_from(POOL), st.just(0)),
        st.tuples(st.just("delete"), st.sampled_from(POOL), st.integers(0, 4)),
    ),
    max_size=30,
)


@given(CHANGES)
def test_a_count_after_any_changes_equals_a_count_from_scratch(
    changes: list[tuple[str, str, int]],
) -> None:
    """The docs found written are remembered from one count to the next
    (``_found_written``): after any changes a count equals one made afresh."""
    share = Share(first_sync(5), held=set())
    paths = [e.path for e in share.entries]
    for change, guid, n in changes:
        if change == "hold":
            share.held.add(guid)
        elif change == "write":  # the mirror wrote the doc as it is now at that path
            share.written[paths[n]] = (guid, share.changes.get(guid, 1))
        elif change == "forget":
            share.written.pop(paths[n], None)
        elif change == "problem":
            share.problems ^= {paths[n]}
        elif change == "wait":
            share.waiting ^= {guid}
        elif change == "change":  # a peer's edit
            share.changes[guid] = share.changes.get(guid, 1) + 1
        else:
            share.entries[n].deleted = not share.entries[n].deleted
        assert files_to_write(share.service()) == counted_from_scratch(share)
