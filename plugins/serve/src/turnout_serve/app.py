"""The FastAPI app of `turnout serve`: routes over one `turnout.Client`, and the error mapping.

Every answer that is not an envelope is `{"error": {...}}`, the body `turnout run --json`
prints, with the status `turnout_serve.errors.status_for` gives: FastAPI's own answers
(`{"detail": ...}` for a bad body, an unknown route, a wrong method) are translated into
turnout errors first, so a caller has one shape to read. Envelopes and errors are scrubbed
of secrets exactly as the CLI scrubs what it prints.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException
from starlette.responses import Response

from turnout.client import Client
from turnout.errors import CodeExecutionError, InternalError, TurnoutError, ValidationError
from turnout.redaction import scrub_data, scrub_envelope
from turnout_serve.errors import (
    NotReadyError,
    RequestRejectedError,
    error_body,
    retry_after_header,
    status_for,
)
from turnout_serve.execution import ClientDisconnectedError, execute
from turnout_serve.gate import EXECUTIONS_PATH, Gate, ServiceState
from turnout_serve.metrics import CONTENT_TYPE, ServiceMetrics
from turnout_serve.request_errors import from_request_validation
from turnout_serve.responses import TurnoutJSONResponse
from turnout_serve.schema import (
    ENVELOPE_RESPONSE,
    ErrorBody,
    ExecutionRequestBody,
    Health,
    Readiness,
)
from turnout_serve.settings import ServiceSettings

__all__ = ["API_VERSION", "create_app", "service_state"]

API_VERSION = "1.0.0"
_bearer = HTTPBearer(auto_error=False, description="One of the service's tokens.")
"""Documents the bearer scheme in the OpenAPI document; the gate enforces it."""
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "No or a wrong bearer token.",
        408: "The body arrived too slowly.",
        413: "The body is larger than the service accepts.",
        415: "The body is not sent as application/json.",
        422: "The node, the context or an id is invalid; `field` names it.",
        429: "Every execution slot is taken; retry after Retry-After seconds.",
        500: "The deployment is misconfigured, or a bug.",
        502: "The backend failed and a retry will not help.",
        503: "A retryable infrastructure error, or the replica is draining; see Retry-After.",
        504: "The backend did not answer within the node's timeout plus provisioning.",
    }.items()
}


def create_app(client: Client, settings: ServiceSettings) -> FastAPI:
    """The app serving `client` with the limits and tokens of `settings`."""
    state = ServiceState(
        tokens=settings.tokens,
        max_body_bytes=settings.max_body_bytes,
        max_concurrency=settings.max_concurrency,
        body_timeout_s=settings.body_timeout_s,
        metrics=ServiceMetrics(lambda: client.engine.registry.ids),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.metrics.engine.attach()
        try:
            yield
            await client.aclose(settings.grace_s)  # after a drain this returns at once
        finally:
            state.metrics.engine.detach()

    app = FastAPI(
        title="turnout",
        version=API_VERSION,
        summary="Run workflow code nodes on turnout's feature-flagged backends.",
        docs_url=None,
        redoc_url=None,
        default_response_class=TurnoutJSONResponse,
        lifespan=lifespan,
    )
    app.state.service = state
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(Gate, state=state)
    _add_error_handlers(app)
    guarded = [Security(_bearer)]

    @app.post(
        EXECUTIONS_PATH,
        dependencies=guarded,
        responses={200: ENVELOPE_RESPONSE, **_ERRORS},
        response_model=None,
        summary="Run one code node",
    )
    async def post_execution(body: ExecutionRequestBody, request: Request) -> Response:
        try:
            envelope = await execute(
                client,
                body,
                receive=request.receive,
                headers=request.headers,
                provisioning_budget_s=settings.provisioning_budget_s,
                metrics=state.metrics,
            )
        except CodeExecutionError as error:
            return error_response(error)
        except ClientDisconnectedError:
            return Response(status_code=499)  # nobody reads it; the access log does
        wire = envelope.to_dict()
        if envelope.output_variable:
            [(variable, inner)] = wire.items()
            return _json({variable: scrub_envelope(inner)[0]}, 200)
        return _json(scrub_envelope(wire)[0], 200)

    @app.get("/v1/backends", dependencies=guarded, responses={401: _ERRORS[401]})
    async def get_backends() -> dict[str, Any]:
        """Every registered backend, as `turnout backends --json` lists them."""
        engine = client.engine
        descriptions = engine.describe_backends()
        listing: dict[str, Any] = scrub_data(
            {
                "environment": client.environment,
                "default": engine.environment_flags.backend,
                "backends": [description.to_dict() for description in descriptions],
            }
        )
        return listing

    @app.get("/v1/flags/explain", dependencies=guarded, responses={401: _ERRORS[401]})
    async def get_explain(
        tenant_id: str | None = Query(None, alias="tenantId", min_length=1, max_length=256),
        workflow_id: str | None = Query(None, alias="workflowId", min_length=1, max_length=256),
        execution_id: str | None = Query(None, alias="executionId", min_length=1, max_length=256),
        side_effect_free: bool = Query(False, alias="sideEffectFree"),
    ) -> dict[str, Any]:
        """The decision the flags in force make for these ids, as `turnout flags explain
        --json` prints it."""
        decision = client.explain(
            tenant_id=tenant_id,
            workflow_id=workflow_id,
            execution_id=execution_id,
            side_effect_free=side_effect_free,
        )
        return {"environment": client.environment, **decision.to_log()}

    @app.get("/healthz")
    async def get_health() -> Health:
        """The process answers (liveness)."""
        return Health(status="ok")

    @app.get("/readyz", responses={503: {"model": ErrorBody}})
    async def get_ready() -> Readiness:
        """Flags loaded, the environment's backends constructible, not draining."""
        reasons = _unready_reasons(client, state)
        if reasons:
            raise NotReadyError(reasons)
        return Readiness(ready=True)

    @app.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
    async def get_metrics() -> Response:
        """The Prometheus text exposition of the service's counters."""
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    return app


