"""The service's request and response bodies, as pydantic models.

The node is the library's own `CodeNodeConfig` and the answer the library's own `Envelope`,
so the OpenAPI document (docs/openapi.json) describes exactly what `turnout.Client`
validates and returns. Request fields are camelCase, like the node's stored fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from turnout.models import CodeNodeConfig

__all__ = [
    "ENVELOPE_RESPONSE",
    "ErrorBody",
    "ErrorDetail",
    "ExecutionRequestBody",
    "Health",
    "Readiness",
]

_ID = {"min_length": 1, "max_length": 256}


class ExecutionRequestBody(BaseModel):
    """`POST /v1/executions`: one code node, its workflow context, and the rollout ids."""

    model_config = ConfigDict(extra="forbid")

    node: CodeNodeConfig
    """The node's stored config (docs/contract.md)."""
    context: dict[str, Any]
    """The workflow context; the node's `inputVariables` select from it."""
    tenant_id: str | None = Field(default=None, alias="tenantId", **_ID)  # type: ignore[call-overload]
    workflow_id: str | None = Field(default=None, alias="workflowId", **_ID)  # type: ignore[call-overload]
    execution_id: str | None = Field(default=None, alias="executionId", **_ID)  # type: ignore[call-overload]


class ErrorDetail(BaseModel):
    """An error as `turnout run --json` prints it; each class adds its own fields
    (`field`, `stdout`, `retry_after`, `backend`, ...)."""

    model_config = ConfigDict(extra="allow")

    type: str
    message: str
    retryable: bool
    kind: str | None = None


class ErrorBody(BaseModel):
    """Every error response, whatever its status."""

    error: ErrorDetail


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    reasons: list[str] = Field(default_factory=list)


ENVELOPE_RESPONSE: dict[str, Any] = {
    "description": "The envelope (wrapped as `{outputVariable: envelope}` when the node names "
    "one) or, when the user's code failed, the error with its `kind`: a completed execution.",
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/components/schemas/Envelope"},
                        "minProperties": 1,
                        "maxProperties": 1,
                    },
                    {"$ref": "#/components/schemas/ErrorBody"},
                ]
            }
        }
    },
}
"""The 200 answer of `POST /v1/executions` in the OpenAPI document (the `Envelope` schema
is added to the document's components by `turnout_serve.openapi`)."""
