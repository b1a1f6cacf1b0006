"""Every error turnout raises, in one tree.

    TurnoutError                      base; every error says whether a retry can help
    ├── ValidationError               bad input from the caller: names the field and the fix
    ├── ConfigurationError            the deployment is misconfigured (flags, keys, plugins)
    ├── CodeExecutionError            the user's code failed; never retryable; `kind` says how:
    │                                 syntax, runtime, timeout, memory, output_too_large,
    │                                 output_not_serializable, import
    ├── InfrastructureError           the backend could not run the code; retryable by default,
    │   │                             with an optional `retry_after` (seconds)
    │   └── ExecutionInterruptedError shutdown interrupted the execution mid-run; retryable
    │                                 on another worker, see turnout.shutdown
    └── InternalError                 a bug in turnout or a backend plugin (an exception its
                                      own code did not expect); never retryable; the
                                      traceback is logged with the execution's event

Why one tree: callers (workflow workers) decide what to do from two facts only, the class and
`retryable`. A user error retried three times, as the old executor's caller did, wastes a
minute and changes nothing; an infrastructure error not retried loses an execution.

Errors are raised once, where they are classified, and never wrapped again: a layer that
catches a `TurnoutError` re-raises it unchanged. Only what a vendor or transport raises
(an SDK exception, an HTTP client error, an OS error from a connection) is translated into
an `InfrastructureError`; a built-in exception from turnout's own code (`KeyError`,
`ValueError`, ...) is a bug, and becomes an `InternalError`, never a retryable error.

Secrets never travel in an error: its message and every text field are scrubbed as they
are set (`turnout.redaction`), and so is the text of the exception it is built from.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, Literal

from turnout.redaction import scrub_exception_chain, scrub_field, scrub_text

__all__ = [
    "CodeExecutionError",
    "ConfigurationError",
    "ErrorKind",
    "ExecutionInterruptedError",
    "InfrastructureError",
    "InternalError",
    "TurnoutError",
    "ValidationError",
]

ErrorKind = Literal[
    "syntax",
    "runtime",
    "timeout",
    "memory",
    "output_too_large",
    "output_not_serializable",
    "import",
]


class TurnoutError(Exception):
    """Base of every turnout error. `retryable` says whether the same call may succeed later.

    `warnings` are the node config's warnings (a timeout under a second, unknown fields):
    the engine adds them to every error of an execution, because they often explain it.
    """

    retryable: bool = False
    warnings: tuple[str, ...] = ()

    def __init__(self, message: str) -> None:
        scrub_exception_chain(sys.exception())  # the cause this error is being built from
        message = scrub_text(message)
        super().__init__(message)
        self.message = message

    def __setattr__(self, name: str, value: Any) -> None:
        """Every text field is scrubbed of secrets as it is set (`turnout.redaction`)."""
        super().__setattr__(name, scrub_field(name, value))

    def add_warnings(self, warnings: Iterable[str]) -> None:
        """Attach config warnings to this error (each once, in order)."""
        self.warnings = tuple(dict.fromkeys((*self.warnings, *warnings)))

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the CLI prints and callers may log: type, message, retryable, and
        `warnings` when there are any."""
        data: dict[str, Any] = {
            "type": type(self).__name__,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data


class ValidationError(TurnoutError):
    """The caller's input (node config, context, CLI argument) is not acceptable.

    `field` is the dotted path of the offending field as the caller spelled it
    (`timeout`, `inputVariables.2`); `allowed` says what would have been accepted.
    """

    def __init__(self, field: str, problem: str, allowed: str | None = None) -> None:
        text = f"{field}: {problem}"
        if allowed:
            text += f" (allowed: {allowed})"
        super().__init__(text)
        self.field = field
        self.problem = problem
        self.allowed = allowed

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "field": self.field}


class ConfigurationError(TurnoutError):
    """The deployment is wrong: a flag file, a missing API key, a disabled plugin.

    Not retryable: an operator has to change something first. The message says what.
    """


class CodeExecutionError(TurnoutError):
    """The user's code failed. Never retryable: running it again gives the same failure.

    Carries what the code printed before it failed, and the line in the user's code
    (1-based, counted in the code as the user wrote it) where that is known.
    """

    retryable = False

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        name: str | None = None,
        line: int | None = None,
        stdout: str = "",
        stderr: str = "",
        traceback: str | None = None,
        language: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.name = name
        self.line = line
        self.stdout = stdout
        self.stderr = stderr
        self.traceback = traceback
        self.language = language

    def to_dict(self) -> dict[str, Any]:
        data = {
            **super().to_dict(),
            "kind": self.kind,
            "stdout": self.stdout,
            "stderr": self.stderr,
        }
        if self.name is not None:
            data["name"] = self.name
        if self.line is not None:
            data["line"] = self.line
        return data


class InfrastructureError(TurnoutError):
    """The backend failed before, during or after running the code, through no fault of it.

    `started` says whether the user's code may have begun running; the migration layer only
    falls back to another backend when it had not (user code is never re-run silently).
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        started: bool = False,
        backend: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.started = started
        self.backend = backend

    def to_dict(self) -> dict[str, Any]:
        data = {**super().to_dict(), "kind": "infrastructure"}
        if self.retry_after is not None:
            data["retry_after"] = self.retry_after
        if self.backend is not None:
            data["backend"] = self.backend
        return data


class ExecutionInterruptedError(InfrastructureError):
    """A shutdown interrupted the execution while it ran; its sandbox or process is gone.

    A retryable `InfrastructureError` with `started=True` (the code may have begun), so the
    caller records it and runs the execution again on another worker. Never raised for the
    caller's own cancellation: a caller whose task is cancelled gets `CancelledError`, so
    that cancellation stays cancellation (see `turnout.shutdown`).
    """

    def __init__(self, message: str, *, backend: str | None = None) -> None:
        super().__init__(message, retryable=True, started=True, backend=backend)


class InternalError(TurnoutError):
    """A bug in turnout or in a backend plugin: its own code raised what it did not expect.

    Never retryable: the same call meets the same bug. The exception that revealed the bug
    is the `__cause__`; the engine logs its traceback with the execution's event, so the
    bug can be found and fixed. `backend` names the backend whose code failed, when known.
    """

    retryable = False

    def __init__(self, message: str, *, backend: str | None = None) -> None:
        super().__init__(message)
        self.backend = backend

    def to_dict(self) -> dict[str, Any]:
        data = {**super().to_dict(), "kind": "internal"}
        if self.backend is not None:
            data["backend"] = self.backend
        return data
