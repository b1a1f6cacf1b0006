"""FastAPI's report of an invalid request, as the one `ValidationError` turnout raises.

A bad node is reported exactly as `turnout.Client` reports it (the node is validated again
by `turnout.models.parse_config`, so the field, the message and what is allowed are the
library's, word for word); anything else names the request field (`context`, `tenantId`,
`body` for JSON that does not parse) and what the service accepts there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError

from turnout.errors import ValidationError
from turnout.models import parse_config

__all__ = ["from_request_validation"]

_ALLOWED = {
    "body": "one JSON object: {node, context, tenantId?, workflowId?, executionId?}",
    "context": "a JSON object (the workflow context; {} for none)",
    "tenantId": "a non-empty string of at most 256 characters, or null",
    "workflowId": "a non-empty string of at most 256 characters, or null",
    "executionId": "a non-empty string of at most 256 characters, or null",
    "sideEffectFree": "true or false",
}
_FIELDS = "node, context, tenantId, workflowId, executionId"


def from_request_validation(error: RequestValidationError) -> ValidationError:
    """The first problem of `error` as a `ValidationError` (the others appended)."""
    problems: Sequence[Mapping[str, Any]] = error.errors()
    node = _bad_node(problems, error.body)
    if node is not None:
        return node
    described = [_describe(problem) for problem in problems] or [("body", "is invalid")]
    field, problem = described[0]
    extra = "; ".join(f"{f}: {p}" for f, p in described[1:])
    return ValidationError(
        field, problem + (f"; also {extra}" if extra else ""), _ALLOWED.get(field.split(".")[0])
    )


def _bad_node(problems: Sequence[Mapping[str, Any]], body: Any) -> ValidationError | None:
    """The library's own error for the node, when the node is among the problems."""
    if not isinstance(body, Mapping) or "node" not in body:
        return None
    if not any(tuple(problem.get("loc", ()))[:2] == ("body", "node") for problem in problems):
        return None
    try:
        parse_config(body["node"])
    except ValidationError as invalid:
        return invalid
    return None


def _describe(problem: Mapping[str, Any]) -> tuple[str, str]:
    location = [str(part) for part in problem.get("loc", ())][1:]  # drop "body" / "query"
    field = ".".join(location) or "body"
    kind = problem.get("type")
    if kind == "json_invalid":
        detail = (problem.get("ctx") or {}).get("error", "")
        return "body", f"is not valid JSON ({detail})" if detail else "is not valid JSON"
    if kind == "missing":
        return field, "is required"
    if kind == "extra_forbidden":
        return field, f"is not a field of this request (the fields are {_FIELDS})"
    if kind in ("model_attributes_type", "dict_type") and field == "body":
        return field, "must be a JSON object"
    return field, str(problem.get("msg", "is invalid"))
