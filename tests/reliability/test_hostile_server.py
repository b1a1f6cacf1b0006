"""Hostile requests to the local E2B-compatible server's HTTP surface, property-based.

Whatever arrives (malformed or huge bodies, unknown sandbox ids, path traversal in /files,
kills racing executions), the server answers an E2B-style error (the status, and a JSON
object `{"code": status, "message": str}`) or a success, never a 500; it stays up; and no
file outside the sandbox's own directory is read or written.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from turnout_e2b_server.testing import ServerProcess, server_fixture

from .strategies import json_values

JUPYTER_PORT = "49999"
ENVD_PORT = "49983"
TWENTY_MB = 20 * 1024 * 1024
#: Statuses the server may answer for a request it cannot serve (502: the sandbox is gone,
#: as E2B's edge proxy says). 500 is never acceptable: it is an unhandled exception.
SERVER_ERRORS_ALLOWED = {502, 503}

reliability_server = server_fixture("--python-pool", "1", "--javascript-pool", "1", scope="module")


def check_answer(response: httpx.Response) -> None:
    """Success, or an error status with the E2B JSON body; never a 500."""
    status = response.status_code
    assert status < 500 or status in SERVER_ERRORS_ALLOWED, (status, response.text[:300])
    if status >= 400:
        body = response.json()
        assert isinstance(body, dict), body
        assert body.get("code") == status, body
        assert isinstance(body.get("message"), str), body


#: The tokens of every sandbox created here, by id (a sandbox call must carry them).
TOKENS: dict[str, dict[str, str]] = {}


def create_sandbox(client: httpx.Client) -> str:
    """A fresh sandbox through the control plane; its id (its tokens go to TOKENS)."""
    response = client.post("/sandboxes", json={"templateID": "code-interpreter-v1"})
    assert response.status_code == 201, response.text
    return remember(response.json())


def remember(created: dict[str, Any]) -> str:
    """Keep a create answer's tokens for `sandbox_headers`; the sandbox's id."""
    sandbox_id: str = created["sandboxID"]
    TOKENS[sandbox_id] = {
        "X-Access-Token": created["envdAccessToken"],
        "E2B-Traffic-Access-Token": created["trafficAccessToken"],
    }
    return sandbox_id


def sandbox_headers(sandbox_id: str, port: str) -> dict[str, str]:
    """Routing headers and, for a sandbox created here, its tokens (as the SDK sends)."""
    return {"E2b-Sandbox-Id": sandbox_id, "E2b-Sandbox-Port": port, **TOKENS.get(sandbox_id, {})}


@pytest.fixture(scope="module")
def client(reliability_server: ServerProcess) -> Iterator[httpx.Client]:
    """A client for the server, with an API key, that never uses a proxy."""
    with httpx.Client(
        base_url=reliability_server.url,
        trust_env=False,
        timeout=30.0,
        headers={"X-API-KEY": reliability_server.api_key},
    ) as http:
        yield http


@pytest.fixture(scope="module")
def sandbox(client: httpx.Client) -> str:
    """One sandbox that lives for the whole module."""
    return create_sandbox(client)


@pytest.fixture(scope="module")
def canaries(reliability_server: ServerProcess, sandbox: str) -> Iterator[dict[Path, bytes]]:
    """Files outside the sandbox's directory that no request may read or change."""
    root = Path(reliability_server.stats()["root"])
    token = uuid.uuid4().hex
    files = {
        root / f"canary-{token}.txt": f"server-root-canary-{token}".encode(),
        Path("/tmp") / f"turnout-reliability-canary-{token}": f"tmp-canary-{token}".encode(),
    }
    for path, content in files.items():
        path.write_bytes(content)
    yield files
    for path in files:
        path.unlink(missing_ok=True)


def home_of(server: ServerProcess, sandbox_id: str) -> Path:
    for entry in server.stats()["sandboxes"]:
        if entry["sandboxID"] == sandbox_id:
            return Path(entry["home"])
    raise AssertionError(f"sandbox {sandbox_id} is not alive")


_TRAVERSALS = [
    "../",
    "../../",
    "../../../",
    "../../../../../../../../",
    "/home/user/../../",
    "/home/user/../",
    "..%2f..%2f",
    "%2e%2e/%2e%2e/",
    "%252e%252e%252f",
    "....//....//",
    "..\\..\\",
    "/",
    "//",
    "/tmp/",
    "/etc/",
    "~/../",
    "./../",
    "\x00",
    "/home/user/\x00../",
    "/home/user/./x/../../",
]


