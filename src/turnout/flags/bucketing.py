"""Sticky percentage buckets: Unleash's normalized murmur3.

`bucket(key, group)` is `murmur3_32(f"{group}:{key}", seed=0) % 100 + 1`, a number in
1..100 that depends only on the key and the group. The same tenant therefore always lands
in the same bucket (sticky), and a different group (another environment, or shadow
sampling) assigns buckets independently. A key is "in" a p% rollout when its bucket is
<= p, so raising p only ever adds keys.

Stages share the 100 buckets in one fixed order, most advanced first (complete, rampdown,
live, shadow, off): raising the share of a stage at the expense of a less advanced one only
ever moves keys forward, never back.
"""

from __future__ import annotations

from collections.abc import Mapping

import mmh3

from turnout.flags.stages import RANGE_ORDER, Stage

__all__ = ["BUCKETS", "StageRange", "bucket", "stage_for_bucket", "stage_ranges"]

BUCKETS = 100

StageRange = tuple[Stage, int, int]
"""A stage and its inclusive bucket range, e.g. ("live", 1, 10)."""


def bucket(key: str, group: str) -> int:
    """The key's bucket in `group`, 1..100 (Unleash's `normalizedValue`).

    Strings are hashed as UTF-8; lone surrogates (which no real id contains, but a caller
    might pass) are kept with `surrogatepass` rather than failing.
    """
    data = f"{group}:{key}".encode("utf-8", "surrogatepass")
    return int(mmh3.hash(data, 0, signed=False)) % BUCKETS + 1


def stage_ranges(shares: Mapping[Stage, int]) -> tuple[StageRange, ...]:
    """Cumulative bucket ranges for stage shares (percentages summing to 100), in order."""
    ranges: list[StageRange] = []
    low = 1
    for stage in RANGE_ORDER:
        share = shares.get(stage, 0)
        if share > 0:
            ranges.append((stage, low, low + share - 1))
            low += share
    return tuple(ranges)


def stage_for_bucket(value: int, ranges: tuple[StageRange, ...]) -> StageRange | None:
    """The range holding bucket `value`, or None when the shares leave it uncovered."""
    for entry in ranges:
        if entry[1] <= value <= entry[2]:
            return entry
    return None
