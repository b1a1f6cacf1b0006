"""The typed result envelope `Client.execute` returns (its JSON shape: docs/contract.md).

`Envelope` is a view with attributes (`.output`, `.stdout`, `.metadata.backend`, ...) over
the same data the engine builds; `to_dict()` gives the JSON shape of `execute_code_node`
and `turnout run --json` (the shape callers of the old executor parse), key for key and in
the same order, so `json.dumps(envelope.to_dict(), ensure_ascii=False, indent=2)` is byte
for byte what `turnout run --json` prints.

**The outputVariable wrapping.** A node that names an `outputVariable` (say `summary`) is
answered on the wire as `{"summary": {...the envelope...}}`. `Envelope` is never wrapped:
`.output` is the node's output whatever it names, and `.output_variable` says what it named.
`to_dict()` is the wire shape, wrapped when the node names an outputVariable (what
`execute_code_node` returns and `turnout run --json` prints); `to_dict(wrapped=False)` is
the bare envelope. `Envelope.from_dict` reads either.

`metadata` has typed attributes for the keys turnout always or sometimes writes; keys a
backend adds (what the execution cost: `sandboxSeconds`, `costUsd`, ...) are kept as
extra fields (`metadata.model_extra`) and written back in their place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Envelope", "EnvelopeMetadata", "OutputChannel"]

OutputChannel = Literal["return", "result", "last", "none"]


class EnvelopeMetadata(BaseModel):
    """What turnout says about the run: how long, where, which id, through which channel."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    execution_time_ms: int = Field(alias="executionTime", ge=0)
    """Milliseconds from the call to the envelope, as turnout measured them."""
    backend: str
    """The backend that produced this envelope (after a fallback: the legacy one)."""
    execution_id: str = Field(alias="executionId")
    """turnout's id of this run (in its events and sandbox labels); not the caller's
    rollout `execution_id`, which is an id of the platform's execution."""
    output_channel: OutputChannel = Field(alias="outputChannel")
    """How the output was produced: `return`, `result` (a variable), `last` (the last
    expression) or `none`."""
    sandbox_id: str | None = Field(default=None, alias="sandboxId")
    """The sandbox that ran the code, on sandboxed backends."""
    truncated: bool = False
    """Whether stdout or stderr was cut at the backend's limit."""
    warnings: tuple[str, ...] = ()
    """Things about the node's config a person should look at (they changed nothing)."""

    @property
    def extra(self) -> dict[str, Any]:
        """Keys a backend added (for example `sandboxSeconds`, `costUsd`), in order."""
        return dict(self.model_extra or {})

    def to_dict(self) -> dict[str, Any]:
        """The metadata object of the JSON envelope, keys in the engine's order."""
        data: dict[str, Any] = {
            "executionTime": self.execution_time_ms,
            "backend": self.backend,
            "executionId": self.execution_id,
            "outputChannel": self.output_channel,
        }
        if self.sandbox_id is not None:
            data["sandboxId"] = self.sandbox_id
        for key, value in self.extra.items():
            data.setdefault(key, value)
        if self.truncated:
            data["truncated"] = True
        if self.warnings:
            data["warnings"] = list(self.warnings)
        return data


class Envelope(BaseModel):
    """One execution's result: the output, what the code printed, and turnout's metadata."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    language: Literal["javascript", "python"]
    output: Any
    """The node's output: any JSON value (see docs/contract.md for how values convert)."""
    stdout: str
    stderr: str
    logs: tuple[str, ...]
    """stdout lines, then stderr lines prefixed `ERROR: ` (the old executor's `logs`)."""
    metadata: EnvelopeMetadata
    output_variable: str | None = Field(default=None, exclude=True)
    """The node's `outputVariable`, if it names one: `to_dict()` wraps the envelope in it."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, output_variable: str | None = None) -> Envelope:
        """The envelope of a JSON document: bare, or wrapped as `{outputVariable: {...}}`
        (then `output_variable` is read from it: a bare envelope never has one key)."""
        if output_variable is None and len(data) == 1:
            [(output_variable, inner)] = data.items()
            if not isinstance(inner, Mapping):
                raise ValueError("a wrapped envelope holds an object under its one key")
            data = inner
        return cls.model_validate({**data, "output_variable": output_variable})

    def to_dict(self, *, wrapped: bool = True) -> dict[str, Any]:
        """The JSON shape (a new dict each time): `{outputVariable: envelope}` when the node
        names an outputVariable and `wrapped` is true, else the envelope itself."""
        bare = {
            "language": self.language,
            "output": self.output,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "logs": list(self.logs),
            "metadata": self.metadata.to_dict(),
        }
        if wrapped and self.output_variable:
            return {self.output_variable: bare}
        return bare
