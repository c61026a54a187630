"""A point in time as ``restore --at`` takes it: ISO-8601, or a span ago.

``2026-03-01T14:00`` (no zone: this computer's local time; ``Z`` or ``+01:00`` for
one), ``2026-03-01`` (its midnight, local), or a span before now: a whole number and
a unit, ``90s``, ``30m``, ``2h``, ``3d``, ``1w``.
"""

from __future__ import annotations

import re
from datetime import datetime

from p2psync.errors import UsageError

SPAN_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_SPAN = re.compile(r"(\d+)([smhdw])")


def parse_when(text: str, now: float) -> float:
    """``text`` as Unix seconds; UsageError saying the forms taken otherwise."""
    span = _SPAN.fullmatch(text.strip())
    try:
        if span is not None:
            return now - float(int(span.group(1)) * SPAN_UNITS[span.group(2)])
        moment = datetime.fromisoformat(text.strip())
    except OverflowError:
        raise _out_of_range(text) from None
    except ValueError:
        raise UsageError(
            f"{text!r} is not a time: use ISO-8601 (2026-03-01T14:00, local time unless it "
            "names a zone) or a span ago (30m, 2h, 3d, 1w)"
        ) from None
    try:
        when = moment.timestamp()  # a naive time is local time
    except (OverflowError, ValueError):  # the first or last days of the calendar
        raise _out_of_range(text) from None
    if when > now:
        raise UsageError(f"{text} is in the future: nothing to restore from there")
    return when


def _out_of_range(text: str) -> UsageError:
    """Refusing a TIME the clock cannot count (year 1, a span of ages)."""
    return UsageError(f"{text!r} is too far back for this computer's clock: give a time "
                      "after 1970")  # fmt: skip
