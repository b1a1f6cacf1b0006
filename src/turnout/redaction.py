"""The one secret scrubber: everything turnout emits passes through it before it leaves.

Used by the log processor (`turnout.logging`), by every `TurnoutError` as it is built (its
message and text fields), by the envelope's turnout-written fields, by every report writer
(parity, replay, rollout, chaos, bench) and by the CLI's printing. Replaced with `[redacted]`:

- URL credentials: the userinfo of any URL (`http://user:pw@host`) and every query value
  (`?token=...`, a signed proxy URL);
- values shaped like keys and tokens (`VALUE_SHAPES`: `e2b_...`, `sk-...`, `Bearer ...`,
  JWTs, GitHub and AWS keys), and the value after a secret-looking name in `name=value` or
  `"name": "value"` text;
- in structured data, the whole value under a secret-looking key (`token`, `api_key`,
  `password`, `authorization`, ... see `SECRET_NAME`);
- the exact value of every secret this process knows of (`known_secrets`): the variables of
  `SECRET_ENVIRONMENT_VARIABLES`, every environment variable whose name looks secret, the
  userinfo of a URL in any environment variable, and values added with `register_secret`.

The user's own data (a node's `output`, `stdout`, `stderr` and `logs`) is scrubbed of the
known secret values only: shapes and URLs are left as the code produced them (a result may
legitimately hold a URL with a query), but a host secret appearing there is a leak.

Every function here is idempotent: scrubbing scrubbed data changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SECRET_ENVIRONMENT_VARIABLES",
    "SECRET_NAME",
    "USER_DATA_KEYS",
    "VALUE_SHAPES",
    "known_secrets",
    "redact_url",
    "register_secret",
    "scrub_data",
    "scrub_envelope",
    "scrub_exception_chain",
    "scrub_field",
    "scrub_known",
    "scrub_text",
    "scrub_user_data",
]

REDACTED = "[redacted]"

#: Variables that hold secrets whatever their name says: the E2B SDK's credentials.
SECRET_ENVIRONMENT_VARIABLES = ("E2B_API_KEY", "E2B_ACCESS_TOKEN")

#: A name (a mapping key, an environment variable, `name=` in text) whose value is secret.
SECRET_NAME = re.compile(
    r"(secret|token|password|passwd|api[_-]?key|authorization|credential)", re.IGNORECASE
)

#: Known secrets shorter than this are not searched for by value: too likely to occur by
#: chance (and too weak to be real keys). They are still removed from URLs and named fields.
MIN_SECRET_LENGTH = 8

#: Keys under which a node's own data travels (envelope and error fields).
USER_DATA_KEYS = frozenset({"output", "stdout", "stderr", "logs"})

#: Values that are secrets by their shape alone.
VALUE_SHAPES = re.compile(
    r"e2b_[A-Za-z0-9]{16,}"
    r"|sk-[A-Za-z0-9_-]{16,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{16,}=*"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|AKIA[0-9A-Z]{16}"
)

# `api_key=value`, `"token": "value"`, `'password': 'value'`: the value goes, the name stays.
# A value that is already `[redacted]` is left alone, so that scrubbing twice changes nothing.
# The name starts only where a word starts, so the search stays linear in the text.
_NAMED_VALUE = re.compile(
    r"(?P<name>(?<![\w.-])[\w.-]*(?:secret|token|password|passwd|api[_-]?key|authorization|credential)"
    r"[\w.-]*)"
    r"(?P<separator>\s*=\s*|(?<=[\w.-])[\"']\s*:\s*)"
    r"(?!\[redacted\])"
    r"(?:\"(?P<double>[^\"]*)\"|'(?P<single>[^']*)'|(?P<bare>[^\s\"'&,;)}\]]+))",
    re.IGNORECASE,
)
# Where any rule but the known values could apply: a URL, a secret name, a shape's prefix.
_ANY_RULE = re.compile(
    r"://|e2b_|sk-|eyJ|gh[pousr]_|github_pat_|AKIA"
    r"|(?i:secret|token|password|passwd|api[_-]?key|authorization|credential|bearer)"
)
_URL_USERINFO = re.compile(r"(?<=://)[^/\s@?#]+@")
_URL_QUERY = re.compile(r"(://[^\s?#]*\?)([^\s#]*)")
_QUERY_VALUE = re.compile(r"=[^&;]*")
_ENV_USERINFO = re.compile(r"://([^/\s@?#]+)@")

_registered: frozenset[str] = frozenset()
_registered_lock = threading.Lock()
# The last environment seen (os.environ's raw bytes, cheap to compare) and what it held.
_cached: tuple[object, tuple[str, ...]] | None = None


def register_secret(value: str) -> None:
    """Scrub `value` wherever it appears from now on, in this process.

    For secrets turnout holds that are not in the environment (a key generated at run
    time, a credential an application passes in). Values shorter than `MIN_SECRET_LENGTH`
    are ignored.
    """
    global _registered
    if len(value) >= MIN_SECRET_LENGTH:
        with _registered_lock:
            _registered = _registered | {value}


def known_secrets() -> tuple[str, ...]:
    """Every secret value this process knows of, longest first.

    Read from the environment as it is at the call (a variable set after start-up
    counts); the answer is kept until the environment or the registered values change.
    """
    global _cached
    raw = getattr(os.environ, "_data", None)  # CPython's encoded copy: no decoding needed
    key = (tuple(raw.items()) if isinstance(raw, dict) else object(), _registered)
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    found: set[str] = set(_registered)
    for name, value in os.environ.items():
        if name in SECRET_ENVIRONMENT_VARIABLES or SECRET_NAME.search(name):
            found.add(value)
        if "://" in value:
            for userinfo in _ENV_USERINFO.findall(value):
                found.add(userinfo)
                found.add(userinfo.partition(":")[2])
    usable = (value for value in found if len(value) >= MIN_SECRET_LENGTH)
    secrets = tuple(sorted(usable, key=lambda value: (-len(value), value)))
    _cached = (key, secrets)
    return secrets


def _known_pattern(secrets: tuple[str, ...]) -> re.Pattern[str]:
    # `[redacted]` is matched first and kept, so a secret that is part of it cannot grow it.
    return re.compile("|".join(re.escape(item) for item in (REDACTED, *secrets)))


def scrub_known(text: str, secrets: tuple[str, ...] | None = None) -> str:
    """`text` with the exact values of known secrets replaced (shapes and URLs kept)."""
    secrets = known_secrets() if secrets is None else secrets
    for secret in secrets:
        if secret in text:
            break
    else:
        return text
    return _known_pattern(secrets).sub(REDACTED, text)


def redact_url(url: str) -> str:
    """`url` with its userinfo and every query value replaced by `[redacted]`."""
    without_user = _URL_USERINFO.sub(f"{REDACTED}@", url)
    return _URL_QUERY.sub(
        lambda match: match.group(1) + _QUERY_VALUE.sub(f"={REDACTED}", match.group(2)),
        without_user,
    )


def _named_value(match: re.Match[str]) -> str:
    quote = ""
    if match.group("double") is not None:
        quote = '"'
    elif match.group("single") is not None:
        quote = "'"
    return f"{match.group('name')}{match.group('separator')}{quote}{REDACTED}{quote}"


def scrub_text(text: str, secrets: tuple[str, ...] | None = None) -> str:
    """Free text turnout wrote (a message, a report line): everything in the module
    docstring's list is replaced."""
    if _ANY_RULE.search(text):  # most text (field names, figures) matches no rule at all
        if "://" in text:
            text = redact_url(text)
        if SECRET_NAME.search(text):  # the costly pattern only where a secret name occurs
            text = _NAMED_VALUE.sub(_named_value, text)
        text = VALUE_SHAPES.sub(REDACTED, text)
    return scrub_known(text, secrets)


