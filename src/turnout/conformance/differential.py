"""Differential comparison: the same node on two backends must give the same envelope.

Expectations in a case say what must hold; the differential says that *everything else*
is the same too, which catches differences nobody thought to write down (an extra warning,
a different error name, a changed line number). Before comparing, each observation is
normalized so that only meaningful differences remain:

- removed: timings, execution and sandbox ids, the backend's id (they always differ);
- temporary directory paths become `<tmpdir>`;
- readings of the current time (ISO dates and date-times, epoch seconds to nanoseconds,
  within a day of the comparison) become a token such as `<now:iso-datetime>`, in outputs,
  stdout, stderr, logs and error messages alike, also inside longer strings, because two
  runs never share a clock reading (`turnout.timemask.mask_time` decides what a reading is).

A case may list fields whose difference is legitimate (`differential_ignore`), for example
stdout of a flood, which is cut at each backend's own declared cap; a replayed node may also
name places inside its output (`IgnorePath`).
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from turnout.conformance.expectations import Observation, abbreviate, first_difference
from turnout.timemask import mask_time

__all__ = ["IGNORABLE", "IGNORED", "IgnorePath", "apply_ignores", "compare", "normalize"]

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
#: What an ignored place holds after `apply_ignores`, on both sides alike.
IGNORED = "<ignored>"
_TMPDIR = re.compile(r"(?:/private)?/(?:tmp|var/folders/[^/\s]+/[^/\s]+/T)/[^/\s'\":]+")
_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(\d+|\*)\]|\[(\"(?:[^\"\\\\]|\\\\.)*\")\]")


def _normalize_text(text: str, now: float) -> str:
    return str(mask_time(_TMPDIR.sub("<tmpdir>", text), now))


@dataclass(frozen=True)
class IgnorePath:
    """A field whose difference is legitimate (one of `IGNORABLE`), or a place inside the
    output: `output.sagaId`, `output.items[0].id`, `output.items[*].id`, `output["a b"]`
    (`[*]` is every item of a list or every value of an object)."""

    text: str
    field: str
    steps: tuple[str | int | None, ...] = ()

    @classmethod
    def parse(cls, text: str) -> IgnorePath:
        """Parse `text`; ValueError says what is allowed."""
        if text in IGNORABLE:
            return cls(text, text)
        if not re.match(r"output[.\[]", text):
            raise ValueError(
                f"cannot ignore {text!r}: give one of {', '.join(sorted(IGNORABLE))}, or a "
                "place inside the output such as output.id, output.items[0], output.items[*].id "
                'or output["a key"]'
            )
        steps: list[str | int | None] = []
        position = len("output")
        while position < len(text):
            match = _STEP.match(text, position)
            if match is None:
                raise ValueError(
                    f"cannot read {text!r} at {text[position:]!r}: steps are .key, [index], "
                    '[*] or ["a key"]'
                )
            name, index, quoted = match.groups()
            if name is not None:
                steps.append(name)
            elif index is not None:
                steps.append(None if index == "*" else int(index))
            else:
                steps.append(json.loads(quoted))
            position = match.end()
        return cls(text, "output", tuple(steps))


def _blank(container: Any, key: Any, steps: tuple[str | int | None, ...]) -> None:
    """Set the place `steps` below `container[key]` to IGNORED. A missing last key of an
    object is set too (present against absent is ignored as well); below a missing place
    there is nothing to ignore."""
    if not steps:
        if isinstance(container, dict) or _has(container, key):
            container[key] = IGNORED
        return
    if not _has(container, key):
        return
    value = container[key]
    step, rest = steps[0], steps[1:]
    if step is None:
        children: list[Any] = list(range(len(value))) if isinstance(value, list) else []
        children += list(value) if isinstance(value, dict) else []
        for child in children:
            _blank(value, child, rest)
    elif (isinstance(value, dict) and isinstance(step, str)) or (
        isinstance(value, list) and isinstance(step, int)
    ):
        _blank(value, step, rest)


def _has(container: Any, key: Any) -> bool:
    if isinstance(container, dict):
        return key in container
    return isinstance(container, list) and isinstance(key, int) and key < len(container)


def apply_ignores(normalized: Mapping[str, Any], paths: Iterable[IgnorePath]) -> dict[str, Any]:
    """A copy of a normalized observation with every place `paths` name set to IGNORED."""
    result = copy.deepcopy(dict(normalized))
    for path in paths:
        if path.field.startswith("error."):
            if "error" in result:
                _blank(result["error"], path.field.removeprefix("error."), ())
        elif "error" not in result:
            _blank(result, path.field, path.steps)
    return result


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
        "output": mask_time(envelope.get("output"), moment),
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
