"""``ManifestView.replace``: a change of one entry put in place as ``ManifestView.of``
would resolve it, or refused when it would move another entry (the keeper then reads
the manifest whole)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from p2psync.mirror.manifest import Entry, ManifestView
from tests.support.mirror import entry

HIDDEN = entry("h", "A.md", wall=2)
"""On a case-insensitive filesystem, one file with an earlier ``a.md``."""


ELDER = entry("e", "a.md")
TWIN = entry("t", "b.md", wall=2, born="a.md")
"""Created at ``a.md`` after ``ELDER``, then moved: a file taken in twice."""


def casefold(path: str) -> str:
    return path.casefold()


def view_of(*entries: Entry, key: Callable[[str], str] | None = None) -> ManifestView:
    return ManifestView.of({e.guid: e for e in entries}, key)


def changed(view: ManifestView, new: Entry) -> bool:
    return view.replace(view.by_guid.get(new.guid), new)


@pytest.mark.parametrize("key", [None, casefold])
@pytest.mark.parametrize(
    "new",
    [
        entry("g", "a.md", deleted=True),  # a delete
        entry("g", "c.md"),  # a rename
        entry("g", "A.md"),  # a rename of the case alone
        entry("g", "a.md", exec=True),  # a field
        entry("n", "new.md", wall=9),  # a new entry
        entry("d", "gone.md"),  # a deleted entry back
        entry("d", "again.md", wall=8),  # ... at another path
        entry("g", "c.md", born="a.md"),  # a rename here, from where it was created
    ],
)
def test_a_change_that_moves_no_other_entry_is_put_in_place(
    new: Entry, key: Callable[[str], str] | None
) -> None:
    before = [entry("g", "a.md"), entry("h", "b.md"), entry("d", "gone.md", deleted=True)]
    view = view_of(*before, key=key)
    assert changed(view, new)
    after = {e.guid: e for e in before} | {new.guid: new}
    assert view == ManifestView.of(after, key)
    assert view.claimed == ManifestView.of(after, key).claimed
    assert view.changes == 1


@pytest.mark.parametrize(
    ("before", "new", "key"),
    [
        # the winner of a path deleted or moved: the shadowed entry takes the path
        ([entry("g", "a.md"), entry("s", "a.md", wall=2)], entry("g", "a.md", deleted=True), None),
        ([entry("g", "a.md"), entry("s", "a.md", wall=2)], entry("g", "b.md"), None),
        # onto a path another entry holds, or shadows, or that is unsafe
        ([entry("g", "a.md"), entry("h", "b.md")], entry("g", "b.md"), None),
        ([entry("g", "a.md"), entry("h", "b.md", wall=2)], entry("h", "a.md"), None),
        ([entry("g", "a.md")], entry("g", "../a.md"), None),
        ([entry("g", "a.md"), entry("u", "../a.md")], entry("u", "b.md"), None),
        # a shadowed entry deleted (the shadowed list changes)
        ([entry("g", "a.md"), entry("s", "a.md", wall=2)], entry("s", "a.md", deleted=True), None),
        # one file on this filesystem: the hidden entry, or its winner
        ([entry("g", "a.md"), HIDDEN], entry("g", "a.md", deleted=True), casefold),
        ([entry("g", "a.md"), HIDDEN], entry("h", "b.md"), casefold),
        ([entry("g", "a.md"), entry("h", "b.md")], entry("h", "A.md"), casefold),
        # an earlier entry of the path a moved entry was created at (twins), or a
        # twin retired
        ([TWIN], ELDER, None),
        ([ELDER, TWIN], replace(TWIN, deleted=True), None),
        ([ELDER, entry("t", "a.md", wall=2)], TWIN, None),
    ],
)
def test_a_change_that_moves_another_entry_is_refused(
    before: list[Entry], new: Entry, key: Callable[[str], str] | None
) -> None:
    view = view_of(*before, key=key)
    assert not changed(view, new)
    assert view == view_of(*before, key=key)
    assert view.changes == 0


def test_an_entry_gone_from_the_manifest_leaves_the_view() -> None:
    view = view_of(entry("g", "a.md"), entry("d", "b.md", deleted=True))
    assert view.replace(view.by_guid["g"], None)
    assert view.replace(view.by_guid["d"], None)
    assert view == ManifestView()


def test_the_deleted_entry_of_a_path_is_found_after_a_delete_in_place() -> None:
    view = view_of(entry("g", "a.md"))
    gone = replace(view.by_guid["g"], deleted=True)
    assert view.replace(view.by_guid["g"], gone)
    assert view.deleted_at("a.md") is gone
    assert view.guid_for_path("a.md") == "g"


def test_an_entry_created_after_the_one_now_at_the_path_it_moved_from_is_its_twin() -> None:
    assert view_of(ELDER, TWIN).twins == [(TWIN, ELDER)]
    assert view_of(replace(ELDER, created=entry("x", "x", wall=3).created), TWIN).twins == []
    assert view_of(ELDER, replace(TWIN, born="")).twins == []
