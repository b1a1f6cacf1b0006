"""What an execution was observed to do, and how that is matched against a case's expectations.

`Observation` is backend-neutral: the unwrapped envelope, or the one error raised, plus the
wall-clock time the runner measured. `check` returns human-readable mismatches (empty: the
expectation holds). Equality is exact and type-strict, as callers reading JSON see it: `3`
is not `3.0` and `1` is not `true`. Values that cannot be known in advance (timestamps,
very large outputs) are matched by `Shape`.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from turnout.backend import truncation_marker
from turnout.conformance.case_schema import ErrorExpectation, Expectation, Shape
from turnout.json_diff import abbreviate, first_difference, json_type_name, same_json
from turnout.models import Capabilities
from turnout.normalization import ErrorInfo

__all__ = ["Observation", "check", "is_iso_date", "is_iso_datetime", "shape_problems"]

_TRUNCATION_PREFIX = "[turnout: {stream} truncated at "


@dataclass(frozen=True)
class Observation:
    """One execution as a caller saw it: an envelope (unwrapped) or an error.

    `wall_ms` is the caller's wall time less `provisioning_ms`, the time the backend spent
    getting a slot and a sandbox before the code could start (see conformance.timing):
    what a case's wall-time bounds are checked against. `provisioning_ms` is what the
    backend reported (`provisioning_reported_ms`) up to the cap. `overdue` says why there
    is neither an envelope nor an error: the call gave no result within the runner's
    deadline (see conformance.deadline). `cancelled`: the caller cancelled the call and
    it ended as asked, raising CancelledError (see conformance.lifecycle).
    """

    envelope: Mapping[str, Any] | None
    error: ErrorInfo | None
    wall_ms: float
    wrapped_as: str | None = None
    extra_problems: tuple[str, ...] = field(default=())
    provisioning_ms: float = 0.0
    provisioning_reported_ms: float = 0.0
    overdue: str | None = None
    cancelled: bool = False

    @classmethod
    def from_return(
        cls,
        returned: Mapping[str, Any],
        wall_ms: float,
        provisioning_ms: float = 0.0,
        provisioning_reported_ms: float | None = None,
    ) -> Observation:
        """From what `execute_code_node` returned: `{outputVariable: envelope}` is unwrapped."""
        reported = provisioning_ms if provisioning_reported_ms is None else provisioning_reported_ms
        name = None
        if "metadata" not in returned and len(returned) == 1:
            [(name, returned)] = returned.items()
        return cls(
            returned,
            None,
            wall_ms,
            name,
            provisioning_ms=provisioning_ms,
            provisioning_reported_ms=reported,
        )

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def stdout(self) -> str:
        if self.error is not None:
            return self.error.stdout
        return str((self.envelope or {}).get("stdout", ""))

    @property
    def stderr(self) -> str:
        if self.error is not None:
            return self.error.stderr
        return str((self.envelope or {}).get("stderr", ""))

    @property
    def metadata(self) -> Mapping[str, Any]:
        return (self.envelope or {}).get("metadata", {}) if self.error is None else {}

    def summary(self) -> str:
        if self.overdue is not None:
            return f"no result: {self.overdue}"
        if self.cancelled:
            return "cancelled"
        if self.error is not None:
            return self.error.summary()
        output = (self.envelope or {}).get("output")
        return f"success with output {abbreviate(output)}"


# -- shapes ---------------------------------------------------------------------------------


_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def is_iso_datetime(text: str) -> bool:
    """An ISO 8601 date and time (`2024-05-01T12:00:00.000Z`, with or without an offset)."""
    if not _ISO_DATETIME.fullmatch(text):
        return False
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def is_iso_date(text: str) -> bool:
    try:
        return len(text) == 10 and bool(datetime.date.fromisoformat(text))
    except ValueError:
        return False


_SHAPE_TYPES: dict[str, tuple[type, ...]] = {
    "null": (type(None),),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "array": (list,),
    "object": (dict,),
}


def _has_type(value: Any, name: str) -> bool:
    if name == "any":
        return True
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _SHAPE_TYPES[name])


def shape_problems(shape: Shape, value: Any, path: str = "output") -> list[str]:
    """Every way `value` does not have `shape` (empty: it does)."""
    wanted = shape.type if isinstance(shape.type, list) else [shape.type]
    if not any(_has_type(value, name) for name in wanted):
        return [f"{path}: expected {' or '.join(wanted)}, got {json_type_name(value)}"]
    problems: list[str] = []
    if shape.equals is not None and not same_json(shape.equals, value):
        problems.append(first_difference(shape.equals, value, path) or path)
    if isinstance(value, str):
        if shape.pattern is not None and not re.fullmatch(shape.pattern, value):
            problems.append(f"{path}: {abbreviate(value)} does not match /{shape.pattern}/")
        if shape.format == "iso-datetime" and not is_iso_datetime(value):
            problems.append(f"{path}: {abbreviate(value)} is not an ISO 8601 date-time")
        if shape.format == "iso-date" and not is_iso_date(value):
            problems.append(f"{path}: {abbreviate(value)} is not an ISO 8601 date")
    if isinstance(value, str | list | dict):
        size = len(value)
        if shape.length is not None and size != shape.length:
            problems.append(f"{path}: expected length {shape.length}, got {size}")
        if shape.min_length is not None and size < shape.min_length:
            problems.append(f"{path}: expected length >= {shape.min_length}, got {size}")
        if shape.max_length is not None and size > shape.max_length:
            problems.append(f"{path}: expected length <= {shape.max_length}, got {size}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if shape.minimum is not None and value < shape.minimum:
            problems.append(f"{path}: {value} is below {shape.minimum}")
        if shape.maximum is not None and value > shape.maximum:
            problems.append(f"{path}: {value} is above {shape.maximum}")
    if isinstance(value, list) and shape.items is not None:
        for index, item in enumerate(value):
            found = shape_problems(shape.items, item, f"{path}[{index}]")
            if found:
                problems.extend(found)
                break  # one bad item is enough to say what is wrong
    if isinstance(value, dict) and shape.properties is not None:
        for key, child in shape.properties.items():
            if key not in value:
                problems.append(f"{path}: missing key {key!r}")
            else:
                problems.extend(shape_problems(child, value[key], f"{path}[{json.dumps(key)}]"))
        if not shape.additional_properties:
            extra = sorted(set(value) - set(shape.properties))
            if extra:
                problems.append(f"{path}: unexpected keys {extra}")
    return problems


# -- expectations ---------------------------------------------------------------------------


def check(
    expect: Expectation,
    observation: Observation,
    *,
    context: Mapping[str, Any],
    capabilities: Capabilities,
) -> list[str]:
    """Every way `observation` misses `expect` (empty: it meets it)."""
    problems = list(observation.extra_problems)
    if observation.overdue is not None:
        return [observation.overdue, *problems]
    if observation.cancelled:
        pass  # neither an envelope nor an error to compare: only the time is checked
    elif expect.error is not None:
        problems.extend(_check_error(expect.error, observation))
    elif observation.error is not None:
        problems.append(f"expected success, got {observation.error.summary()}")
    else:
        problems.extend(_check_envelope(expect, observation, context))
    if not observation.cancelled:
        problems.extend(_check_streams(expect, observation, capabilities))
    if expect.max_wall_ms is not None and observation.wall_ms > expect.max_wall_ms:
        problems.append(
            f"took {observation.wall_ms:.0f} ms, more than the {expect.max_wall_ms} ms allowed"
            + _provisioning_note(observation)
        )
    if expect.min_wall_ms is not None and observation.wall_ms < expect.min_wall_ms:
        problems.append(
            f"took {observation.wall_ms:.0f} ms, less than the {expect.min_wall_ms} ms expected"
        )
    return problems


def _provisioning_note(observation: Observation) -> str:
    """What was left out of a failing wall time, and what the backend claimed beyond that."""
    counted, reported = observation.provisioning_ms, observation.provisioning_reported_ms
    if reported > counted:
        return (
            f" (after {counted:.0f} ms of provisioning, not counted: the backend reported "
            f"{reported:.0f} ms, and at most {counted:.0f} ms is left out)"
        )
    return f" (after {counted:.0f} ms of provisioning, not counted)" if counted else ""


def _check_error(expect: ErrorExpectation, observation: Observation) -> list[str]:
    error = observation.error
    wanted = expect.type + (f" ({expect.kind})" if expect.kind else "")
    if error is None:
        return [f"expected {wanted}, got {observation.summary()}"]
    if error.type != expect.type or (expect.kind is not None and error.kind != expect.kind):
        return [f"expected {wanted}, got {error.summary()}"]
    problems = []
    if expect.name is not None and error.name != expect.name:
        problems.append(f"error name: expected {expect.name!r}, got {error.name!r}")
    for text in expect.message_contains:
        if text not in error.message:
            problems.append(
                f"error message lacks {text!r}: {abbreviate(error.message, 160, quote=False)}"
            )
    for text in expect.message_not_contains:
        if text in error.message:
            problems.append(f"error message contains {text!r}: {abbreviate(error.message, 160)}")
    if expect.line is not None and error.line != expect.line:
        problems.append(f"error line: expected {expect.line}, got {error.line}")
    if expect.line_between is not None:
        low, high = expect.line_between[0], expect.line_between[1]
        if error.line is None or not low <= error.line <= high:
            problems.append(f"error line: expected {low}..{high}, got {error.line}")
    if expect.field is not None and error.field != expect.field:
        problems.append(f"error field: expected {expect.field!r}, got {error.field!r}")
    if expect.retryable is not None and error.retryable != expect.retryable:
        problems.append(f"retryable: expected {expect.retryable}, got {error.retryable}")
    return problems


def _check_envelope(
    expect: Expectation, observation: Observation, context: Mapping[str, Any]
) -> list[str]:
    envelope = observation.envelope or {}
    problems = []
    if expect.wrapped_as != observation.wrapped_as:
        problems.append(
            f"envelope wrapping: expected {expect.wrapped_as!r}, got {observation.wrapped_as!r}"
        )
    output = envelope.get("output")
    if expect.output is not None:
        problems.extend(filter(None, [first_difference(expect.output, output)]))
    if expect.output_json is not None:
        problems.extend(filter(None, [first_difference(json.loads(expect.output_json), output)]))
    if expect.output_equals_context is not None:
        expected = context.get(expect.output_equals_context)
        problems.extend(filter(None, [first_difference(expected, output)]))
    if expect.output_shape is not None:
        problems.extend(shape_problems(expect.output_shape, output))
    metadata = envelope.get("metadata", {})
    channel = metadata.get("outputChannel")
    if expect.output_channel is not None and channel != expect.output_channel:
        problems.append(f"output channel: expected {expect.output_channel!r}, got {channel!r}")
    logs = envelope.get("logs")
    if expect.logs is not None:
        problems.extend(filter(None, [first_difference(expect.logs, logs, "logs")]))
    if expect.logs_length is not None and len(logs or []) != expect.logs_length:
        problems.append(f"logs: expected {expect.logs_length} lines, got {len(logs or [])}")
    warnings = metadata.get("warnings", [])
    for text in expect.warnings_contain:
        if not any(text in note for note in warnings):
            problems.append(f"no warning mentions {text!r} (warnings: {warnings})")
    if expect.no_warnings and warnings:
        problems.append(f"expected no warnings, got {warnings}")
    return problems


def _check_streams(
    expect: Expectation, observation: Observation, capabilities: Capabilities
) -> list[str]:
    problems = []
    for stream in ("stdout", "stderr"):
        text: str = getattr(observation, stream)
        exact: str | None = getattr(expect, stream)
        if exact is not None and text != exact:
            problems.append(first_difference(exact, text, stream) or stream)
        shape: Shape | None = getattr(expect, f"{stream}_shape")
        if shape is not None:
            problems.extend(shape_problems(shape, text, stream))
        for part in getattr(expect, f"{stream}_contains"):
            if part not in text:
                problems.append(f"{stream} lacks {abbreviate(part)}: {abbreviate(text, 120)}")
        for part in getattr(expect, f"{stream}_not_contains"):
            if part in text:
                problems.append(f"{stream} contains {abbreviate(part)}")
        truncated: bool | None = getattr(expect, f"{stream}_truncated")
        if truncated is not None:
            problems.extend(
                _check_truncation(stream, text, truncated, capabilities.max_output_bytes)
            )
    if observation.error is None and (
        expect.stdout_truncated is not None or expect.stderr_truncated is not None
    ):
        flagged = observation.metadata.get("truncated") is True
        cut = any(
            _TRUNCATION_PREFIX.format(stream=stream) in getattr(observation, stream)
            for stream in ("stdout", "stderr")
        )
        if flagged != cut:
            problems.append(
                f"metadata.truncated is {flagged} but the streams were "
                + ("cut" if cut else "not cut")
            )
    return problems


def _check_truncation(stream: str, text: str, wanted: bool, cap: int) -> list[str]:
    marker = truncation_marker(stream, cap)
    if not wanted:
        if _TRUNCATION_PREFIX.format(stream=stream) in text:
            return [f"{stream} was truncated: {abbreviate(text[-80:])}"]
        return []
    if not text.endswith(marker):
        return [
            f"{stream} does not end with the marker {marker.strip()!r} for the declared "
            f"max_output_bytes {cap}: ends with {abbreviate(text[-80:])}"
        ]
    kept = len(text[: -len(marker)].encode("utf-8", "surrogatepass"))
    if not cap - 3 <= kept <= cap:
        return [f"{stream} kept {kept} bytes before the marker; the cap is {cap}"]
    return []
