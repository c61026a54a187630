"""``line_union``: two versions of one text with no shared history, nothing dropped."""

from __future__ import annotations

import random

from p2psync.mirror.union import line_union


def test_the_lines_a_save_added_land_where_they_stand_in_it() -> None:
    kept = "one\ntwo\nthree\n"
    assert line_union(kept, "one\ntwo\nsaved\nthree\n") == "one\ntwo\nsaved\nthree\n"


def test_no_line_of_either_is_dropped() -> None:
    kept = "one\ntwo\nthree\nfour\n"
    other = "one\nthree\nfour\nadded\n"  # "two" deleted there, "added" added
    assert line_union(kept, other) == "one\ntwo\nthree\nfour\nadded\n"


def test_a_line_changed_in_place_keeps_both_versions() -> None:
    assert line_union("a\nb\nc\n", "a\nB\nc\n") == "a\nb\nB\nc\n"


def test_a_last_line_without_a_break_is_not_joined_with_an_added_line() -> None:
    assert line_union("a\nb", "a\nb\nc\n") == "a\nb\nc\n"


def test_unrelated_texts_are_not_merged() -> None:
    assert line_union("alice's history\n", "bob's history\n") is None
    assert line_union("a\nb\nc\n", "x\ny\nz\nc\n") is None


def test_equal_texts_and_a_text_with_nothing_of_its_own_merge_to_the_kept_one() -> None:
    assert line_union("a\nb\n", "a\nb\n") == "a\nb\n"
    assert line_union("a\nb\n", "") == "a\nb\n"


def test_every_line_of_both_is_in_the_union_and_merging_again_adds_nothing() -> None:
    rng = random.Random(7)
    for _ in range(200):
        base = [f"line {i}\n" for i in range(rng.randint(2, 12))]
        kept = [line for line in base if rng.random() > 0.2] + ["kept edit\n"] * rng.randint(0, 1)
        other = list(base)
        for _ in range(rng.randint(0, 3)):
            other.insert(rng.randint(0, len(other)), f"added {rng.random()}\n")
        union = line_union("".join(kept), "".join(other))
        if union is None:
            continue
        lines = union.splitlines(keepends=True)
        assert all(line in lines for line in kept + other)
        assert line_union(union, "".join(other)) == union