def scrub_data(
    value: Any,
    secrets: tuple[str, ...] | None = None,
    *,
    user_data_keys: frozenset[str] = USER_DATA_KEYS,
) -> Any:
    """A JSON-like document turnout wrote, scrubbed recursively (a copy; the input is not
    changed): secret-looking keys lose their whole value, strings are scrubbed as text, and
    values under `user_data_keys` (a node's own data) are scrubbed of known secret values
    only. Logs, which never carry user data, pass an empty set.

    Objects that are not JSON-like are rendered through their repr when that repr holds a
    secret (a log renderer would write them so), and kept as they are otherwise.
    """
    secrets = known_secrets() if secrets is None else secrets
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, Mapping):
        scrubbed: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and SECRET_NAME.search(key):
                scrubbed[key] = REDACTED
            elif key in user_data_keys:
                scrubbed[key] = scrub_user_data(item, secrets)
            else:
                name = scrub_text(key, secrets) if isinstance(key, str) else key
                scrubbed[name] = scrub_data(item, secrets, user_data_keys=user_data_keys)
        return scrubbed
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_data(item, secrets, user_data_keys=user_data_keys) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    text = repr(value)
    scrubbed_text = scrub_text(text, secrets)
    return scrubbed_text if scrubbed_text != text else value


def scrub_user_data(value: Any, secrets: tuple[str, ...] | None = None) -> Any:
    """A node's own data (its output, printed text) with known secret values replaced,
    in keys and strings at any depth; everything else as the code produced it.

    Returns `value` itself when nothing was replaced (so `is` tells whether anything was).
    A large output is first searched as one JSON text, so the usual case (no secret in it)
    costs one C-level encoding, not a walk in Python over every string.
    """
    secrets = known_secrets() if secrets is None else secrets
    if not secrets:
        return value
    if isinstance(value, Mapping | list | tuple) and not _may_hold(value, secrets):
        return value
    return _replace_known(value, secrets)


