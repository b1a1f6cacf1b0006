"""Counters of what the server did, for GET /_turnout/admin/stats.

Why: tests of the plugin assert on side effects they cannot see through the SDK, such as
"the create was retried three times" or "the dropped stream interrupted the cell".
Names in use: creates, creates_failed_fault, creates_rate_limited, creates_failed_boot,
kills, kills_not_found, expired, executions, executions_interrupted, streams_dropped,
faults_fired, and per kernel language kernel_pool_hits.<language> (a kernel was ready)
and kernel_pool_misses.<language> (one had to be started on demand).
"""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["Stats"]


class Stats:
    """Event counters for GET /_turnout/admin/stats (creates, kills, faults fired, ...)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def bump(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counts[name] += by

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
