"""New files taken in as groups (mirror/newfiles.py): groups overlap, yet each file's
entry is stored after its doc is durable and before its sync record, in group order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from p2psync.mirror import newfiles
from p2psync.mirror.store import YDoc
from tests.support.mirror import make_mirror


def test_the_next_group_is_made_while_the_one_before_is_stored_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(newfiles, "GROUP_FILES", 2)
    names = [f"f{i}.txt" for i in range(6)]
    for name in names:
        (tmp_path / name).write_text(f"{name}\n")
    steps: list[tuple[str, list[str]]] = []

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        second_started = trio.Event()
        make = store.create_docs

        async def create_docs(edits: Mapping[str, Callable[[YDoc], None]]) -> dict[str, str]:
            group = sorted(edits)
            steps.append(("docs", group))
            if len(steps) == 1:  # the first group is durable only once the second is under way
                await second_started.wait()
            else:
                second_started.set()
            failed = await make(edits)
            steps.append(("durable", group))
            return failed

        def rels_of(guids: list[str]) -> list[str]:
            return sorted(e.path for e in mirror.view.by_guid.values() if e.guid in guids)

        store_new, record_new = mirror.keeper.store_new, mirror.ledger.record_new

        async def entries() -> None:
            steps.append(("entries", sorted(e.guid for e in mirror.keeper._new_entries)))
            await store_new()

        async def records(new: list[tuple[str, Any, bytes]]) -> None:
            steps.append(("records", sorted(rel for rel, _, _ in new)))
            await record_new(new)

        monkeypatch.setattr(store, "create_docs", create_docs)
        monkeypatch.setattr(mirror.keeper, "store_new", entries)
        monkeypatch.setattr(mirror.ledger, "record_new", records)
        with trio.fail_after(10):
            await mirror.local_changes(names)
        assert [kind for kind, _ in steps[:2]] == ["docs", "docs"]  # two groups under way
        groups = [guids for kind, guids in steps if kind == "docs"]
        assert [rels_of(g) for g in groups] == [names[0:2], names[2:4], names[4:6]]
        for guids in groups:
            durable = steps.index(("durable", guids))
            entered = steps.index(("entries", guids))
            recorded = steps.index(("records", rels_of(guids)))
            assert durable < entered < recorded
        entered_order = [guids for kind, guids in steps if kind == "entries"]
        assert entered_order == groups  # the manifest takes the groups in order
        assert sorted(mirror.synced) == names

    trio.run(main)
