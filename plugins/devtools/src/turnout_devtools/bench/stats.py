"""Medians, p95s, ratios and bounds: the arithmetic of `turnout bench` (and the nearest-rank
`percentile` of `turnout chaos`'s latency figures).

Why ratios: the machines this runs on are shared and noisy, so an absolute time says little;
the same work measured side by side, interleaved, and compared as a ratio of medians is
what the bounds judge. Percentiles use the nearest-rank method (no interpolation): with
few samples the p95 is simply the largest but one or two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Bound", "Summary", "percentile", "ratio", "summarize"]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    """A sample's size, median, p95, mean, minimum and maximum (same unit as the sample)."""

    n: int
    p50: float
    p95: float
    mean: float
    min: float
    max: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "p50": round(self.p50, 3),
            "p95": round(self.p95, 3),
            "mean": round(self.mean, 3),
            "min": round(self.min, 3),
            "max": round(self.max, 3),
        }


def summarize(values: Sequence[float]) -> Summary:
    """The summary of a non-empty sample."""
    if not values:
        raise ValueError("cannot summarize an empty sample")
    ordered = sorted(values)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return Summary(
        n=len(ordered),
        p50=median,
        p95=percentile(ordered, 0.95),
        mean=sum(ordered) / len(ordered),
        min=ordered[0],
        max=ordered[-1],
    )


def ratio(numerator: float, denominator: float) -> float | None:
    """`numerator / denominator` rounded to 3 places, or None when it is undefined."""
    if denominator <= 0:
        return None
    return round(numerator / denominator, 3)


@dataclass(frozen=True)
class Bound:
    """One bound the bench judges: `value` compared with `limit` (`at_most`: value <= limit)."""

    name: str
    section: str
    value: float | None
    limit: float
    at_most: bool
    unit: str = "x"

    @property
    def met(self) -> bool:
        if self.value is None:
            return False
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "section": self.section,
            "value": self.value,
            "comparison": "<=" if self.at_most else ">=",
            "limit": self.limit,
            "unit": self.unit,
            "met": self.met,
        }
