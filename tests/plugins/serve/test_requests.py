"""Bad and hostile requests to a live `turnout serve`: each gets a clear status and a turnout
error body naming what to fix, and nothing is left running behind it."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import httpx
import pytest
from turnout_e2b_server.testing import ServerProcess
from turnout_serve.client import ServiceClient
from turnout_serve.errors import AuthenticationError

from turnout.errors import ValidationError
from turnout.models import parse_config

from .support import ON_E2B, ServeProcess, node, post_head, raw_request, read_response, wait_until

GOOD = {"node": node("python", "return 1"), "context": {}}


async def post(service: ServeProcess, body: Any, **options: Any) -> httpx.Response:
    headers = {**service.headers, **options.pop("headers", {})}
    async with httpx.AsyncClient(base_url=service.url, headers=headers) as http:
        if isinstance(body, bytes | str):
            headers.setdefault("Content-Type", "application/json")
            return await http.post("/v1/executions", content=body, headers=headers, **options)
        return await http.post("/v1/executions", json=body, **options)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert list(body) == ["error"], body
    detail: dict[str, Any] = body["error"]
    return detail


class TestAuthentication:
    @pytest.mark.parametrize(
        "header", [None, "Bearer wrong-token", "Basic c2VydmUtdGVzdA==", "Bearer"]
    )
    async def test_a_missing_or_wrong_token_is_401(
        self, service: ServeProcess, header: str | None
    ) -> None:
        """Without the bearer token (or with another), the answer is 401 with an
        AuthenticationError, and no execution starts."""
        headers = {"Authorization": header} if header else {}
        async with httpx.AsyncClient(base_url=service.url, headers=headers) as http:
            response = await http.post("/v1/executions", json=GOOD)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert error_of(response)["type"] == "AuthenticationError"

    async def test_the_python_client_raises_the_typed_error(self, service: ServeProcess) -> None:
        """The client turns a 401 into `AuthenticationError`, never retryable."""
        async with ServiceClient(service.url, token="wrong") as client:
            with pytest.raises(AuthenticationError) as refused:
                await client.execute(GOOD["node"], {})
        assert not refused.value.retryable


class TestMalformed:
    @pytest.mark.parametrize(
        ("body", "field", "words"),
        [
            (b'{"node": ', "body", "not valid JSON"),
            (b"[]", "body", "must be a JSON object"),
            (b'"text"', "body", "must be a JSON object"),
            ({"node": GOOD["node"]}, "context", "is required"),
            ({**GOOD, "context": [1]}, "context", "dictionary"),
            ({**GOOD, "tenant_id": "t"}, "tenant_id", "is not a field of this request"),
            ({**GOOD, "tenantId": ""}, "tenantId", "at least 1 character"),
            ({**GOOD, "tenantId": 7}, "tenantId", "string"),
        ],
        ids=[
            "truncated",
            "array",
            "string",
            "no-context",
            "list-context",
            "snake",
            "empty-id",
            "int-id",
        ],
    )
    async def test_a_malformed_body_is_422_naming_the_field(
        self, service: ServeProcess, body: Any, field: str, words: str
    ) -> None:
        """A body that is not the request's shape is 422 with a ValidationError whose
        `field` names the part and whose message says what is wrong."""
        response = await post(service, body)
        assert response.status_code == 422
        error = error_of(response)
        assert (error["type"], error["field"], error["retryable"]) == (
            "ValidationError",
            field,
            False,
        )
        assert words in error["message"]

    @pytest.mark.parametrize(
        "bad_node",
        [
            {"language": "typescript", "code": "x"},
            {"language": "python", "code": ""},
            {"language": "python", "code": "x", "timeout": "30"},
            {"language": "python", "code": "x", "outputVariable": "not an identifier"},
            "return 1",
        ],
        ids=["typescript", "empty-code", "string-timeout", "bad-output-variable", "not-object"],
    )
    async def test_a_bad_node_gets_the_library_s_own_error(
        self, service: ServeProcess, bad_node: Any
    ) -> None:
        """An invalid node is answered 422 with exactly the error `turnout.Client` raises
        for it (same field, same message, same allowed values)."""
        response = await post(service, {"node": bad_node, "context": {}})
        assert response.status_code == 422
        with pytest.raises(ValidationError) as expected:
            parse_config(bad_node)
        assert error_of(response) == expected.value.to_dict()

    async def test_a_body_not_sent_as_json_is_415(self, service: ServeProcess) -> None:
        """A form-encoded body (curl -d's default) is 415, naming the header to send."""
        response = await post(
            service,
            json.dumps(GOOD),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 415
        assert error_of(response)["field"] == "Content-Type"

    async def test_json_nested_too_deeply_is_422_and_the_service_lives_on(
        self, service: ServeProcess, client: ServiceClient
    ) -> None:
        """A context nested 30,000 levels deep is refused as invalid input, not a 500, and
        the next execution runs."""
        deep = '{"node": {"language": "python", "code": "return 1"}, "context": {"x": '
        deep += "[" * 30_000 + "]" * 30_000 + "}}"
        response = await post(service, deep)
        assert response.status_code == 422
        assert error_of(response)["field"] == "body"
        assert (await client.execute(GOOD["node"], {})).output == 1

    async def test_unknown_routes_and_methods_get_the_error_shape(
        self, service: ServeProcess
    ) -> None:
        """404 and 405 carry a turnout error body too, never FastAPI's `detail`."""
        async with httpx.AsyncClient(base_url=service.url, headers=service.headers) as http:
            missing = await http.get("/v1/nothing")
            wrong = await http.get("/v1/executions")
        assert (missing.status_code, error_of(missing)["field"]) == (404, "path")
        assert (wrong.status_code, error_of(wrong)["field"]) == (405, "method")


class TestLimits:
    def test_a_declared_oversized_body_is_413_before_it_is_sent(
        self, service: ServeProcess
    ) -> None:
        """A Content-Length over the cap is answered 413 without reading the body."""
        status, body = raw_request(service.port, post_head(10_000_000))
        assert status == 413
        assert json.loads(body)["error"]["field"] == "body"

    def test_a_streamed_oversized_body_is_cut_at_the_cap(self, service: ServeProcess) -> None:
        """A chunked body with no length is answered 413 as soon as it passes the cap, while
        the client is still sending."""
        with socket.create_connection(("127.0.0.1", service.port), timeout=30) as connection:
            connection.sendall(post_head(None, extra="Transfer-Encoding: chunked"))
            chunk = b"[" + b" " * 8190 + b"\r\n"
            sent = 0
            try:
                while sent < 10_000_000:
                    connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
            except OSError:
                pass  # the service answered and closed while we were still sending
            status, body = read_response(connection)
        assert sent < 10_000_000
        assert status == 413
        assert json.loads(body)["error"]["field"] == "body"

    @pytest.mark.timing
    def test_a_body_sent_one_byte_a_second_is_408(self, service: ServeProcess) -> None:
        """A client trickling its body (one byte a second) is answered 408 when the body
        timeout (2 s here) passes, not held for as long as it cares to send."""
        payload = json.dumps(GOOD).encode()
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", service.port), timeout=30) as connection:
            connection.sendall(post_head(len(payload)))
            connection.setblocking(False)
            answer = b""
            for byte in payload:
                try:
                    connection.send(bytes([byte]))
                except OSError:
                    break
                time.sleep(1.0)
                try:
                    answer += connection.recv(65536)
                except BlockingIOError:
                    continue
                if answer:
                    break
            connection.setblocking(True)
            rest_status, rest = read_response(connection)
        head = answer + rest if answer else b""
        status = int(head.split(b" ", 2)[1]) if head else rest_status
        assert status == 408
        assert time.monotonic() - started < 20


class TestDisconnect:
    async def test_a_client_that_leaves_cancels_its_local_execution(
        self, service: ServeProcess, client: ServiceClient
    ) -> None:
        """A client that disconnects mid-execution has its execution cancelled: the node's
        process is gone, and the service answers the next request."""
        before = {child.pid for child in service.children()}
        slow = node("python", "import time\ntime.sleep(60)\nreturn 1", timeout=120_000)
        payload = json.dumps({"node": slow, "context": {}}).encode()
        connection = socket.create_connection(("127.0.0.1", service.port), timeout=30)
        connection.sendall(post_head(len(payload)) + payload)
        wait_until(lambda: {c.pid for c in service.children()} - before, 30, "the node's process")
        connection.close()
        wait_until(lambda: not ({c.pid for c in service.children()} - before), 30, "the kill")
        assert (await client.execute(GOOD["node"], {})).output == 1

    async def test_a_client_that_leaves_gets_its_sandbox_killed(
        self, service: ServeProcess, e2b: ServerProcess
    ) -> None:
        """On e2b, the sandbox of a disconnected client's execution is killed."""
        slow = node("python", "import time\ntime.sleep(60)\nreturn 1", timeout=120_000)
        payload = json.dumps({"node": slow, "context": {}, "tenantId": ON_E2B}).encode()
        connection = socket.create_connection(("127.0.0.1", service.port), timeout=30)
        connection.sendall(post_head(len(payload)) + payload)
        wait_until(lambda: e2b.stats()["sandboxes"], 30, "the sandbox")
        connection.close()
        await asyncio.to_thread(
            wait_until, lambda: not e2b.stats()["sandboxes"], 30, "the sandbox kill"
        )
