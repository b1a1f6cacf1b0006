"""What a section of `turnout bench` returns, and how sections take their samples.

Each section (`local_sections`, `e2b_sections`, `memory`, `startup`, and those plugins add)
returns a `SectionResult`: its figures (JSON-ready) and the bounds it judges.
Side-by-side measurements are interleaved (A, B, B, A, ...) after a warm-up, so drift on a
shared machine hits both sides alike.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from turnout_devtools.bench.stats import Bound, summarize

if TYPE_CHECKING:
    pass

__all__ = [
    "E2B",
    "LOCAL",
    "MIB",
    "PAYLOAD_BYTES",
    "SectionResult",
    "elapsed_ms",
    "interleaved",
    "p50",
    "summary",
]

MIB = 1024 * 1024
PAYLOAD_BYTES = 10 * MIB
LOCAL = "local-subprocess"
E2B = "e2b"


@dataclass
class SectionResult:
    """What one section measured, and the bounds it judged."""

    figures: dict[str, Any] = field(default_factory=dict)
    bounds: list[Bound] = field(default_factory=list)
    skipped: str | None = None


async def elapsed_ms(action: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await action()
    return (time.perf_counter() - started) * 1000


def summary(values: list[float]) -> dict[str, Any]:
    return summarize(values).to_dict()


def p50(values: list[float]) -> float:
    return summarize(values).p50


async def interleaved(
    count: int,
    warmup: int,
    sides: dict[str, Callable[[], Awaitable[float]]],
    before_each: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, list[float]]:
    """`count` samples per side, alternating which side goes first, after `warmup` rounds."""
    names = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(warmup + count):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            if before_each is not None:
                await before_each()
            value = await sides[name]()
            if index >= warmup:
                samples[name].append(value)
    return samples
