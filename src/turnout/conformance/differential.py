"""Differential comparison: the same node on two backends must give the same envelope.

Expectations in a case say what must hold; the differential says that *everything else*
is the same too, which catches differences nobody thought to write down (an extra warning,
a different error name, a changed line number). Each observation is normalized by
`turnout.normalization.normalize`, the one definition of "the same envelope" that shadow
comparison in production uses too (timings, ids, the backend and what a run cost removed;
temporary paths and readings of the current time masked), and the differences are told as
readable lines for the parity and replay reports.

A case may list fields whose difference is legitimate (`differential_ignore`), for example
stdout of a flood, which is cut at each backend's own declared cap; a replayed node may also
name places inside its output (`IgnorePath`). The lines of a report come from
`turnout.normalization.describe_differences`.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from turnout.conformance.expectations import Observation
from turnout.normalization import normalize as normalize_outcome

__all__ = ["IGNORABLE", "IGNORED", "IgnorePath", "apply_ignores", "normalize"]

IGNORABLE = frozenset(
    {
        "output",
        "stdout",
        "stderr",
        "logs",
        "metadata.outputChannel",
        "metadata.truncated",
        "metadata.warnings",
        "error.message",
        "error.name",
        "error.line",
        "error.stdout",
        "error.stderr",
    }
)
#: What an ignored place holds after `apply_ignores`, on both sides alike.
IGNORED = "<ignored>"
_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(\d+|\*)\]|\[(\"(?:[^\"\\\\]|\\\\.)*\")\]")


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
        top, _, inner = path.field.partition(".")
        if top in result:  # not an error's field on a success, nor the other way round
            _blank(result, top, (inner, *path.steps) if inner else path.steps)
    return result


def normalize(observation: Observation, *, now: float | None = None) -> dict[str, Any]:
    """The comparable part of an observation (`turnout.normalization.normalize`), with
    readings of the current time masked near `now` (default: this moment)."""
    now = time.time() if now is None else now
    if observation.error is not None:
        return normalize_outcome(observation.error, now=now)
    return normalize_outcome(observation.envelope or {}, wrapped_as=observation.wrapped_as, now=now)
