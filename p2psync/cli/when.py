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
    if span is not None:
        return now - int(span.group(1)) * SPAN_UNITS[span.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{text!r} is not a time: use ISO-8601 (2026-03-01T14:00, local time unless it "
            "names a zone) or a span ago (30m, 2h, 3d, 1w)"
        ) from None
    when = moment.timestamp()  # a naive time is local time
    if when > now:
        raise UsageError(f"{text} is in the future: nothing to restore from there")
    return when