def _openapi(app: FastAPI) -> Any:
    """`app.openapi`, completed by `turnout_serve.openapi.complete` and kept once built."""
    original = app.openapi

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            from turnout_serve.openapi import complete

            app.openapi_schema = complete(original())
        return app.openapi_schema

    return build


def service_state(app: FastAPI) -> ServiceState:
    """The state the gate and routes of `app` share (the server drains through it)."""
    state: ServiceState = app.state.service
    return state


def error_response(error: TurnoutError) -> TurnoutJSONResponse:
    """The response for `error`: its body, its status, and Retry-After when retryable."""
    return _json(
        scrub_data(error_body(error)), status_for(error), headers=retry_after_header(error)
    )


def _json(data: Any, status: int, headers: dict[str, str] | None = None) -> TurnoutJSONResponse:
    return TurnoutJSONResponse(data, status_code=status, headers=headers)


def _unready_reasons(client: Client, state: ServiceState) -> list[str]:
    if state.draining:
        return ["the service is draining (SIGTERM)"]
    reasons = []
    try:
        flags = client.engine.environment_flags
        for backend_id in dict.fromkeys((flags.backend, flags.target_backend)):
            client.engine.backend(backend_id)
    except TurnoutError as error:
        reasons.append(error.message)
    return reasons


def _add_error_handlers(app: FastAPI) -> None:
    async def on_turnout_error(_: Request, error: Exception) -> Response:
        assert isinstance(error, TurnoutError)
        return error_response(error)

    async def on_validation(_: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        return error_response(from_request_validation(error))

    async def on_http(_: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        return error_response(_from_http(error))

    async def on_bug(_: Request, error: Exception) -> Response:
        return error_response(InternalError(f"the service failed: {type(error).__name__}"))

    app.add_exception_handler(TurnoutError, on_turnout_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_bug)


def _from_http(error: HTTPException) -> TurnoutError:
    """FastAPI's and Starlette's own refusals as turnout errors."""
    if error.status_code == 404:
        return RequestRejectedError(
            "path", "no such route", status=404, allowed="see GET /openapi.json"
        )
    if error.status_code == 405:
        return RequestRejectedError(
            "method",
            "this route does not take this method",
            status=405,
            allowed="see GET /openapi.json",
        )
    if error.status_code == 400:  # FastAPI could not parse the body (for example too deep)
        return ValidationError("body", f"could not be read as JSON: {error.detail}")
    return RequestRejectedError("request", str(error.detail), status=error.status_code)
