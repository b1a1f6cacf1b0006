"""Differential comparison: the same node on two backends must give the same envelope.

Expectations in a case say what must hold; the differential says that *everything else*
is the same too, which catches differences nobody thought to write down (an extra warning,
a different error name, a changed line number). Before comparing, each observation is
normalized so that only meaningful differences remain:

- removed: timings, execution and sandbox ids, the backend's id (they always differ);
- temporary directory paths become `<tmpdir>`;
- values that embed the current time (ISO date-times, epoch seconds or milliseconds within
  a day of the comparison) become a shape token such as `<now:iso-datetime>`, in outputs
  and inside printed text alike, because two runs never share a clock reading.

A case may list fields whose difference is legitimate (`differential_ignore`), for example
stdout of a flood, which is cut at each backend's own declared cap.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from turnout.conformance.expectations import Observation, abbreviate, first_difference

__all__ = ["IGNORABLE", "compare", "iso_moment", "normalize", "normalize_value"]

IGNORABLE = frozenset(
    {
        "output",
        "output_channel",
        "stdout",
        "stderr",
        "logs",
        "truncated",
        "warnings",
        "error.message",
        "error.name",
        "error.line",
        "error.stdout",
        "error.stderr",
    }
)
WINDOW_S = 24 * 3600
_TMPDIR = re.compile(r"(?:/private)?/(?:tmp|var/folders/[^/\s]+/[^/\s]+/T)/[^/\s'\":]+")
_ISO_IN_TEXT = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
)


def _near(moment: float, now: float) -> bool:
    return abs(moment - now) <= WINDOW_S


def iso_moment(text: str) -> float | None:
    """The POSIX time an ISO 8601 text names (naive times read as UTC), or None."""
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # a naive time is read as UTC (what sandboxes run in)
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def _normalize_text(text: str, now: float) -> str:
    text = _TMPDIR.sub("<tmpdir>", text)

    def replace(match: re.Match[str]) -> str:
        moment = iso_moment(match.group(0))
        return "<now:iso-datetime>" if moment is not None and _near(moment, now) else match.group(0)

    return _ISO_IN_TEXT.sub(replace, text)


def normalize_value(value: Any, now: float) -> Any:
    """`value` with every current-time reading replaced by a shape token."""
    if isinstance(value, str):
        if _ISO_IN_TEXT.fullmatch(value):
            moment = iso_moment(value)
            if moment is not None and _near(moment, now):
                return "<now:iso-datetime>"
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, list):
            return [normalize_value(item, now) for item in value]
        if isinstance(value, dict):
            return {key: normalize_value(item, now) for key, item in value.items()}
        return value
    if _near(value / 1000, now):
        return "<now:epoch-ms>"
    if _near(value, now):
        return "<now:epoch-s>"
    return value


def normalize(observation: Observation, *, now: float | None = None) -> dict[str, Any]:
    """The comparable part of an observation: no timings, ids or current-time readings."""
    moment = time.time() if now is None else now
    if observation.error is not None:
        error = observation.error
        return {
            "error": {
                "type": error.type,
                "kind": error.kind,
                "name": error.name,
                "message": _normalize_text(error.message, moment),
                "line": error.line,
                "field": error.field,
                "retryable": error.retryable,
                "stdout": _normalize_text(error.stdout, moment),
                "stderr": _normalize_text(error.stderr, moment),
            }
        }
    envelope: Mapping[str, Any] = observation.envelope or {}
    metadata: Mapping[str, Any] = envelope.get("metadata", {})
    return {
        "wrapped_as": observation.wrapped_as,
        "language": envelope.get("language"),
        "output": normalize_value(envelope.get("output"), moment),
        "output_channel": metadata.get("outputChannel"),
        "stdout": _normalize_text(str(envelope.get("stdout", "")), moment),
        "stderr": _normalize_text(str(envelope.get("stderr", "")), moment),
        "logs": [_normalize_text(str(line), moment) for line in envelope.get("logs", [])],
        "truncated": bool(metadata.get("truncated", False)),
        "warnings": list(metadata.get("warnings", [])),
    }


def _describe_side(normalized: Mapping[str, Any]) -> str:
    if "error" in normalized:
        error = normalized["error"]
        kind = f" ({error['kind']})" if error.get("kind") else ""
        return f"{error['type']}{kind}: {abbreviate(error['message'], 100, quote=False)}"
    return f"success with output {abbreviate(normalized.get('output'), 60)}"


def compare(
    reference: Mapping[str, Any],
    other: Mapping[str, Any],
    *,
    ignore: Iterable[str] = (),
    names: tuple[str, str] = ("reference", "other"),
) -> list[str]:
    """Each difference between two normalized observations, skipping `ignore`d fields."""
    ignored = set(ignore)
    if ("error" in reference) != ("error" in other):
        return [
            f"{names[0]} gave {_describe_side(reference)}; {names[1]} gave {_describe_side(other)}"
        ]
    differences = []
    if "error" in reference:
        pairs = [
            (f"error.{key}", reference["error"][key], other["error"][key])
            for key in reference["error"]
        ]
    else:
        pairs = [(key, reference[key], other[key]) for key in reference]
    for key, left, right in pairs:
        if key in ignored:
            continue
        found = first_difference(left, right, key, names)
        if found is not None:
            differences.append(found)
    return differences
