"""The service's OpenAPI document, as committed in docs/openapi.json.

FastAPI builds it from the routes and the request models; the envelope, which the route
returns as a plain response (to keep the library's exact JSON), is added here from the
library's own `Envelope` model, so the TypeScript client's types come from the same model.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import models_json_schema

from turnout.envelope import Envelope
from turnout.models import IDENTIFIER
from turnout_serve.schema import ErrorBody

__all__ = ["complete", "document", "render"]


def document() -> dict[str, Any]:
    """The OpenAPI document of the service (no client or flags needed to build it)."""
    from turnout_serve.app import create_app
    from turnout_serve.settings import ServiceSettings

    return create_app(_NoClient(), ServiceSettings()).openapi()  # type: ignore[arg-type]


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document with the envelope's schemas added, and FastAPI's default 422
    body (`{"detail": [...]}`, which this service never sends) replaced by `ErrorBody`."""
    _, definitions = models_json_schema(
        [(Envelope, "serialization"), (ErrorBody, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            invalid = operation.get("responses", {}).get("422")
            if invalid is not None:
                invalid["content"] = {"application/json": {"schema": error_body}}
    for default in ("HTTPValidationError", "ValidationError"):
        schemas.pop(default, None)
    _output_variable_pattern(schemas)
    return spec


def _output_variable_pattern(schemas: dict[str, Any]) -> None:
    """`outputVariable` is checked by a validator, which pydantic's schema does not show:
    the document states the identifier pattern it enforces."""
    field = schemas.get("CodeNodeConfig", {}).get("properties", {}).get("outputVariable", {})
    for branch in field.get("anyOf", []):
        if branch.get("type") == "string":
            branch["pattern"] = IDENTIFIER.pattern


def render() -> str:
    """The document as committed: sorted keys are not used (FastAPI's order reads better),
    two-space indentation, a final newline."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


class _NoClient:
    """Stands in for a `turnout.Client` while only the routes are built."""

    async def aclose(self, grace_s: float | None = None) -> None:
        return None