@st.composite
def file_paths(draw: st.DrawFn, canary_names: list[str]) -> str:
    """Sandbox paths that try to leave the home, aimed at the canaries and system files."""
    prefix = draw(st.sampled_from(_TRAVERSALS))
    target = draw(
        st.one_of(
            st.sampled_from([*canary_names, "etc/passwd", "passwd", "proc/self/environ", ""]),
            st.text(max_size=12),
        )
    )
    return prefix + target


class TestFilesStayInsideTheSandbox:
    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def test_downloads_never_read_outside_the_sandbox(
        self,
        data: st.DataObject,
        client: httpx.Client,
        sandbox: str,
        canaries: dict[Path, bytes],
    ) -> None:
        """GET /files with traversal paths answers 4xx JSON or a file of the sandbox's own."""
        names = [path.name for path in canaries]
        path = data.draw(file_paths(names))
        encoded = data.draw(st.booleans())
        headers = sandbox_headers(sandbox, ENVD_PORT)
        if encoded:  # percent-escapes in the path are sent as written (%2e%2e stays so)
            raw = urllib.parse.quote(path, safe="/%~.")
            response = client.get(f"/files?path={raw}", headers=headers)
        else:
            response = client.get("/files", params={"path": path}, headers=headers)
        check_answer(response)
        for content in canaries.values():
            assert content not in response.content
        assert b"root:x:0:0" not in response.content

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def test_uploads_never_write_outside_the_sandbox(
        self,
        data: st.DataObject,
        client: httpx.Client,
        reliability_server: ServerProcess,
        sandbox: str,
        canaries: dict[Path, bytes],
    ) -> None:
        """POST /files with traversal paths writes inside the home or is refused (4xx JSON)."""
        names = [path.name for path in canaries]
        marker = f"escape-{uuid.uuid4().hex}"
        path = data.draw(file_paths(names)) + data.draw(st.sampled_from(["", f"/{marker}", marker]))
        multipart = data.draw(st.booleans())
        headers = sandbox_headers(sandbox, ENVD_PORT)
        if multipart:
            response = client.post("/files", files={"file": (path, b"hostile")}, headers=headers)
        else:
            response = client.post(
                "/files",
                params={"path": path},
                content=b"hostile",
                headers={**headers, "Content-Type": "application/octet-stream"},
            )
        check_answer(response)
        for canary, content in canaries.items():
            assert canary.read_bytes() == content
        home = home_of(reliability_server, sandbox).resolve()
        root = Path(reliability_server.stats()["root"])
        for place in (root / "sandboxes", root, root.parent, Path("/tmp"), Path("/"), Path("/etc")):
            for written in place.glob(f"*{marker}*"):
                assert home in written.resolve().parents, f"written outside the home: {written}"


_PATHS = [
    "/sandboxes",
    "/v2/sandboxes",
    "/sandboxes/{id}",
    "/sandboxes/{id}/timeout",
    "/sandboxes/{id}/connect",
    "/v2/sandboxes/{id}/connect",
    "/execute",
    "/contexts",
    "/contexts/{id}",
    "/contexts/{id}/restart",
    "/files",
    "/health",
    "/_turnout/admin/config",
    "/_turnout/admin/faults",
    "/_turnout/admin/stats",
    "/nowhere",
    "/sandboxes/%2e%2e",
]
_MALFORMED = [
    b"",
    b"{",
    b'{"code": ',
    b"[]",
    b"null",
    b'"string"',
    b"{}",
    b'{"templateID": 5}',
    b'{"templateID": ""}',
    b'{"timeout": -1, "templateID": "x"}',
    b'{"timeout": 1e400, "templateID": "x"}',
    b'{"metadata": {"a": 1}, "templateID": "x"}',
    b'{"envVars": [1], "templateID": "x"}',
    b'{"code": 5}',
    b'{"code": "1", "context_id": 7}',
    b'{"code": "1", "language": "cobol"}',
    b'{"code": "1", "context_id": "nope"}',
    b'{"faults": [{"kind": "nope"}]}',
    b'{"faults": [{"kind": "slow_kill", "delay_ms": -1}]}',
    b'{"max_sandboxes": "many"}',
    b"\xff\xfe\x00garbage",
    b"NaN",
]


