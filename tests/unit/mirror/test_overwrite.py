"""Spotting a save that wrote back an older copy over the daemon's write."""

from __future__ import annotations

from p2psync.mirror.overwrite import RACE_WINDOW_S, RecentWrites, Written, dropped_written_lines


def test_a_save_lacking_a_line_the_write_added_dropped_it() -> None:
    write = Written(0.0, b"a\nb\n", b"a\nP\nb\n")
    assert dropped_written_lines(write, b"a\nb\nmine\n")
    assert not dropped_written_lines(write, b"a\nP\nb\nmine\n")
    assert not dropped_written_lines(write, b"P\n")  # deleting other lines is an edit


def test_a_repeated_line_counts_each_copy_the_write_added() -> None:
    write = Written(0.0, b"x\n", b"x\nx\n")
    assert dropped_written_lines(write, b"x\n")
    assert not dropped_written_lines(write, b"x\nx\n")


def test_a_write_that_only_removed_lines_is_never_overwritten() -> None:
    assert not dropped_written_lines(Written(0.0, b"a\nb\n", b"a\n"), b"a\nb\n")


def test_only_the_first_save_within_the_window_is_suspected() -> None:
    recent = RecentWrites()
    recent.wrote("d.txt", b"a\n", b"a\nP\n", now=100.0)
    assert recent.overwritten("d.txt", b"a\n", now=100.0 + RACE_WINDOW_S + 1) is None
    recent.wrote("d.txt", b"a\n", b"a\nP\n", now=200.0)
    assert recent.overwritten("d.txt", b"a\n", now=201.0) == b"a\nP\n"
    assert recent.overwritten("d.txt", b"a\n", now=201.5) is None


def test_expired_writes_are_forgotten() -> None:
    recent = RecentWrites()
    recent.wrote("d.txt", b"", b"P\n", now=0.0)
    recent.wrote("e.txt", b"", b"P\n", now=RACE_WINDOW_S)
    recent.expire(now=RACE_WINDOW_S + 1)
    # Asked as if at the time of the writes: only the one still in the window is held.
    assert recent.overwritten("d.txt", b"", now=1.0) is None
    assert recent.overwritten("e.txt", b"", now=RACE_WINDOW_S) == b"P\n"
