"""schemathesis against the live service's own OpenAPI document: whatever it generates,
valid or not, the service never answers 500 and never answers off its schema.

Every default check runs (status, content type, headers and body on the schema, invalid
data refused) but two:

- `positive_data_acceptance`: JSON Schema calls `92.0` an integer, and the library (whose
  errors the service answers with, word for word) refuses a float where a node stores an
  integer, so a schema-valid `"memory": 92.0` is rightly a 422;
- `not_a_server_error`, which fails any 5xx: 502, 503 and 504 are documented answers (a
  backend failure, classified); `no_internal_error` fails a 500 instead, the service's
  answer to a bug."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from .support import ServeProcess

MAX_EXAMPLES = 25
"""Per operation: enough to find a crash class, small enough for every CI run (each
example of `POST /v1/executions` may start an interpreter)."""
OPERATIONS = [
    ("POST", "/v1/executions"),
    ("GET", "/v1/backends"),
    ("GET", "/v1/flags/explain"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
]


def no_internal_error(_: object, response: Any, case: Case) -> None:
    """A 500 is a bug in turnout or in the service (an `InternalError`)."""
    assert response.status_code != 500, f"{case.method} {case.path}: {response.text[:2000]}"


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_gets_a_500_or_an_answer_off_schema(
    service: ServeProcess, method: str, path: str
) -> None:
    """Each generated request to the operation (valid and invalid bodies and queries) gets
    an answer with a documented status, content type and schema, never a server error."""
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    operation = schema[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    def call(case: Case) -> None:
        case.call_and_validate(
            headers=service.headers,
            excluded_checks=[positive_data_acceptance, not_a_server_error],
            additional_checks=[no_internal_error],
        )

    call()
