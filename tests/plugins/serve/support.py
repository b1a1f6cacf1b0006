"""Helpers of the service tests: `turnout serve` in a child process, the flag file it
reads, and raw HTTP for what no well-behaved client sends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Self

import psutil
from turnout_e2b_server.testing import first_line

import turnout
from turnout.comparison import normalize_outcome
from turnout.errors import CodeExecutionError, TurnoutError

ENVIRONMENT = "serve-test"
ON_E2B = "on-e2b"
"""The tenant the test flags send to e2b (every other execution runs on local-subprocess)."""
TOKEN = "serve-test-token-0123456789"
START_TIMEOUT_S = 120.0


def write_flags(path: Path, e2b_url: str, *, stage: str = "off") -> Path:
    """Flags whose `serve-test` environment runs on local-subprocess at `stage`, except the
    tenant `on-e2b`, which runs on e2b at `e2b_url` (one create attempt per execution)."""
    path.write_text(
        f"""schema_version = 1

[environments.{ENVIRONMENT}]
legacy_backend = "local-subprocess"
target_backend = "e2b"
stage = "{stage}"

[environments.{ENVIRONMENT}.overrides]
tenants = {{ "{ON_E2B}" = "rampdown" }}

[environments.{ENVIRONMENT}.backends.e2b]
api_url = "{e2b_url}"
create_attempts = 1

[environments.{ENVIRONMENT}.backends.local-subprocess]
prestart_python = 0
""",
        encoding="utf-8",
    )
    return path


class ServeProcess:
    """`turnout serve --port 0` in a child process, its log kept in a file."""

    def __init__(
        self, flags: Path, *arguments: str, e2b_key: str, token: str | None = TOKEN
    ) -> None:
        self.e2b_key = e2b_key  # the local E2B-compatible server's, never a developer's
        self.command = [
            str(Path(sys.executable).parent / "turnout"),
            "serve",
            "--port",
            "0",
            "--flags",
            str(flags),
            "--env",
            ENVIRONMENT,
            *arguments,
        ]
        self.token = token
        self.url = ""
        self._log = tempfile.NamedTemporaryFile(suffix=".log", delete=False)  # noqa: SIM115
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        """Start the service and wait for the URL it prints once it listens."""
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "E2B_API_KEY": self.e2b_key}
        env.pop("TURNOUT_SERVICE_TOKENS", None)
        if self.token:
            env["TURNOUT_SERVICE_TOKENS"] = self.token
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
        )
        assert self.process.stdout is not None
        self.url = first_line(self.process.stdout, START_TIMEOUT_S)
        assert self.url.startswith("http://127.0.0.1:"), f"{self.url!r}\n{self.output()}"
        return self

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def output(self, limit: int = 6000) -> str:
        return Path(self._log.name).read_text(encoding="utf-8", errors="replace")[-limit:]

    def children(self) -> list[psutil.Process]:
        """The service's live descendants (a local-subprocess execution's processes)."""
        assert self.process is not None
        try:
            found = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        alive = []
        for child in found:
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    alive.append(child)
            except psutil.Error:
                continue
        return alive

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout_s)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 60 s; removes the log."""
        if self.process is not None and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def raw_request(port: int, request: bytes, *, timeout_s: float = 30.0) -> tuple[int, bytes]:
    """Send `request` as it is on a new connection; the status and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as connection:
        connection.sendall(request)
        return read_response(connection)


def read_response(connection: socket.socket) -> tuple[int, bytes]:
    """One HTTP/1.1 answer read to the end of the connection (Connection: close)."""
    data = b""
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, body


def post_head(length: int | None, token: str | None = TOKEN, *, extra: str = "") -> bytes:
    """The head of a POST /v1/executions that closes its connection after the answer."""
    lines = [
        "POST /v1/executions HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        "Connection: close",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def wait_until(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def node(language: str, code: str, **fields: Any) -> dict[str, Any]:
    return {"language": language, "code": code, **fields}


CASES: list[tuple[str, dict[str, Any], dict[str, Any], str | None]] = [
    (
        "javascript-local",
        node(
            "javascript",
            "console.log('rows', rows.length);\nreturn { total: rows.reduce((a, b) => a + b, 0) };",
            inputVariables=["rows"],
            outputVariable="summary",
        ),
        {"rows": [1, 2, 3], "ignored": True},
        None,
    ),
    (
        "python-local",
        node("python", "print('hi')\nresult = {'mean': sum(xs) / len(xs)}"),
        {"xs": [2, 4]},
        None,
    ),
    ("python-e2b", node("python", "return [n * n for n in range(4)]"), {}, ON_E2B),
    (
        "javascript-e2b",
        node("javascript", "return JSON.parse(text).label;"),
        {"text": '{"label": "a"}'},
        ON_E2B,
    ),
    ("runtime-error-e2b", node("javascript", "console.log('x');\nnull.field;"), {}, ON_E2B),
    ("syntax-error-local", node("python", "return ("), {}, None),
]
"""(name, node, context, tenant): both languages, both backends, results and user errors."""


async def outcome_of(call: Any) -> dict[str, Any]:
    """An envelope or an error, without what differs from run to run."""
    try:
        envelope: turnout.Envelope = await call
    except TurnoutError as error:
        return {
            "error": error.to_dict()
            if isinstance(error, CodeExecutionError)
            else {"error": {"type": type(error).__name__, "message": error.message}}
        }
    wire = envelope.to_dict(wrapped=False)
    return {
        "variable": envelope.output_variable,
        "backend": envelope.metadata.backend,
        **normalize_outcome(wire),
    }
