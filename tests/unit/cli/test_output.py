"""The CLI's text helpers: aligned tables, human values, progress display."""

from __future__ import annotations

import io

import pytest

from p2psync.cli import human, table
from p2psync.cli.events import format_event
from p2psync.cli.progress import Progress


def test_table_aligns_columns_and_right_aligns_numbers() -> None:
    rows = [["alpha", "3", ""], ["b", "120", "x"]]
    text = table.render(["NAME", "DOCS", "NOTE"], rows, right=[1])
    assert text.splitlines() == [
        "NAME   DOCS  NOTE",
        "alpha     3",
        "b       120  x",
    ]


def test_table_refuses_a_row_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="expected 2"):
        table.render(["A", "B"], [["only one"]])


def test_fields_align_values() -> None:
    assert table.fields([("Device", "X"), ("State", "up to date")]).splitlines() == [
        "Device  X",
        "State   up to date",
    ]


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.4, "0 s ago"), (59, "59 s ago"), (60, "1 min ago"), (7300, "2 h ago"),
     (86400, "1 day ago"), (3 * 86400, "3 days ago")],
)  # fmt: skip
def test_ago(seconds: float, expected: str) -> None:
    assert human.ago(1000.0, 1000.0 + seconds) == expected


def test_ago_never_and_clock_skew() -> None:
    assert human.ago(None, 5.0) == "never"
    assert human.ago(0, 5.0) == "never"
    assert human.ago(10.0, 5.0) == "0 s ago"


def test_sizes_rates_and_percentages() -> None:
    assert human.size(0) == "0 B"
    assert human.size(1023) == "1023 B"
    assert human.size(1536) == "1.5 KiB"
    assert human.size(3 * 1024**3) == "3.0 GiB"
    assert human.size(2 * 1024**5) == "2048.0 TiB"
    assert human.rate(12.7) == "12 B/s"
    assert human.percent(None) == "-"
    assert human.percent(100.0) == "100%"
    assert human.percent(99.9) == "99.9%"
    assert human.percent(0.0) == "0%"


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_pipe_prints_a_line_per_ten_percent() -> None:
    stream = io.StringIO()
    progress = Progress(stream=stream)
    progress.update(None, "waiting")
    progress.update(None, "waiting")
    for pct in (1.0, 5.0, 12.0, 19.0, 100.0):
        progress.update(pct, f"at {pct}")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines == ["waiting", "1% at 1.0", "12% at 12.0", "100% at 100.0"]


def test_progress_on_a_terminal_redraws_one_line() -> None:
    stream = FakeTty()
    progress = Progress(stream=stream)
    progress.update(50.0, "half")
    progress.update(100.0, "done")
    progress.close()
    text = stream.getvalue()
    assert text.count("\r") == 2
    assert "[############------------]  50%  half" in text
    assert text.endswith("[########################] 100%  done\n")


def test_disabled_progress_prints_nothing() -> None:
    stream = FakeTty()
    progress = Progress(stream=stream, enabled=False)
    progress.update(10.0, "x")
    progress.close()
    assert stream.getvalue() == ""


def test_an_event_as_one_line() -> None:
    event = {
        "type": "peer-connected",
        "time": 0.0,
        "device": "VFVQ4IY-JPUL65Y-LXKJKCO-PCQA2BX-4MYJWUL-6G2HQVD-CQPQ6ED-KGEYTAD",
        "name": "bob",
        "address": "127.0.0.1:1",
        "protocol_version": 1,
    }
    line = format_event(event)
    assert line.endswith("peer-connected  device=VFVQ4IY name=bob address=127.0.0.1:1")
    assert format_event({"type": "paused", "time": 0.0}).endswith("  paused")
