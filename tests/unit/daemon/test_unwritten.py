"""The unwritten paths of a share (``daemon.unwritten``), kept from one count to the
next: after any sequence of changes to the view, the sync records and the docs held,
they are what a look at every path finds, and a count looks only at what changed."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2psync.daemon.unwritten import Unwritten, unwritten
from p2psync.mirror.hlc import Timestamp
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import Entry, ManifestView
from p2psync.mirror.records import Synced
from p2psync.mirror.state import SyncTable
from p2psync.replica import touched
from p2psync.replica.share import ShareReplica

GUIDS = [f"g{n}" for n in range(3)]
PATHS = ["note-0.md", "note-1.md"]


class Share:
    """A view, a sync table and the docs held, changed step by step."""

    def __init__(self, root: Path) -> None:
        self.view = ManifestView.of({})
        self.synced = SyncTable(root)
        self.held = ShareReplica(b"s" * 16)
        self.clock = 0

    def place(self, guid: str, path: str | None) -> None:
        """The entry of ``guid`` moves to ``path`` (None: deleted); a new view is read
        when the view cannot take it in place, as the mirror's keeper does."""
        self.clock += 1
        old = self.view.by_guid.get(guid)
        where = path if path is not None else (old.path if old else PATHS[0])
        new = Entry(guid, where, FileKind.TEXT, Timestamp(self.clock, 0, b"d"),
                    deleted=path is None)  # fmt: skip
        if not self.view.replace(old, new):
            self.view = ManifestView.of({**self.view.by_guid, guid: new})

    def found(self) -> dict[str, str]:
        """Every path looked at."""
        return {
            rel: entry.guid
            for rel, entry in self.view.by_path.items()
            if entry.guid in self.held
            and ((record := self.synced.get(rel)) is None or record.guid != entry.guid)
        }


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("place"), st.sampled_from(GUIDS), st.sampled_from([*PATHS, None])),
        st.tuples(st.just("hold"), st.sampled_from(GUIDS), st.just(None)),
        st.tuples(st.just("record"), st.sampled_from(GUIDS), st.sampled_from(PATHS)),
        st.tuples(st.just("forget"), st.sampled_from(GUIDS), st.sampled_from(PATHS)),
        st.tuples(st.just("count"), st.sampled_from(GUIDS), st.just(None)),
    ),
    max_size=40,
)


def walk(steps: list[tuple[str, str, str | None]]) -> None:
    """Take ``steps`` on a share, counting after each."""
    with tempfile.TemporaryDirectory() as tmp:
        share, kept = Share(Path(tmp)), None
        for step, guid, path in steps:
            if step == "place":
                share.place(guid, path)
            elif step == "hold":  # a doc arrives, or changes
                share.held.touch(guid)
            elif step == "record" and path is not None:  # the mirror wrote it
                share.synced.put(path, Synced(guid, b"d" * 32, None, b""), b"")
            elif step == "forget" and path is not None:
                share.synced.pop(path)
            kept = unwritten(share.view, share.synced, share.held, kept)
            assert kept.docs == share.found()


@settings(max_examples=250, deadline=None)
@given(STEPS)
def test_the_unwritten_paths_kept_are_those_a_look_at_every_path_finds(
    steps: list[tuple[str, str, str | None]],
) -> None:
    walk(steps)


@settings(max_examples=100, deadline=None)
@given(STEPS)
def test_more_paths_touched_than_kept_are_all_looked_at(
    steps: list[tuple[str, str, str | None]],
) -> None:
    with mock.patch.object(touched, "TOUCHED_KEPT", 1):
        walk(steps)


def test_a_count_looks_at_the_paths_changed_since_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first sync's status, asked every second: each count looks at the paths
    written or changed since the one before, not at every path."""
    share = Share(tmp_path)
    for n in range(200):
        share.view.add(Entry(f"g{n}", f"f{n}.md", FileKind.TEXT, Timestamp(n, 0, b"d")))
        share.held.touch(f"g{n}")
    kept = unwritten(share.view, share.synced, share.held, None)
    assert len(kept.docs) == 200
    looked: list[int] = []
    judge = Unwritten.judge

    def counted(tally: Unwritten, paths: set[str], held: ShareReplica) -> None:
        looked.append(len(paths))
        judge(tally, paths, held)

    monkeypatch.setattr(Unwritten, "judge", counted)
    share.synced.put("f7.md", Synced("g7", b"d" * 32, None, b""), b"")
    share.held.touch("g8")  # a peer's edit
    kept = unwritten(share.view, share.synced, share.held, kept)
    assert len(kept.docs) == 199
    assert looked == [2]
