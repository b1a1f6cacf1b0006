"""One `POST /v1/executions`: the Client's execute, bounded by a deadline and by the client.

Why here and not in the library: only a service has a caller that can vanish. The
execution runs as a task next to a watcher of the connection; if the client disconnects
first, the task is cancelled, which makes the backend kill its sandbox or process before
the cancellation completes (`turnout.shutdown`). The deadline is the node's own timeout
plus the provisioning budget: past it, the backend is not answering, and the execution is
cancelled the same way and answered with a `DeadlineExceededError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from turnout.client import Client
from turnout.envelope import Envelope
from turnout.errors import (
    CodeExecutionError,
    ConfigurationError,
    InfrastructureError,
    TurnoutError,
    ValidationError,
)
from turnout_serve.errors import DeadlineExceededError
from turnout_serve.metrics import ServiceMetrics
from turnout_serve.schema import ExecutionRequestBody
from turnout_serve.tracing import execution_span, record_error, record_success

__all__ = ["ClientDisconnectedError", "execute"]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class ClientDisconnectedError(Exception):
    """The client closed its connection before the answer: the execution was cancelled."""


async def execute(
    client: Client,
    request: ExecutionRequestBody,
    *,
    receive: Receive,
    headers: Mapping[str, str],
    provisioning_budget_s: float,
    metrics: ServiceMetrics,
) -> Envelope:
    """Run the request's node on `client`, in its span (`turnout_serve.tracing`); raise its
    classified error, a `DeadlineExceededError`, or `ClientDisconnectedError` (nothing to
    answer)."""
    with execution_span(headers) as span:
        try:
            envelope = await _watched(
                client,
                request,
                receive=receive,
                provisioning_budget_s=provisioning_budget_s,
                metrics=metrics,
            )
        except ClientDisconnectedError:
            record_error(span, None, "cancelled")
            raise
        except TurnoutError as error:
            record_error(span, error, _outcome(error))
            raise
        record_success(span, envelope.metadata.backend)
        return envelope


async def _watched(
    client: Client,
    request: ExecutionRequestBody,
    *,
    receive: Receive,
    provisioning_budget_s: float,
    metrics: ServiceMetrics,
) -> Envelope:
    """The execution raced against the client's disconnect and the deadline."""
    deadline_s = request.node.timeout / 1000 + provisioning_budget_s
    started = time.perf_counter()
    work = asyncio.ensure_future(
        client.execute(
            request.node,
            request.context,
            tenant_id=request.tenant_id,
            workflow_id=request.workflow_id,
            execution_id=request.execution_id,
        )
    )
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        done, _ = await asyncio.wait(
            {work, watcher}, timeout=deadline_s, return_when=asyncio.FIRST_COMPLETED
        )
        if work not in done:
            await _cancel(work)
            outcome = "cancelled" if watcher in done else "deadline"
            metrics.executions.labels(backend="", outcome=outcome, kind="").inc()
            if watcher in done:
                raise ClientDisconnectedError
            raise DeadlineExceededError(
                f"no answer within {deadline_s:g} s (the node's timeout of "
                f"{request.node.timeout} ms plus {provisioning_budget_s:g} s to provision); "
                "the execution was cancelled and its sandbox killed"
            )
    finally:
        await _cancel(watcher)
        await _cancel(work)  # only still running when this request itself was cancelled
    try:
        envelope = work.result()
    except TurnoutError as error:
        _count(metrics, error, started)
        raise
    metrics.executions.labels(backend=envelope.metadata.backend, outcome="success", kind="").inc()
    metrics.latency.labels(backend=envelope.metadata.backend).observe(time.perf_counter() - started)
    return envelope


def _outcome(error: TurnoutError) -> str:
    """The `outcome` label and span attribute of an execution that ended in `error`."""
    if isinstance(error, CodeExecutionError):
        return "code_error"
    if isinstance(error, ValidationError):
        return "validation_error"
    if isinstance(error, DeadlineExceededError):
        return "deadline"
    if isinstance(error, InfrastructureError):
        return "infrastructure_error"
    if isinstance(error, ConfigurationError):
        return "configuration_error"
    return "internal_error"


def _count(metrics: ServiceMetrics, error: TurnoutError, started: float) -> None:
    backend = str(getattr(error, "backend", None) or "")
    kind = str(error.to_dict().get("kind", ""))
    metrics.executions.labels(backend=backend, outcome=_outcome(error), kind=kind).inc()
    metrics.latency.labels(backend=backend).observe(time.perf_counter() - started)


async def _disconnected(receive: Receive) -> None:
    """Return when the client disconnects (every other message is ignored)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _cancel(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait until its cleanup (the sandbox kill) is over."""
    if task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