def _may_hold(value: Any, secrets: tuple[str, ...]) -> bool:
    """Whether a secret may be in `value`'s strings or keys (True when unsure)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON-like after all: walk it
        return True
    return any(secret in text or json.dumps(secret)[1:-1] in text for secret in secrets)


def _replace_known(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return scrub_known(value, secrets)
    if isinstance(value, Mapping):
        pairs = [
            (_replace_known(key, secrets), _replace_known(item, secrets))
            for key, item in value.items()
        ]
        unchanged = all(
            new_key is key and new_item is item
            for (new_key, new_item), (key, item) in zip(pairs, value.items(), strict=True)
        )
        return value if unchanged else dict(pairs)
    if isinstance(value, list | tuple):
        items = [_replace_known(item, secrets) for item in value]
        return value if all(new is old for new, old in zip(items, value, strict=True)) else items
    return value


def scrub_envelope(envelope: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A result envelope scrubbed (see `scrub_data`), and the top-level fields of it that
    held a known secret value (empty when nothing was replaced).

    The user's fields (`output`, `stdout`, `stderr`, `logs`) lose only known secret values;
    every field turnout wrote (`metadata`, its warnings, `language`) is scrubbed in full.
    """
    secrets = known_secrets()
    scrubbed = {
        key: scrub_user_data(item, secrets) if key in USER_DATA_KEYS else scrub_data(item, secrets)
        for key, item in envelope.items()
    }
    changed = [
        key for key in USER_DATA_KEYS & scrubbed.keys() if scrubbed[key] is not envelope[key]
    ]
    return scrubbed, sorted(changed)


def scrub_field(name: str, value: Any) -> Any:
    """An error's field as it is set: text fields are scrubbed in full, except the user's
    printed text (`stdout`, `stderr`), which loses only known secret values."""
    if not isinstance(value, str):
        return value
    return scrub_known(value) if name in USER_DATA_KEYS else scrub_text(value)


def scrub_exception_chain(error: BaseException | None, *, depth: int = 16) -> None:
    """Scrub, in place, the text arguments of `error` and of the exceptions it was caused
    by or raised during: a turnout error built from a library's exception keeps that
    exception as its cause, and a traceback of the turnout error prints the cause's text
    (an HTTP client's message quotes the request URL with its credentials)."""
    seen: set[int] = set()
    pending = [error]
    while pending and len(seen) < depth:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        args = current.args
        if any(isinstance(arg, str) for arg in args):
            scrubbed = tuple(scrub_text(arg) if isinstance(arg, str) else arg for arg in args)
            if scrubbed != args:
                with contextlib.suppress(AttributeError, TypeError):  # a type may forbid it
                    current.args = scrubbed
        pending += [current.__cause__, current.__context__]
