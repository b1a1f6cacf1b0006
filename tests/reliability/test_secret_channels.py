"""A canary secret appears on no output channel of turnout's.

Two canaries are planted: one as `E2B_API_KEY` (a value with no recognisable shape, so
only its known value identifies it) and one as the password in the userinfo of the e2b
backend's `api_url`, set in the flag file or in `E2B_API_URL`, pointing at a closed port.
Then errors are provoked on both backends (e2b against the unreachable URL; on
local-subprocess, code that prints and raises the key it was handed, and an interpreter
path holding it) and every channel is read: the library API (errors, their tracebacks,
envelopes), the logs (JSON and console), the CLI (`run --json`, human output, `flags show`,
`flags explain`, `backends`) and every report writer (parity.json/parity.md and the summary
of a replay, the rollout report; chaos and bench, the developer tools', in
tests/plugins/devtools/test_secret_channels.py).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
import traceback
import uuid
from pathlib import Path
from typing import Any

import pytest

from turnout.cli import main
from turnout.codenode import default_engine, execute_code_node
from turnout.errors import ConfigurationError, InfrastructureError, TurnoutError
from turnout.logging import configure_logging

TOKEN = uuid.uuid4().hex
KEY_CANARY = f"CanaryKey{TOKEN[:20]}"
URL_CANARY = f"CanaryPw{TOKEN[20:]}"
CANARIES = (KEY_CANARY, URL_CANARY)
ENV = "canary"
BAD_PYTHON_ENV = "canary-bad-python"
OPTIONS_ENV = "canary-options"
URL_SOURCES = ("flag file", "environment")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def flags_text(api_url: str | None, secret_url: str) -> str:
    """Three environments: `canary` (e2b at the unreachable URL when `api_url` is given,
    else from E2B_API_URL), one whose Python interpreter path holds the key canary, and one
    whose e2b options hold the URL canary (shown, never run)."""
    url_line = f'api_url = "{api_url}"' if api_url else ""
    return f"""schema_version = 1
[environments.{ENV}]
legacy_backend = "local-subprocess"
target_backend = "e2b"
stage = "off"

[environments.{ENV}.backends.e2b]
{url_line}
embedded_server = "never"
create_attempts = 1

[environments.{BAD_PYTHON_ENV}]
legacy_backend = "local-subprocess"
target_backend = "e2b"
stage = "off"

[environments.{BAD_PYTHON_ENV}.backends.local-subprocess]
python = "/nonexistent/{KEY_CANARY}/python3"

[environments.{OPTIONS_ENV}]
legacy_backend = "local-subprocess"
target_backend = "e2b"
stage = "off"

