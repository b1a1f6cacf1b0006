"""Scripted faults: queued through the admin endpoint, each fired by the next matching call.

Why scripted rather than random: a test of the plugin's error handling must know exactly
which call fails and how. A fault is queued with a `count` (how many matching calls it
hits, default 1), an optional `skip` (how many matching calls it lets through first, default
0: the e2b backend runs turnout's runtime as a cell of its own before the node's cell, so
`skip: 1` aims an execution fault at the node's cell) and an optional `sandbox_id`
(execution faults only); it is consumed as it fires, and the server's counters record
every firing.

Kinds and their JSON (POST /_turnout/admin/faults, a list or `{"faults": [...]}`):

    {"kind": "create_error", "status": 503, "message"?: str, "retry_after"?: int,
     "should_retry"?: bool, "count"?: int}
        the next create(s) answer `status` (any 4xx/5xx; 429 and 503 are the useful ones)
    {"kind": "drop_stream", "after_events"?: int, "after_ms"?: int, "sandbox_id"?: str}
        the next /execute stream is cut (connection closed, no end_of_execution) after
        that many lines or milliseconds, and the cell is interrupted
    {"kind": "kill_mid_run", "after_ms"?: int, "sandbox_id"?: str}
        the sandbox running the next /execute is killed `after_ms` into the execution
    {"kind": "slow_kill", "delay_ms": int, "count"?: int}
        the next DELETE /sandboxes/{id} waits `delay_ms` before killing
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Fault", "FaultKind", "FaultQueue"]

FaultKind = Literal["create_error", "drop_stream", "kill_mid_run", "slow_kill"]
KINDS: tuple[FaultKind, ...] = ("create_error", "drop_stream", "kill_mid_run", "slow_kill")


@dataclass
class Fault:
    """One queued fault; see the module docstring for what each kind does."""

    kind: FaultKind
    count: int = 1
    status: int = 503
    message: str | None = None
    retry_after: int | None = None
    should_retry: bool | None = None
    after_events: int | None = None
    after_ms: int | None = None
    delay_ms: int = 0
    skip: int = 0
    sandbox_id: str | None = None

    @classmethod
    def from_json(cls, data: object) -> Fault:
        """Parse and check one fault object; raise ValueError naming the problem."""
        if not isinstance(data, dict):
            raise ValueError("a fault must be a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        if data.get("kind") not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}")
        fault = cls(**data)
        fault._check()
        return fault

    def _check(self) -> None:
        for name in ("count", "delay_ms", "skip"):
            if not _non_negative_int(getattr(self, name)):
                raise ValueError(f"{name} must be a non-negative integer")
        if self.count == 0:
            raise ValueError("count must be at least 1")
        for name in ("retry_after", "after_events", "after_ms"):
            value = getattr(self, name)
            if value is not None and not _non_negative_int(value):
                raise ValueError(f"{name} must be null or a non-negative integer")
        if not _non_negative_int(self.status) or not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if self.kind == "drop_stream" and self.after_events is None and self.after_ms is None:
            raise ValueError("drop_stream needs after_events or after_ms")
        if self.sandbox_id is not None and not isinstance(self.sandbox_id, str):
            raise ValueError("sandbox_id must be a string")

    def to_json(self) -> dict[str, Any]:
        """The fault as queued, without unset fields."""
        return {k: v for k, v in asdict(self).items() if v is not None}


class FaultQueue:
    """Pending faults in the order they were queued; thread-safe, consumed as they fire."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def take(self, kind: FaultKind, sandbox_id: str | None = None) -> Fault | None:
        """The first pending fault of `kind` that applies (to `sandbox_id`), used up once;
        None while that fault still lets calls through (`skip`)."""
        with self._lock:
            for fault in self._faults:
                if fault.kind != kind:
                    continue
                if fault.sandbox_id is not None and fault.sandbox_id != sandbox_id:
                    continue
                if fault.skip:
                    fault.skip -= 1
                    return None
                fault.count -= 1
                if fault.count == 0:
                    self._faults.remove(fault)
                return fault
        return None


def _non_negative_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