def _body(raw: Any) -> bytes:
    """JSON text for a generated value, never a runnable `code` field."""
    if isinstance(raw, dict) and "code" in raw:
        raw = {**raw, "code": "1"}
    if isinstance(raw, dict) and raw.get("kill_sandboxes"):
        raw = {**raw, "kill_sandboxes": False}
    return json.dumps(raw).encode()


class TestAnyRequest:
    @settings(
        max_examples=200,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def test_every_answer_is_a_success_or_an_e2b_error(
        self, data: st.DataObject, client: httpx.Client, sandbox: str
    ) -> None:
        """Any method, route, routing header, key and body: a success or a JSON error, no 500."""
        method = data.draw(st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"]))
        template = data.draw(st.sampled_from(_PATHS))
        target = data.draw(st.sampled_from(["unknown-sandbox", "", "../x", sandbox, "%00"]))
        if method == "DELETE" and target == sandbox:
            target = "unknown-sandbox"  # killing the shared sandbox is tested on its own
        path = template.replace("{id}", target)
        headers: dict[str, str] = {}
        routing = data.draw(st.sampled_from(["none", "live", "unknown", "garbage"]))
        if routing != "none":
            headers["E2b-Sandbox-Id"] = {"live": sandbox, "unknown": "nope", "garbage": "%"}[
                routing
            ]
            headers["E2b-Sandbox-Port"] = data.draw(
                st.sampled_from([JUPYTER_PORT, ENVD_PORT, "1", "x"])
            )
            if routing == "live":
                headers.update(TOKENS.get(sandbox, {}))
        key = data.draw(st.sampled_from(["keep", "", "other"]))
        if key != "keep":
            headers["X-API-KEY"] = key
        body = data.draw(
            st.one_of(st.sampled_from(_MALFORMED), json_values.map(_body), st.binary(max_size=64))
        )
        if template == "/_turnout/admin/config" and method == "POST":
            body = b'{"not_a_setting": 1}'  # the admin API changes settings by design
        content_type = data.draw(
            st.sampled_from(["application/json", "text/plain", "multipart/form-data", ""])
        )
        if content_type:
            headers["Content-Type"] = content_type
        response = client.request(method, path, content=body, headers=headers)
        check_answer(response)

    def test_the_server_is_still_up_and_the_sandbox_alive(
        self, client: httpx.Client, sandbox: str
    ) -> None:
        """After the hostile requests the control plane answers and the sandbox still runs."""
        response = client.get(f"/sandboxes/{sandbox}")
        assert response.status_code == 200
        assert response.json()["sandboxID"] == sandbox


class TestHugeAndMalformedBodies:
    @pytest.mark.parametrize(
        ("path", "port"),
        [("/sandboxes", None), ("/execute", JUPYTER_PORT), ("/_turnout/admin/faults", None)],
    )
    def test_a_twenty_megabyte_malformed_body_is_a_400(
        self, client: httpx.Client, sandbox: str, path: str, port: str | None
    ) -> None:
        """20 MB of broken JSON is refused with an E2B-style 400, and the server stays up."""
        headers = sandbox_headers(sandbox, port) if port else {}
        response = client.post(path, content=b"{" + b"x" * TWENTY_MB, headers=headers)
        check_answer(response)
        assert response.status_code == 400
        assert client.get("/v2/sandboxes").status_code == 200

    def test_a_twenty_megabyte_json_object_without_the_fields_is_a_400(
        self, client: httpx.Client
    ) -> None:
        """A valid 20 MB JSON object that is not a create request is refused."""
        body = json.dumps({"padding": "x" * TWENTY_MB}).encode()
        response = client.post("/sandboxes", content=body)
        check_answer(response)
        assert response.status_code == 400

    def test_a_twenty_megabyte_upload_inside_the_home_is_stored_whole(
        self, client: httpx.Client, reliability_server: ServerProcess, sandbox: str
    ) -> None:
        """A legitimate 20 MB upload lands in the sandbox, byte for byte."""
        response = client.post(
            "/files",
            params={"path": "big.bin"},
            content=b"b" * TWENTY_MB,
            headers={
                **sandbox_headers(sandbox, ENVD_PORT),
                "Content-Type": "application/octet-stream",
            },
        )
        assert response.status_code == 200, response.text
        assert (home_of(reliability_server, sandbox) / "big.bin").stat().st_size == TWENTY_MB


class TestUnknownSandboxes:
    @pytest.mark.parametrize("method", ["GET", "DELETE"])
    def test_the_control_plane_answers_404_for_an_unknown_id(
        self, client: httpx.Client, method: str
    ) -> None:
        """GET or DELETE of a sandbox that never existed is a 404 with the E2B body."""
        response = client.request(method, f"/sandboxes/{uuid.uuid4().hex}")
        check_answer(response)
        assert response.status_code == 404

    @pytest.mark.parametrize(("path", "port"), [("/execute", JUPYTER_PORT), ("/files", ENVD_PORT)])
    def test_sandbox_routes_answer_502_not_found_like_the_edge_proxy(
        self, client: httpx.Client, path: str, port: str
    ) -> None:
        """A sandbox route for an unknown sandbox is E2B's 502 "was not found"."""
        response = client.post(
            path, json={"code": "1"}, headers=sandbox_headers("no-such-sandbox", port)
        )
        check_answer(response)
        assert response.status_code == 502
        assert "was not found" in response.json()["message"]


async def _execute_then_kill(url: str, key: str, delay_s: float, executions: int) -> list[Any]:
    """Start `executions` long cells on one new sandbox, kill it `delay_s` later; collect
    each stream's ending (status and last line, or the exception) and the kill's status."""
    async with httpx.AsyncClient(
        base_url=url, trust_env=False, timeout=30.0, headers={"X-API-KEY": key}
    ) as http:
        created = await http.post("/sandboxes", json={"templateID": "code-interpreter-v1"})
        assert created.status_code == 201, created.text
        sandbox_id = remember(created.json())
        headers = sandbox_headers(sandbox_id, JUPYTER_PORT)

        async def execute() -> Any:
            try:
                async with http.stream(
                    "POST",
                    "/execute",
                    json={"code": "import time\ntime.sleep(5)", "language": "python"},
                    headers=headers,
                ) as response:
                    lines = [line async for line in response.aiter_lines()]
                    return response.status_code, lines[-1:] if lines else []
            except httpx.HTTPError as exc:  # a stream cut by the kill
                return type(exc).__name__

        async def kill() -> int:
            await asyncio.sleep(delay_s)
            return (await http.delete(f"/sandboxes/{sandbox_id}")).status_code

        started = time.monotonic()
        outcomes = await asyncio.gather(*(execute() for _ in range(executions)), kill())
        after = await http.post("/execute", json={"code": "1"}, headers=headers)
        return [*outcomes, after, time.monotonic() - started]


class TestKillExecuteRaces:
    @settings(
        max_examples=6,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        delay_ms=st.integers(min_value=0, max_value=600),
        executions=st.integers(min_value=1, max_value=3),
    )
    @pytest.mark.timing
    def test_a_kill_during_executions_ends_them_all_promptly(
        self, reliability_server: ServerProcess, delay_ms: int, executions: int
    ) -> None:
        """Killing a sandbox while cells run ends every stream within seconds; the kill
        answers 204, a later execute is a 502 JSON error, and the server stays up."""
        *streams, kill_status, after, elapsed = asyncio.run(
            _execute_then_kill(
                reliability_server.url, reliability_server.api_key, delay_ms / 1000, executions
            )
        )
        assert kill_status == 204
        assert elapsed < 5.0, f"the streams outlived the kill: {elapsed:.1f} s"
        for stream in streams:
            assert stream is not None
        check_answer(after)
        assert after.status_code == 502
        assert reliability_server.stats()["live_sandboxes"] >= 0

    def test_two_kills_at_once_kill_once(
        self, client: httpx.Client, reliability_server: ServerProcess
    ) -> None:
        """Two concurrent DELETEs of one sandbox: one 204, the other 204 or an E2B 404."""
        sandbox_id = create_sandbox(client)

        async def both() -> list[httpx.Response]:
            async with httpx.AsyncClient(
                base_url=reliability_server.url,
                trust_env=False,
                timeout=30.0,
                headers={"X-API-KEY": reliability_server.api_key},
            ) as http:
                return list(
                    await asyncio.gather(
                        http.delete(f"/sandboxes/{sandbox_id}"),
                        http.delete(f"/sandboxes/{sandbox_id}"),
                    )
                )

        responses = asyncio.run(both())
        for response in responses:
            check_answer(response)
        assert sorted(r.status_code for r in responses)[0] == 204
        assert all(r.status_code in (204, 404) for r in responses)