[environments.{OPTIONS_ENV}.backends.e2b]
api_url = "{secret_url}"
"""


@pytest.fixture(params=URL_SOURCES)
def planted(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """Both canaries planted, the URL in the flag file or in E2B_API_URL; the flag file."""
    secret_url = f"http://turnout:{URL_CANARY}@127.0.0.1:{closed_port()}"
    in_file = request.param == "flag file"
    flags = tmp_path / "feature_flags.toml"
    flags.write_text(flags_text(secret_url if in_file else None, secret_url))
    for name in ("E2B_API_URL", "E2B_SANDBOX_URL", "E2B_DOMAIN", "E2B_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    if not in_file:
        monkeypatch.setenv("E2B_API_URL", secret_url)
    monkeypatch.setenv("E2B_API_KEY", KEY_CANARY)
    monkeypatch.setenv("TURNOUT_FLAGS_FILE", str(flags))
    return flags


def leaks(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary in text]


def everything_in(outcome: dict[str, Any] | TurnoutError) -> str:
    """All a caller can read: an envelope, or an error's text, dict, fields and traceback
    (its causes included)."""
    if isinstance(outcome, TurnoutError):
        return "\n".join(
            [
                str(outcome),
                repr(outcome),
                json.dumps(outcome.to_dict()),
                repr(vars(outcome)),
                "".join(traceback.format_exception(outcome)),
            ]
        )
    return json.dumps(outcome)


def run_library(
    config: dict[str, Any], context: dict[str, Any], *, backend: str, env: str = ENV
) -> dict[str, Any] | TurnoutError:
    """`execute_code_node` in a fresh event loop: the envelope, or the error raised."""

    async def run() -> dict[str, Any] | TurnoutError:
        try:
            return await execute_code_node(config, context, backend=backend, env=env)
        except TurnoutError as error:
            return error
        finally:
            await default_engine(env).aclose()

    return asyncio.run(run())


E2B_NODE = {"language": "python", "code": "return 1"}
ECHO_NODE = {"language": "python", "code": "print(token)\nreturn {token: token}"}
RAISE_NODE = {"language": "python", "code": "print(token)\nraise ValueError(token)"}


class TestLibraryApi:
    def test_an_unreachable_e2b_error_holds_no_canary(self, planted: Path) -> None:
        """The InfrastructureError for an api_url with credentials that cannot be reached:
        its message, fields and traceback (cause included) show neither canary."""
        outcome = run_library(E2B_NODE, {}, backend="e2b")
        assert isinstance(outcome, InfrastructureError), outcome
        assert "127.0.0.1" in outcome.message
        assert leaks(everything_in(outcome)) == []

    def test_a_local_code_failure_holds_no_canary(self, planted: Path) -> None:
        """Code that prints and raises the key it was handed: the CodeExecutionError's
        message, stdout, traceback and cause show `[redacted]` instead."""
        outcome = run_library(RAISE_NODE, {"token": KEY_CANARY}, backend="local-subprocess")
        assert isinstance(outcome, TurnoutError), outcome
        assert leaks(everything_in(outcome)) == []
        assert "[redacted]" in outcome.to_dict()["stdout"]

    def test_a_local_result_holds_no_canary(self, planted: Path) -> None:
        """An envelope whose output and streams held the key shows `[redacted]` instead."""
        outcome = run_library(ECHO_NODE, {"token": KEY_CANARY}, backend="local-subprocess")
        assert isinstance(outcome, dict), outcome
        assert leaks(everything_in(outcome)) == []
        assert outcome["output"] == {"[redacted]": "[redacted]"}

    def test_a_local_configuration_error_holds_no_canary(self, planted: Path) -> None:
        """The ConfigurationError naming an interpreter path that holds the key."""
        outcome = run_library(E2B_NODE, {}, backend="local-subprocess", env=BAD_PYTHON_ENV)
        assert isinstance(outcome, ConfigurationError), outcome
        assert leaks(everything_in(outcome)) == []


class TestLogs:
    @pytest.mark.parametrize("json_lines", [True, False], ids=["json", "console"])
    def test_no_log_line_holds_a_canary(self, planted: Path, json_lines: bool) -> None:
        """Every failure above, logged through turnout's JSON or console renderer and
        stdlib logging at DEBUG, leaves neither canary in a line."""
        stream = io.StringIO()
        configure_logging(ENV, json_lines=json_lines, stream=stream, level=logging.DEBUG)
        records: list[str] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                records.append(self.format(record))

        root, handler = logging.getLogger(), Keep(level=logging.DEBUG)
        previous = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            run_library(E2B_NODE, {}, backend="e2b")
            run_library(RAISE_NODE, {"token": KEY_CANARY}, backend="local-subprocess")
            run_library(ECHO_NODE, {"token": KEY_CANARY}, backend="local-subprocess")
            run_library(E2B_NODE, {}, backend="local-subprocess", env=BAD_PYTHON_ENV)
        finally:
            root.removeHandler(handler)
            root.setLevel(previous)
        assert "code_node_executed" in stream.getvalue()
        assert leaks(stream.getvalue()) == []
        assert [record for record in records if leaks(record)] == []


def cli(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str]:
    """Run the CLI in this process: its exit status and everything it printed."""
    capsys.readouterr()
    status = main(list(arguments))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


class TestCli:
    @pytest.mark.parametrize("as_json", [True, False], ids=["json", "human"])
    def test_run_against_unreachable_e2b_prints_no_canary(
        self, planted: Path, capsys: pytest.CaptureFixture[str], as_json: bool
    ) -> None:
        """`turnout run` on e2b: the error it prints (and its logs) hold neither canary."""
        json_flag = ["--json"] if as_json else []
        status, printed = cli(
            capsys, "run", "--backend", "e2b", "--env", ENV, "--code", "return 1",
            "--language", "python", *json_flag,
        )  # fmt: skip
        assert status == 1
        assert "InfrastructureError" in printed
        assert leaks(printed) == []

    @pytest.mark.parametrize("as_json", [True, False], ids=["json", "human"])
    @pytest.mark.parametrize("node", [RAISE_NODE, ECHO_NODE], ids=["raises", "returns"])
    def test_run_on_local_subprocess_prints_no_canary(
        self,
        planted: Path,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        node: dict[str, Any],
        as_json: bool,
    ) -> None:
        """`turnout run` of code handed the key: error or envelope, JSON or human."""
        config, context = tmp_path / "node.json", tmp_path / "context.json"
        config.write_text(json.dumps(node))
        context.write_text(json.dumps({"token": KEY_CANARY}))
        json_flag = ["--json"] if as_json else []
        _, printed = cli(
            capsys, "run", "--backend", "local-subprocess", "--env", ENV,
            "--config", str(config), "--context", str(context), *json_flag,
        )  # fmt: skip
        assert "[redacted]" in printed
        assert leaks(printed) == []

    @pytest.mark.parametrize("as_json", [True, False], ids=["json", "human"])
    @pytest.mark.parametrize("command", ["show", "explain"])
    def test_flags_commands_print_no_canary(
        self, planted: Path, capsys: pytest.CaptureFixture[str], command: str, as_json: bool
    ) -> None:
        """`flags show` and `flags explain` of environments whose options hold both."""
        extra = (["--key", "execution-1"] if command == "explain" else []) + (
            ["--json"] if as_json else []
        )
        for env in (ENV, OPTIONS_ENV):
            status, printed = cli(capsys, "flags", command, "--env", env, *extra)
            assert status == 0
            assert leaks(printed) == []

    def test_flags_show_keeps_the_endpoint_but_not_its_credentials(
        self, planted: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The api_url is shown with `[redacted]` userinfo."""
        _, printed = cli(capsys, "flags", "show", "--env", OPTIONS_ENV, "--json")
        options = json.loads(printed)["settings"]["backends"]["e2b"]
        assert options["api_url"].startswith("http://[redacted]@127.0.0.1:")

    @pytest.mark.parametrize("command", ["validate", "show"])
    def test_a_key_pasted_into_the_options_is_refused_without_its_value(
        self, planted: Path, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        """An API key written into the e2b options is an unknown key: the refusal names the
        key path and never prints the value."""
        text = planted.read_text() + f'api_key = "{KEY_CANARY}"\n'
        planted.write_text(text)
        status, printed = cli(capsys, "flags", command, "--flags", str(planted))
        assert status != 0
        assert "backends.e2b.api_key" in printed
        assert leaks(printed) == []

    @pytest.mark.parametrize("as_json", [True, False], ids=["json", "human"])
    def test_backends_prints_no_canary(
        self, planted: Path, capsys: pytest.CaptureFixture[str], as_json: bool
    ) -> None:
        """`turnout backends` where e2b's options hold both (and e2b is unavailable)."""
        for env in (ENV, OPTIONS_ENV):
            json_flag = ["--json"] if as_json else []
            status, printed = cli(capsys, "backends", "--env", env, *json_flag)
            assert status == 0
            assert leaks(printed) == []


def replay_corpus(path: Path) -> Path:
    """One node handed the key, whose recorded output (an endpoint with credentials) it
    does not reproduce: the report has to explain the difference without quoting either."""
    node = {
        "id": "canary/echo",
        "workflow": "canary",
        "description": "echoes the token it is handed",
        "config": {"language": "python", "code": "print(token)\nreturn token"},
        "context": {"token": KEY_CANARY},
        "expected": {"output": f"http://turnout:{URL_CANARY}@127.0.0.1:1/"},
    }
    path.write_text(json.dumps(node) + "\n")
    return path


def rollout_log(path: Path) -> Path:
    """Log lines as an application's own logging might have written them: labels and a
    shadow mismatch path holding the canaries."""
    executed = {
        "event": "code_node_executed",
        "environment": ENV,
        "backend": "e2b",
        "role": "authoritative",
        "outcome": "ok",
        "stage": "live",
        "label_tenant": f"tenant-{KEY_CANARY}",
        "label_workflow": f"http://turnout:{URL_CANARY}@h/wf",
        "usage": {"sandboxSeconds": 1.0, "poolIdleSeconds": 0.0, "costUsd": 0.001},
    }
    comparison = {
        "event": "shadow_comparison",
        "environment": ENV,
        "stage": "shadow",
        "verdict": "mismatch",
        "mismatch_count": 1,
        "mismatches": [{"path": f"$.output.{KEY_CANARY}"}],
    }
    path.write_text("\n".join(json.dumps(event) for event in (executed, comparison)) + "\n")
    return path


class TestReports:
    @pytest.mark.parametrize("as_json", [True, False], ids=["json", "human"])
    def test_replay_report_files_and_summary_hold_no_canary(
        self,
        planted: Path,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        as_json: bool,
    ) -> None:
        """`turnout replay --report`: parity.json, parity.md (the conformance writer) and
        what it prints hold neither canary, while still saying the node differed."""
        corpus = replay_corpus(tmp_path / "corpus.jsonl")
        report = tmp_path / "report"
        json_flag = ["--json"] if as_json else []
        status, printed = cli(
            capsys, "replay", str(corpus), "--backend", "local-subprocess", "--env", ENV,
            "--report", str(report), *json_flag,
        )  # fmt: skip
        assert status == 1
        files = [(report / name).read_text() for name in ("parity.json", "parity.md")]
        assert "canary/echo" in files[1]
        assert leaks(printed) == []
        assert [leaks(text) for text in files] == [[], []]

    @pytest.mark.parametrize("as_json", [True, False], ids=["json", "human"])
    def test_rollout_report_holds_no_canary(
        self,
        planted: Path,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        as_json: bool,
    ) -> None:
        """`turnout rollout report` over lines holding the canaries repeats neither."""
        log = rollout_log(tmp_path / "executions.jsonl")
        json_flag = ["--json"] if as_json else []
        _, printed = cli(capsys, "rollout", "report", str(log), "--env", ENV, *json_flag)
        assert "tenant-" in printed
        assert leaks(printed) == []
