"""The activity's input, `{node, context, tenantId?, workflowId?, executionId?}`, checked once.

Why a schema of its own: the caller is a workflow in any Temporal SDK language, so the
input arrives as plain JSON and nothing typed it on the way. A wrong input is the caller's
bug, and retrying it changes nothing, so every problem becomes one turnout
`ValidationError` (never retryable) that names the field as the caller spelled it.

The rollout ids default to the calling workflow's: `workflowId` to its workflow id and
`executionId` to its run id, so every code node of one workflow run lands in the same
rollout bucket without the caller doing anything (and a retried attempt in the same one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from turnout.errors import ValidationError

__all__ = ["CodeNodeInput", "RolloutIds", "parse_input"]


class CodeNodeInput(BaseModel):
    """One code node to run: its stored config, the workflow context, and rollout ids."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    node: dict[str, Any] = Field(description="the node's stored config (docs/contract.md)")
    context: dict[str, Any] = Field(description="the workflow context the inputs come from")
    tenant_id: str | None = Field(default=None, alias="tenantId", min_length=1, max_length=1000)
    workflow_id: str | None = Field(default=None, alias="workflowId", min_length=1, max_length=1000)
    execution_id: str | None = Field(
        default=None, alias="executionId", min_length=1, max_length=1000
    )


@dataclass(frozen=True)
class RolloutIds:
    """The ids the flags bucket an execution by (see docs/flags.md, `bucket_by`)."""

    tenant_id: str | None
    workflow_id: str | None
    execution_id: str | None

    @classmethod
    def resolve(
        cls,
        given: CodeNodeInput,
        *,
        workflow_id: str | None,
        workflow_run_id: str | None,
    ) -> RolloutIds:
        """The ids the caller gave, else the calling workflow's id and run id."""
        return cls(
            tenant_id=given.tenant_id,
            workflow_id=given.workflow_id or workflow_id or None,
            execution_id=given.execution_id or workflow_run_id or None,
        )


_ALLOWED = {
    "node": "the code node's stored config, a JSON object with language and code",
    "context": "the workflow context, a JSON object ({} when the node needs no inputs)",
    "tenantId": "a non-empty string, or leave it out",
    "workflowId": "a non-empty string, or leave it out (default: the calling workflow's id)",
    "executionId": "a non-empty string, or leave it out (default: the workflow's run id)",
}


def parse_input(raw: object) -> CodeNodeInput:
    """Validate the activity's argument; raise `ValidationError` naming the first bad field
    (further problems are appended, so one round trip shows them all)."""
    if not isinstance(raw, dict):
        raise ValidationError(
            "input",
            f"must be a JSON object, got {_json_type(raw)}",
            "{node, context, tenantId?, workflowId?, executionId?}",
        )
    try:
        return CodeNodeInput.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        field, problem = problems[0]
        extra = "; ".join(f"{f}: {p}" for f, p in problems[1:])
        raise ValidationError(
            field, problem + (f"; also {extra}" if extra else ""), _ALLOWED.get(field)
        ) from None


def _describe(error: Any) -> tuple[str, str]:
    location = [str(part) for part in error.get("loc", ())]
    field = ".".join(location) or "input"
    kind = error.get("type")
    if kind == "missing":
        return field, "is required"
    if kind == "extra_forbidden":
        return field, "is not a field of the input (known: " + ", ".join(_ALLOWED) + ")"
    return field, str(error.get("msg", "is invalid"))


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
