"""The staggered retention rule and the timeline, on a simulated clock."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pycrdt
import pytest

from p2psync.storage.compaction import replay
from p2psync.storage.retention import DAY, HOUR, WEEK, RetentionPolicy, kept_indices
from p2psync.storage.timeline import Version, char_changes, record
from p2psync.storage.versionindex import prune
from p2psync.storage.versionstate import fold, text_of

NOW = 1_800_000_000.0
STAGGERED = RetentionPolicy()


def test_everything_younger_than_an_hour_is_kept() -> None:
    times = [NOW - 3500 + i for i in range(100)]
    assert kept_indices(times, NOW, STAGGERED) == set(range(100))


def test_one_per_hour_then_day_then_week_and_nothing_past_max_age() -> None:
    times = sorted(NOW - age for age in range(0, int(400 * DAY), 600))
    kept = [times[i] for i in sorted(kept_indices(times, NOW, STAGGERED))]
    ages = [NOW - t for t in kept]
    assert sum(a < HOUR for a in ages) == 6  # every 10 minutes
    hour_band = {int(t // HOUR) for t in kept if HOUR <= NOW - t < DAY}
    assert len(hour_band) == len([t for t in kept if HOUR <= NOW - t < DAY])
    day_band = [t for t in kept if DAY <= NOW - t < 30 * DAY]
    assert len({int(t // DAY) for t in day_band}) == len(day_band)
    week_band = [t for t in kept if NOW - t >= 30 * DAY]
    assert len({int(t // WEEK) for t in week_band}) == len(week_band)
    assert max(ages) <= 365 * DAY


def test_keep_none_keeps_only_the_current_version() -> None:
    times = [NOW - 10 * DAY, NOW - 5, NOW]
    assert kept_indices(times, NOW, RetentionPolicy(keep="none")) == {2}
    assert kept_indices([NOW - 900 * DAY], NOW, STAGGERED) == {0}


def test_bad_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="staggered"):
        RetentionPolicy(keep="all")
    with pytest.raises(ValueError, match="max_age_days"):
        RetentionPolicy(max_age_days=0)


def test_saves_closer_than_ten_seconds_coalesce() -> None:
    timeline: list[Version] = []
    record(timeline, time=0, device="A", kind="create", log_end=1, before="", after="a")
    record(timeline, time=20, device="A", kind="local save", log_end=2, before="a", after="ab")
    record(timeline, time=25, device="A", kind="local save", log_end=3, before="ab", after="abc")
    record(timeline, time=40, device="B", kind="remote change", log_end=4, before="abc", after="c")
    assert [(v.kind, v.log_end, v.added, v.removed, v.devices) for v in timeline] == [
        ("create", 1, 1, 0, ("A",)),
        ("local save", 3, 2, 0, ("A",)),
        ("remote change", 4, 0, 2, ("B",)),
    ]
    with pytest.raises(ValueError, match="kind"):
        record(timeline, time=45, device="A", kind="edit", log_end=5, before="", after="")


def test_edits_of_several_devices_closer_than_ten_seconds_are_one_version() -> None:
    """Two devices editing together (their edits alternating, as apps on two daemons
    do) make one version naming both once they alternate, not one per turn; a
    create, a rename or a delete is never taken into one, a pause starts the next, and
    one change by another device after a save is a version of its own."""
    timeline: list[Version] = []
    record(timeline, time=0, device="A", kind="create", log_end=1, before="", after="a")
    text = "a"
    for turn in range(1, 40):
        device, kind = ("B", "remote change") if turn % 2 else ("A", "local save")
        base, text = text, text + str(turn % 10)
        record(timeline, time=turn * 0.5, device=device, kind=kind, log_end=turn + 1,
               before=base, after=text)  # fmt: skip
    record(timeline, time=40, device="A", kind="rename", log_end=40, before=text, after=text,
           old_path="old.md")  # fmt: skip
    record(timeline, time=41, device="C", kind="local save", log_end=41, before=text,
           after=text + "!")  # fmt: skip
    record(timeline, time=45, device="B", kind="remote change", log_end=42, before=text + "!",
           after=text + "!?")  # fmt: skip
    assert [(v.number, v.kind, v.devices, v.log_end) for v in timeline] == [
        (1, "create", ("A",), 1),
        (2, "remote change", ("B",), 2),
        (3, "local save", ("A", "B"), 40),
        (4, "rename", ("A",), 40),
        (5, "local save", ("C",), 41),
        (6, "remote change", ("B",), 42),
    ]
    assert [(v.added, v.removed) for v in timeline[1:3]] == [(1, 0), (38, 0)]


def test_a_coalesced_versions_counts_are_the_sums_of_its_changes() -> None:
    """Each change is counted against the text just before it, and a version that
    changes coalesce into adds them up: +3, +2/-1, +4 make +9/-1 (a diff across the
    version would say +8), an insertion the next change deletes +5/-5 (not +0/-0).
    So joining a version costs what making one does, however long it grew."""
    timeline: list[Version] = []
    record(timeline, time=0, device="A", kind="create", log_end=1, before="", after="hello")
    texts = ["hello", "hello123", "hello1xy3", "hello1xy3abcd"]
    for n, (before, after) in enumerate(itertools.pairwise(texts), start=1):
        record(timeline, time=20 + n, device="A", kind="local save", log_end=1 + n,
               before=before, after=after)  # fmt: skip
    assert [(v.number, v.log_end, v.added, v.removed) for v in timeline] == [
        (1, 1, 5, 0),
        (2, 4, 9, 1),
    ]
    assert char_changes(texts[0], texts[-1]) == (8, 0)

    # an insertion and its deletion, by two devices editing together: B's change is
    # a version of its own, A's answer joins it
    together: list[Version] = []
    turns = [("A", "create", "hello"), ("A", "local save", "hello!"),
             ("B", "remote change", "hello!12345"), ("A", "local save", "hello!")]  # fmt: skip
    before = ""
    for n, (device, kind, after) in enumerate(turns):
        record(together, time=n and 20 + n, device=device, kind=kind, log_end=n + 1,
               before=before, after=after)  # fmt: skip
        before = after
    assert [(v.number, v.devices, v.added, v.removed) for v in together] == [
        (1, ("A",), 5, 0),
        (2, ("A",), 1, 0),
        (3, ("B", "A"), 5, 5),
    ]


def test_a_binary_files_saves_by_two_devices_in_turn_stay_apart() -> None:
    timeline: list[Version] = []
    for turn in range(4):
        record(timeline, time=turn, device="AB"[turn % 2], kind="remote change",
               log_end=turn + 1, before="", after="", changes=(0, 0, 10),
               together=False)  # fmt: skip
    assert [v.devices for v in timeline] == [("A",), ("B",), ("A",), ("B",)]


def test_char_changes_count_characters_not_bytes() -> None:
    assert char_changes("héllo", "hallo 中") == (3, 1)


@pytest.mark.parametrize("seed", range(25))
def test_every_kept_version_restores_to_exactly_its_text(seed: int) -> None:
    """Random edits over simulated months, retention applied as compaction would."""
    rng = random.Random(seed)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = doc.get("content", type=pycrdt.Text)
    updates: list[bytes] = []
    timeline: list[Version] = []
    texts_by_time: dict[float, str] = {}  # a version's time -> its text
    clock = NOW - 120 * DAY
    current = ""
    state = doc.get_state()
    # ASCII only: pycrdt indexes Text by UTF-8 byte, and a cut inside a character
    # corrupts the doc (found writing this test)
    for _ in range(200):
        clock += rng.choice([2.0, 30.0, HOUR / 3, 5 * HOUR, 2 * DAY])
        if current and rng.random() < 0.4:
            start = rng.randrange(len(current))
            del text[start : min(len(current), start + rng.randint(1, 5))]
        else:
            text.insert(rng.randint(0, len(current)), rng.choice(["a", "bc ", "\n"]))
        updates.append(doc.get_update(state))
        state = doc.get_state()
        before = str(text)
        kind = "create" if not timeline else rng.choice(["local save", "remote change"])
        version = record(
            timeline,
            time=clock,
            device=rng.choice("AB"),
            kind=kind,
            log_end=len(updates),
            before=current,
            after=before,
        )
        texts_by_time[version.time] = before
        current = before
        if rng.random() < 0.1:  # compaction: prune, fold a prefix into a snapshot
            timeline[:] = prune(timeline, clock, STAGGERED)
            cut = rng.randint(1, len(updates))
            timeline[:] = fold(timeline, updates[:cut])
            updates[:cut] = [replay(updates[:cut]).get_update()]
    keep = kept_indices([v.time for v in timeline], clock, STAGGERED)
    assert len(timeline) - 1 in keep
    for index in keep:
        version = timeline[index]
        assert text_of(version, updates, "content") == texts_by_time[version.time]


@pytest.mark.parametrize("seed", range(15))
def test_deletions_never_push_out_a_deleted_files_last_text(seed: int) -> None:
    """Random edits and deletions over simulated months: after each prune the newest
    text is kept and restores exactly, every kept text restores exactly, and a kept
    deletion is the newest version or follows a kept one."""
    rng = random.Random(seed)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = doc.get("content", type=pycrdt.Text)
    updates: list[bytes] = []
    timeline: list[Version] = []
    texts: dict[int, str] = {}  # version number -> its text
    clock = NOW - 90 * DAY
    policy = rng.choice([STAGGERED, RetentionPolicy(keep="none")])
    newest_text = 0
    for _ in range(150):
        clock += rng.choice([2.0, 30.0, HOUR / 3, 5 * HOUR, 2 * DAY])
        deleting = bool(timeline) and timeline[-1].kind != "delete" and rng.random() < 0.2
        if not deleting:
            text.insert(rng.randint(0, len(str(text))), rng.choice(["a", "bc ", "\n"]))
            updates.append(doc.get_update())
        kind = "delete" if deleting else ("create" if not timeline else "local save")
        after = "" if deleting else str(text)
        version = record(timeline, time=clock, device="A", kind=kind, log_end=len(updates),
                         before=texts.get(timeline[-1].number, "") if timeline else "",
                         after=after)  # fmt: skip
        texts[version.number] = after
        newest_text = version.number if not deleting else newest_text
        if rng.random() < 0.2:
            before = list(timeline)
            timeline[:] = prune(timeline, clock, policy)
            kept = {v.number for v in timeline}
            assert newest_text in kept  # a deleted file's last text, however old
            for j, version in enumerate(before):
                if version.number in kept:
                    assert text_of(version, updates, "content") == texts[version.number]
                if version.kind == "delete" and version.number in kept:
                    assert j == len(before) - 1 or before[j - 1].number in kept
