"""restore --at TIME: ISO-8601 or a span ago; anything else is a usage error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from p2psync.cli.when import parse_when
from p2psync.errors import UsageError

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "ago"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("3d", 259_200), ("1w", 604_800)]
)
def test_spans_count_back_from_now(text: str, ago: int) -> None:
    assert parse_when(text, NOW) == NOW - ago


def test_iso_times_with_a_zone_and_without() -> None:
    assert (
        parse_when("2026-01-01T10:00:00Z", NOW) == datetime(2026, 1, 1, 10, tzinfo=UTC).timestamp()
    )
    local = datetime(2026, 1, 1, 10)  # no zone: this computer's local time
    assert parse_when("2026-01-01T10:00", NOW) == local.timestamp()


@pytest.mark.parametrize(
    "text",
    ["yesterday", "2h ago", "-3d", "", "2999-01-01",
     "0001-01-01", "0001-01-01T00:00", "9" * 400 + "w"],  # out of the clock's range
)  # fmt: skip
def test_other_text_is_refused_in_one_sentence(text: str) -> None:
    with pytest.raises(UsageError):
        parse_when(text, NOW)
