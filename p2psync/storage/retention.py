"""Which versions of a file's history the staggered retention policy keeps.

Pure functions over version times (seconds since the epoch), so compaction and the
tests share one rule (docs/history.md): every version younger than an hour, then the
newest of each hour for a day, of each day for 30 days, of each week up to
``max_age_days``; nothing older. The newest version is always kept: it is the
current text. Buckets are aligned on the epoch, so a day bucket is the union of 24
hour buckets and the rule keeps a subset of what it kept before when applied again
later to what it kept. A binary file's versions are also capped in bytes
(``within_bytes``, ``max_bytes``): its oldest versions go first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
DEFAULT_MAX_AGE_DAYS = 365

# (band ends at this age, bucket width within the band)
_BANDS: tuple[tuple[float, float], ...] = ((DAY, HOUR), (30 * DAY, DAY))


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """A share's ``[history]`` setting: ``keep`` is "staggered" or "none"."""

    keep: str = "staggered"
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    max_bytes: int | None = None
    """The bytes a binary file's past versions (all but its newest) may add up to;
    None: no cap."""

    def __post_init__(self) -> None:
        if self.keep not in ("staggered", "none"):
            raise ValueError(f'history keep must be "staggered" or "none", not {self.keep!r}')
        if self.max_age_days < 1:
            raise ValueError("history max_age_days must be at least 1")
        if self.max_bytes is not None and self.max_bytes < 0:
            raise ValueError("history max_bytes must be at least 0")


def _bucket(time: float, age: float, max_age: float) -> tuple[float, int] | None:
    """The bucket a version of ``age`` falls in, None if it is kept unconditionally."""
    if age < HOUR:
        return None
    for band_end, width in _BANDS:
        if age < band_end:
            return (width, int(time // width))
    if age <= max_age:
        return (WEEK, int(time // WEEK))
    return (0.0, 0)  # too old: a bucket whose versions are all dropped


def kept_indices(times: Sequence[float], now: float, policy: RetentionPolicy) -> set[int]:
    """Indices of ``times`` (oldest first, non-decreasing) that ``policy`` keeps at ``now``."""
    if not times:
        return set()
    newest = len(times) - 1
    if policy.keep == "none":
        return {newest}
    max_age = policy.max_age_days * DAY
    kept = {newest}
    newest_in_bucket: dict[tuple[float, int], int] = {}
    for index, time in enumerate(times):
        bucket = _bucket(time, now - time, max_age)
        if bucket is None:
            kept.add(index)
        elif bucket[0] > 0:
            newest_in_bucket[bucket] = index  # later indices overwrite: newest wins
    kept.update(newest_in_bucket.values())
    return kept


def within_bytes(sizes: Sequence[int], kept: set[int], max_bytes: int | None) -> set[int]:
    """The indices of ``kept`` (into ``sizes``, oldest first) left once a binary
    file's past versions are capped at ``max_bytes``: the newest kept version always
    stays (it is the file), then, going back, each older one while the sizes of those
    kept before it and its own add up to at most ``max_bytes``; from the first that
    does not fit, it and every older one go. Applied again to what it kept, it keeps
    all of it."""
    if max_bytes is None or not kept:
        return set(kept)
    newest, *older = sorted(kept, reverse=True)
    left = {newest}
    total = 0
    for index in older:
        total += sizes[index]
        if total > max_bytes:
            break
        left.add(index)
    return left
