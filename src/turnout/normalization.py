"""One definition of "the same envelope", and two ways to say where two outcomes differ.

turnout's central claim is that a node gives the same result on the sandboxed backend as
on the legacy one. Three places check it: the shadow comparison in production
(`turnout.comparison`), the conformance differential across backends and the replay of
exported nodes (`turnout.conformance.differential`). All three normalize an outcome with
`normalize` before comparing, so they cannot disagree about what "the same" means.

An outcome is an envelope (bare, as the engine builds it) or an error. Normalizing keeps
what the node did and drops or masks what differs between two runs of it by design:

- **Run metadata is removed.** Of `metadata`, only what the contract says about the node's
  result is kept: `outputChannel`, `truncated` and `warnings` (absent `truncated` is
  `false`, absent `warnings` is `[]`, as the envelope writes them only when set).
  Everything else there describes the run, not the node: `executionTime`, `executionId`,
  `sandboxId`, the backend's id, what it cost (`sandboxSeconds`, `poolIdleSeconds`,
  `costUsd`) and any key a backend adds.
- **Temporary directory paths become `<tmpdir>`** in stdout, stderr, logs and the error's
  message, stdout and stderr: each run gets its own directory, and a traceback or a
  printed path names it. The output is left as it is: a path the node returns is data
  the workflow passes on, and a different one there is a real difference.
- **Readings of the current time become tokens naming their kind** (`<now:epoch-ms>`),
  everywhere, also inside longer strings: two runs never share a clock reading.
  `turnout.timemask.mask_time` decides what a reading is, near the moment `now` the caller
  gives. Only a caller that wants to see whether two runs differ in time passes
  `now=None` (the audit's `--run`, which confirms that a node reads the clock).
- **A float with no fraction is the integer** (`3.0` is `3`): JSON has one number type
  and JavaScript writes `3` for it. Expectations stay type-strict where a case wants to
  see the float (`turnout.json_diff`).
- **An error is what a caller can see of it** (`ErrorInfo`): type, kind, name, message,
  line, field, retryable, stdout and stderr; the traceback's frames are not part of it.

The two renderings of a comparison:

- `differing_paths`: each place that differs as a path and the types found there, never a
  value, for logs (a shadow comparison event must not carry user data);
- `describe_differences`: readable lines with both values abbreviated, for parity and
  replay reports (`output["n"]: local-subprocess 1, e2b 2`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from turnout.errors import CodeExecutionError, TurnoutError, ValidationError
from turnout.json_diff import abbreviate, first_difference
from turnout.timemask import mask_time

__all__ = [
    "RESULT_METADATA",
    "Difference",
    "ErrorInfo",
    "Path",
    "describe_differences",
    "differing_paths",
    "normalize",
    "one_number_type",
]

#: The metadata keys that say something about the node's result; the rest is about the run.
RESULT_METADATA: dict[str, Any] = {"outputChannel": None, "truncated": False, "warnings": []}
_TMPDIR = re.compile(r"(?:/private)?/(?:tmp|var/folders/[^/\s]+/[^/\s]+/T)/[^/\s'\":]+")
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class ErrorInfo:
    """The parts of a turnout error a caller can see, as plain data."""

    type: str
    message: str
    retryable: bool
    kind: str | None = None
    name: str | None = None
    line: int | None = None
    field: str | None = None
    stdout: str = ""
    stderr: str = ""

    @classmethod
    def from_exception(cls, error: TurnoutError) -> ErrorInfo:
        details: dict[str, Any] = {}
        if isinstance(error, CodeExecutionError):
            details = {
                "kind": error.kind,
                "name": error.name,
                "line": error.line,
                "stdout": error.stdout,
                "stderr": error.stderr,
            }
        elif isinstance(error, ValidationError):
            details = {"field": error.field}
        return cls(type(error).__name__, error.message, error.retryable, **details)

    def summary(self) -> str:
        kind = f" ({self.kind})" if self.kind else ""
        return f"{self.type}{kind}: {abbreviate(self.message, 160, quote=False)}"


def normalize(
    outcome: Mapping[str, Any] | TurnoutError | ErrorInfo,
    *,
    now: float | None,
    wrapped_as: str | None = None,
) -> dict[str, Any]:
    """The comparable part of an outcome (module docstring): `{"error": {...}}` for an
    error, else the envelope's fields with `wrapped_as`, the outputVariable the envelope
    was wrapped in (None: bare). Readings of the current time near `now` are masked; with
    `now=None` they are compared as they are."""
    if isinstance(outcome, TurnoutError):
        outcome = ErrorInfo.from_exception(outcome)
    if isinstance(outcome, ErrorInfo):
        normalized: dict[str, Any] = {
            "error": {
                "type": outcome.type,
                "kind": outcome.kind,
                "name": outcome.name,
                "message": _without_tmpdir(outcome.message),
                "line": outcome.line,
                "field": outcome.field,
                "retryable": outcome.retryable,
                "stdout": _without_tmpdir(outcome.stdout),
                "stderr": _without_tmpdir(outcome.stderr),
            }
        }
    else:
        metadata: Mapping[str, Any] = outcome.get("metadata", {})
        normalized = {
            "wrapped_as": wrapped_as,
            "language": outcome.get("language"),
            "output": one_number_type(outcome.get("output")),
            "stdout": _without_tmpdir(str(outcome.get("stdout", ""))),
            "stderr": _without_tmpdir(str(outcome.get("stderr", ""))),
            "logs": [_without_tmpdir(str(line)) for line in outcome.get("logs", [])],
            "metadata": {
                "outputChannel": metadata.get("outputChannel"),
                "truncated": bool(metadata.get("truncated", False)),
                "warnings": list(metadata.get("warnings", [])),
            },
        }
    if now is None:
        return normalized
    masked: dict[str, Any] = mask_time(normalized, now)
    return masked


def _without_tmpdir(text: str) -> str:
    return _TMPDIR.sub("<tmpdir>", text)


def one_number_type(value: Any) -> Any:
    """`value` with every float that has no fraction as an integer: JSON has one number
    type, and a JavaScript round trip keeps no `3.0` apart from `3` (`JSON.stringify(3.0)`
    is `3`)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [one_number_type(item) for item in value]
    if isinstance(value, dict):
        return {key: one_number_type(item) for key, item in value.items()}
    return value


