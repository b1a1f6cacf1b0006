"""Which processes a stopped server must have ended, and whether they did (Linux, /proc).

The supervisor notes the server's kernels and every descendant of the server before it
stops it, each with its start time, and looks again afterwards: a pid that the system
gave to another process meanwhile has another start time, so it is never taken for a
survivor. Where there is no /proc (not Linux) nothing is noted and nothing is reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["descendants", "running", "start_times"]

_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (None: no such process)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def _start_time(fields: list[str] | None) -> str | None:
    return fields[19] if fields is not None and len(fields) > 19 else None


def start_times(pids: Iterable[int]) -> dict[int, str]:
    """Each of `pids` that is alive, with its start time (clock ticks since boot)."""
    return {pid: start for pid in pids if (start := _start_time(_stat_fields(pid))) is not None}


def descendants(pid: int) -> set[int]:
    """Every process under `pid` (children, their children, ...), from one pass over /proc."""
    children: dict[int, list[int]] = {}
    try:
        entries = [entry.name for entry in _PROC.iterdir() if entry.name.isdigit()]
    except OSError:
        return set()
    for name in entries:
        fields = _stat_fields(int(name))
        if fields is not None and len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def running(pid: int, start: str) -> bool:
    """Whether the process `pid` that started at `start` is still alive (not a zombie)."""
    fields = _stat_fields(pid)
    return _start_time(fields) == start and fields is not None and fields[0] not in ("Z", "X")
