"""`ServiceClient`: `turnout.Client`'s `execute` and `explain`, over HTTP to `turnout serve`.

    async with ServiceClient("http://127.0.0.1:8080", token="...") as service:
        envelope = await service.execute(node, context, tenant_id="t-1")

It returns the library's own `Envelope` and raises the library's own errors (rebuilt from
the error body by `turnout_serve.wire`), so a worker moves between the library and the
service without changing its `except` clauses; the service's refusals are the classes of
`turnout_serve.errors` (`OverloadedError`, `ServiceDrainingError`, ...), each with
`retryable` and `retry_after`. Nothing is retried here: the caller's retry policy decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from turnout.envelope import Envelope
from turnout.errors import InfrastructureError
from turnout.models import CodeNodeConfig
from turnout_serve.wire import error_from_response

__all__ = ["DEFAULT_TIMEOUT_S", "ServiceClient"]

DEFAULT_TIMEOUT_S = 400.0
"""Longer than the longest node timeout (300 s) plus the service's provisioning budget."""


class ServiceClient:
    """An HTTP client of one `turnout serve`; one per process, safe from many tasks."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout_s,
            transport=transport,
            trust_env=False,
        )

    async def execute(
        self,
        node: Mapping[str, Any] | CodeNodeConfig,
        context: Mapping[str, Any],
        *,
        tenant_id: str | None = None,
        workflow_id: str | None = None,
        execution_id: str | None = None,
    ) -> Envelope:
        """Run one node on the service; the envelope, or the error it answered with."""
        payload: dict[str, Any] = {
            "node": node.model_dump(by_alias=True, exclude_unset=True)
            if isinstance(node, CodeNodeConfig)
            else dict(node),
            "context": dict(context),
        }
        for name, value in (
            ("tenantId", tenant_id),
            ("workflowId", workflow_id),
            ("executionId", execution_id),
        ):
            if value is not None:
                payload[name] = value
        data = await self._request("POST", "/v1/executions", json=payload)
        return Envelope.from_dict(data)

    async def explain(
        self,
        *,
        tenant_id: str | None = None,
        workflow_id: str | None = None,
        execution_id: str | None = None,
    ) -> dict[str, Any]:
        """The decision for these ids, as `turnout flags explain --json` prints it."""
        params = {
            name: value
            for name, value in (
                ("tenantId", tenant_id),
                ("workflowId", workflow_id),
                ("executionId", execution_id),
            )
            if value is not None
        }
        result: dict[str, Any] = await self._request("GET", "/v1/flags/explain", params=params)
        return result

    async def backends(self) -> dict[str, Any]:
        """The backends, as `turnout backends --json` lists them."""
        result: dict[str, Any] = await self._request("GET", "/v1/backends")
        return result

    async def ready(self) -> bool:
        """Whether the service says it is ready (`GET /readyz`)."""
        try:
            response = await self._http.get("/readyz")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def _request(self, method: str, path: str, **options: Any) -> Any:
        try:
            response = await self._http.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise InfrastructureError(
                f"turnout serve at {self._http.base_url} could not be reached: "
                f"{type(exc).__name__}: {exc}",
                started=not isinstance(exc, httpx.ConnectError),
            ) from exc
        error = error_from_response(response.status_code, response.content, response.headers)
        if error is not None:
            raise error
        return response.json()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