# -- paths without values (logs) ------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One place where two normalized outcomes differ, described without its values."""

    path: Path
    kind: Literal["value", "type", "missing", "extra"]
    authoritative_type: str
    candidate_type: str

    def to_log(self) -> dict[str, str]:
        text = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)
        return {
            "path": text,
            "difference": self.kind,
            "authoritative": self.authoritative_type,
            "candidate": self.candidate_type,
        }


_ABSENT = object()


def differing_paths(authoritative: Any, candidate: Any) -> list[Difference]:
    """Every place two normalized outcomes differ: keys and indices from the root, the
    kind of difference and the types on each side, never a value."""
    found: list[Difference] = []
    _diff(authoritative, candidate, (), found)
    return found


def _type(value: Any) -> str:
    return "absent" if value is _ABSENT else type(value).__name__


def _diff(a: Any, b: Any, path: Path, out: list[Difference]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            _diff(a.get(key, _ABSENT), b.get(key, _ABSENT), (*path, key), out)
        return
    if isinstance(a, list) and isinstance(b, list):
        for index in range(max(len(a), len(b))):
            _diff(
                a[index] if index < len(a) else _ABSENT,
                b[index] if index < len(b) else _ABSENT,
                (*path, index),
                out,
            )
        return
    if a is _ABSENT or b is _ABSENT:
        if a is not b:
            out.append(Difference(path, "missing" if b is _ABSENT else "extra", _type(a), _type(b)))
        return
    if type(a) is not type(b) and not (_number(a) and _number(b)):
        out.append(Difference(path, "type", _type(a), _type(b)))
    elif a != b:
        out.append(Difference(path, "value", _type(a), _type(b)))


def _number(value: Any) -> bool:
    """An int or a float: `3` against `3.5` is a value difference, not a type one."""
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- readable lines (reports) ---------------------------------------------------------------


def _describe_side(normalized: Mapping[str, Any]) -> str:
    if "error" in normalized:
        error = normalized["error"]
        kind = f" ({error['kind']})" if error.get("kind") else ""
        return f"{error['type']}{kind}: {abbreviate(error['message'], 100, quote=False)}"
    return f"success with output {abbreviate(normalized.get('output'), 60)}"


def _fields(normalized: Mapping[str, Any]) -> dict[str, Any]:
    """Each compared field by its name in reports and ignore lists: `output`, `stdout`,
    `metadata.warnings`, `error.line`, ..."""
    fields: dict[str, Any] = {}
    for key, value in normalized.items():
        if key in ("error", "metadata") and isinstance(value, Mapping):
            fields.update({f"{key}.{inner}": item for inner, item in value.items()})
        else:
            fields[key] = value
    return fields


def describe_differences(
    reference: Mapping[str, Any],
    other: Mapping[str, Any],
    *,
    ignore: Iterable[str] = (),
    names: tuple[str, str] = ("reference", "other"),
) -> list[str]:
    """Each difference between two normalized outcomes as a line a person reads, naming
    the field and which side gave which value; fields named in `ignore` are skipped."""
    if ("error" in reference) != ("error" in other):
        return [
            f"{names[0]} gave {_describe_side(reference)}; {names[1]} gave {_describe_side(other)}"
        ]
    ignored = set(ignore)
    left, right = _fields(reference), _fields(other)
    differences = []
    for key in left:
        if key in ignored:
            continue
        found = first_difference(left[key], right.get(key), key, names)
        if found is not None:
            differences.append(found)
    return differences
