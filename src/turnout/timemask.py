"""Current-time readings masked, so that two executions of the same code compare equal.

Code often embeds the moment it runs: `new Date().toISOString()`, `'saga_' + Date.now()`,
`datetime.now().isoformat()` in a printed line. Two executions never share a clock reading,
so wherever turnout compares two outcomes of one node (the conformance differential between
backends, a replay against its recording, shadow comparison), each reading is replaced by a
token naming its kind before comparing. `mask_time` is the one place that decides what a
reading is:

- an ISO 8601 date-time (`2026-12-07T06:06:40.489Z`, `2026-12-07 06:06:40+02:00`; a naive
  one is read as UTC) becomes `<now:iso-datetime>`;
- an ISO 8601 date (`2026-12-07`) becomes `<now:iso-date>`;
- epoch seconds, milliseconds, microseconds or nanoseconds (10, 13, 16 or 19 digits, a
  fraction allowed: `1765087600`, `1765087600123`, `1765087600.25`) become `<now:epoch-s>`,
  `<now:epoch-ms>`, `<now:epoch-us>`, `<now:epoch-ns>`;

each only when it lies within `window_s` (a day) of `now`, whether it is a whole string, a
number, or embedded anywhere in a longer string (stdout, stderr, messages, output text).
Dates that are not near the clock (a birthday, a due date in the data) stay as they are and
are still compared exactly.

A recording made at another time holds readings of its own moment: `matches_masked` matches
a recorded value against a masked one, each token standing for any reading of its kind.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from typing import Any

__all__ = ["TOKENS", "WINDOW_S", "iso_moment", "mask_time", "matches_masked"]

WINDOW_S = 24 * 3600
_DATETIME = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
_DATE = r"\d{4}-\d{2}-\d{2}"
_FRACTION = r"(?:\.\d+)?"
#: Epoch readings by their number of integer digits: the unit and its scale to seconds.
_EPOCHS = {
    10: ("epoch-s", 1),
    13: ("epoch-ms", 10**3),
    16: ("epoch-us", 10**6),
    19: ("epoch-ns", 10**9),
}
#: Each token, and what it stands for in a recording: any reading of its kind.
TOKENS: dict[str, str] = {
    "<now:iso-datetime>": _DATETIME,
    "<now:iso-date>": _DATE,
    **{f"<now:{unit}>": rf"\d{{{digits}}}{_FRACTION}" for digits, (unit, _) in _EPOCHS.items()},
}
_READING = re.compile(
    rf"(?<![\d.])(?:(?P<datetime>{_DATETIME})|(?P<date>{_DATE})|"
    rf"(?P<epoch>\d{{10}}(?:\d{{3}}){{0,3}}{_FRACTION}))(?!\d)"
)
_TOKEN = re.compile("|".join(re.escape(token) for token in TOKENS))


def iso_moment(text: str) -> float | None:
    """The POSIX time an ISO 8601 date-time names (a naive one read as UTC), or None."""
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # what sandboxes run in
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def _near(moment: float, now: float, window_s: float) -> bool:
    return abs(moment - now) <= window_s


def _date_near(text: str, now: float, window_s: float) -> bool:
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        return False
    earliest = datetime.datetime.fromtimestamp(now - window_s, datetime.UTC).date()
    latest = datetime.datetime.fromtimestamp(now + window_s, datetime.UTC).date()
    return earliest <= day <= latest


def _epoch_unit(value: float, digits: int, now: float, window_s: float) -> str | None:
    unit = _EPOCHS.get(digits)
    if unit is not None and _near(value / unit[1], now, window_s):
        return unit[0]
    return None


def _mask_text(text: str, now: float, window_s: float) -> str:
    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        if match.group("datetime") is not None:
            moment = iso_moment(found)
            near = moment is not None and _near(moment, now, window_s)
            return "<now:iso-datetime>" if near else found
        if match.group("date") is not None:
            return "<now:iso-date>" if _date_near(found, now, window_s) else found
        digits = len(found.split(".")[0])
        unit = _epoch_unit(float(found), digits, now, window_s)
        return f"<now:{unit}>" if unit is not None else found

    return _READING.sub(replace, text)


def _mask_number(value: float, now: float, window_s: float) -> Any:
    for unit, scale in _EPOCHS.values():
        if _near(value / scale, now, window_s):
            return f"<now:{unit}>"
    return value


def mask_time(value: Any, now: float, *, window_s: float = WINDOW_S) -> Any:
    """`value` with every reading of a time within `window_s` of `now` replaced by its
    token: in strings (wherever it appears in them), numbers, lists and dicts (values, not
    keys). Everything else is returned as it is."""
    if isinstance(value, str):
        return _mask_text(value, now, window_s)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _mask_number(value, now, window_s)
    if isinstance(value, list):
        return [mask_time(item, now, window_s=window_s) for item in value]
    if isinstance(value, dict):
        return {key: mask_time(item, now, window_s=window_s) for key, item in value.items()}
    return value


@functools.lru_cache(maxsize=256)
def _pattern(masked: str) -> re.Pattern[str]:
    parts = _TOKEN.split(masked)
    tokens = _TOKEN.findall(masked)
    pattern = re.escape(parts[0])
    for token, literal in zip(tokens, parts[1:], strict=True):
        pattern += f"(?:{TOKENS[token]})" + re.escape(literal)
    return re.compile(pattern, re.DOTALL)


def matches_masked(masked: str, recorded: Any) -> bool:
    """Whether a recorded string or number reads as `masked` (text `mask_time` returned,
    with at least one token), each token standing for any reading of its kind: a recording
    of `'saga_' + Date.now()` made last year matches a run of today."""
    if isinstance(recorded, bool):
        return False
    if isinstance(recorded, int | float):
        recorded = json.dumps(recorded)
    return isinstance(recorded, str) and _pattern(masked).fullmatch(recorded) is not None
