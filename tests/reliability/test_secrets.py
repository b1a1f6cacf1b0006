"""Secrets go nowhere: planted in the host environment (E2B_API_KEY, a canary), in turnout's
own settings (an e2b `api_url` carrying credentials, an invalid option's value) and in a
node's code and context, they appear in no sandbox (user code cannot read them, on either
backend), no log line (structlog JSON of executions, failures included, and stdlib
logging), no error (`to_dict()`), and no report (parity.json/parity.md, the rollout report).

A node's own data is the caller's: an exception the code raises with a secret in its text
carries that text back to the caller, by design. What is checked for node secrets is that
no log line ever holds them and no error the code did not word itself does.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from turnout_e2b_server.testing import ServerProcess

from turnout.conformance.session import ConformanceSession
from turnout.contract import select_inputs
from turnout.engine import Engine
from turnout.errors import ConfigurationError, TurnoutError
from turnout.flags import parse_flags
from turnout.logging import configure_logging
from turnout.models import parse_config
from turnout.registry import default_registry

TOKEN = uuid.uuid4().hex
E2B_KEY = f"e2b_{TOKEN}"
CANARY = f"HOSTCANARY{TOKEN[:16]}"
SETTINGS_SECRET = f"settingspw{TOKEN[:20]}"
NODE_SECRET = f"sk-node-{TOKEN}"
HOST_SECRETS = (E2B_KEY, CANARY, SETTINGS_SECRET)
ALL_SECRETS = (*HOST_SECRETS, NODE_SECRET)
BACKENDS = ("local-subprocess", "e2b")
ENVIRONMENT = "secrets"


#: User code that looks everywhere it can for the planted values: its environment, every
#: /proc/*/environ and /proc/*/cmdline it can read, and a spawned `env`.
SNOOP = {
    "python": f"""
import glob, os, subprocess
needles = {[*HOST_SECRETS, "E2B_API_KEY"]!r}
found = set()
for key, value in os.environ.items():
    found.update(n for n in needles if n in key + '=' + value)
for path in glob.glob('/proc/[0-9]*/environ') + glob.glob('/proc/[0-9]*/cmdline'):
    try:
        data = open(path, 'rb').read().decode('utf-8', 'replace')
    except OSError:
        continue
    found.update(n + ' in ' + path for n in needles if n in data)
try:
    shown = subprocess.run(['env'], capture_output=True, text=True, timeout=5).stdout
except (OSError, subprocess.SubprocessError):
    shown = ''
found.update('env: ' + n for n in needles if n in shown)
return sorted(found)
""",
    "javascript": f"""
const fs = require('fs');
const {{ execFileSync }} = require('child_process');
const needles = {json.dumps([*HOST_SECRETS, "E2B_API_KEY"])};
const found = new Set();
for (const [key, value] of Object.entries(process.env)) {{
  for (const n of needles) if ((key + '=' + value).includes(n)) found.add(n);
}}
for (const pid of fs.readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name))) {{
  for (const file of ['environ', 'cmdline']) {{
    let data;
    const path = `/proc/${{pid}}/${{file}}`;
    try {{ data = fs.readFileSync(path, 'latin1'); }} catch (e) {{ continue; }}
    for (const n of needles) if (data.includes(n)) found.add(`${{n}} in ${{path}}`);
  }}
}}
let shown = '';
try {{ shown = execFileSync('env', {{ encoding: 'utf8', timeout: 5000 }}); }} catch (e) {{}}
for (const n of needles) if (shown.includes(n)) found.add('env: ' + n);
return [...found].sort();
""",
}


def flags_text(server_url: str) -> str:
    """An environment whose e2b backend points at the local server through a URL that
    carries credentials (the settings secret), as a proxy URL might."""
    authority = server_url.replace("http://", f"http://turnout:{SETTINGS_SECRET}@")
    return f"""schema_version = 1
[environments.{ENVIRONMENT}]
legacy_backend = "local-subprocess"
target_backend = "e2b"
stage = "off"

[environments.{ENVIRONMENT}.backends.e2b]
api_url = "{authority}"
sandbox_url = "{authority}"
"""


@pytest.fixture(scope="module")
def host_secrets() -> Iterator[None]:
    """The host secrets in os.environ, for everything the module starts (the server too)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("E2B_API_KEY", E2B_KEY)
        patch.setenv("TURNOUT_RELIABILITY_CANARY", CANARY)
        patch.delenv("E2B_API_URL", raising=False)
        yield


@pytest.fixture(scope="module")
def secrets_server(host_secrets: None) -> Iterator[ServerProcess]:
    """The local E2B-compatible server, started with the secrets in its environment (as the
    embedded server of a worker that holds them would be)."""
    with ServerProcess("--python-pool", "1", "--javascript-pool", "1", api_key=E2B_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def planted(
    secrets_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A flag file whose e2b api_url carries the settings secret; its path."""
    flags = tmp_path_factory.mktemp("secrets") / "feature_flags.toml"
    flags.write_text(flags_text(secrets_server.url))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TURNOUT_FLAGS_FILE", str(flags))
        yield flags


def engine_for(flags: Path) -> Engine:
    return Engine(ENVIRONMENT, flags=parse_flags(flags.read_text()))


async def run_node(
    engine: Engine, backend: str, config: dict[str, Any], context: dict[str, Any] | None = None
) -> dict[str, Any] | TurnoutError:
    """The envelope, or the turnout error raised."""
    try:
        node = parse_config(config)
        return await engine.execute(
            node, select_inputs(context or {}, node.input_variables), backend=backend
        )
    except TurnoutError as error:
        return error


#: Executions that end every way an execution can: a result, the code's syntax error, its
#: runtime error (worded with the node secret, by the code), a timeout, printed output.
WORKLOAD: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("ok", {"language": "python", "code": "return token[:4]"}, {"token": NODE_SECRET}),
    (
        "ok-js",
        {"language": "javascript", "code": f"const t = '{NODE_SECRET}';\nreturn t.length;"},
        {},
    ),
    ("syntax", {"language": "python", "code": f"x = '{NODE_SECRET}'\nif x ==:\n    pass"}, {}),
    (
        "syntax-js",
        {"language": "javascript", "code": f"const x = '{NODE_SECRET}';\nif (x ==) {{}}"},
        {},
    ),
    ("raises", {"language": "python", "code": "raise ValueError(token)"}, {"token": NODE_SECRET}),
    (
        "timeout",
        {
            "language": "python",
            "code": f"x = '{NODE_SECRET}'\nwhile True:\n    pass",
            "timeout": 500,
        },
        {"token": NODE_SECRET},
    ),
    ("prints", {"language": "python", "code": "print(token)\nreturn 1"}, {"token": NODE_SECRET}),
]
#: Outcomes whose error or envelope the code itself filled with the node secret.
WORDED_BY_THE_CODE = {"raises", "prints"}


@pytest.fixture(scope="module")
def observed(planted: Path, secrets_server: ServerProcess) -> dict[str, Any]:
    """Run the workload on both backends, plus an infrastructure failure (create answers
    401, then 503 until the retries are spent); capture every log line and every error."""
    stream = io.StringIO()
    configure_logging("production", json_lines=True, stream=stream, level=logging.DEBUG)
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    outcomes: dict[str, dict[str, Any] | TurnoutError] = {}

    async def everything() -> None:
        engine = engine_for(planted)
        try:
            for backend in BACKENDS:
                for name, config, context in WORKLOAD:
                    outcomes[f"{name}@{backend}"] = await run_node(engine, backend, config, context)
            secrets_server.inject({"kind": "create_error", "status": 401})
            outcomes["unauthorized@e2b"] = await run_node(
                engine, "e2b", {"language": "python", "code": f"return '{NODE_SECRET}'"}
            )
            secrets_server.inject({"kind": "create_error", "status": 503, "count": 20})
            outcomes["unavailable@e2b"] = await run_node(
                engine, "e2b", {"language": "python", "code": f"return '{NODE_SECRET}'"}
            )
        finally:
            await engine.aclose()
            secrets_server.admin("DELETE", "faults")

    try:
        asyncio.run(everything())
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    return {"log": stream.getvalue(), "stdlib": records, "outcomes": outcomes}


def leaks(text: str, secrets: tuple[str, ...] = ALL_SECRETS) -> list[str]:
    return [secret for secret in secrets if secret in text]


class TestSandboxes:
    @pytest.mark.parametrize("language", ["python", "javascript"])
    @pytest.mark.parametrize("backend", BACKENDS)
    def test_user_code_finds_no_planted_secret(
        self, planted: Path, backend: str, language: str
    ) -> None:
        """Environment, every readable /proc/*/environ and cmdline, and `env`: nothing."""

        async def snoop() -> dict[str, Any] | TurnoutError:
            engine = engine_for(planted)
            try:
                return await run_node(
                    engine, backend, {"language": language, "code": SNOOP[language]}
                )
            finally:
                await engine.aclose()

        outcome = asyncio.run(snoop())
        assert not isinstance(outcome, TurnoutError), outcome
        assert outcome.output == []


class TestLogs:
    def test_the_workload_ran_every_way(self, observed: dict[str, Any]) -> None:
        """The capture covers results, syntax, runtime, timeout and infrastructure errors."""
        kinds = {
            getattr(outcome, "kind", type(outcome).__name__)
            for outcome in observed["outcomes"].values()
            if isinstance(outcome, TurnoutError)
        }
        assert {"syntax", "runtime", "timeout", "ConfigurationError"} <= kinds
        assert "InfrastructureError" in {type(o).__name__ for o in observed["outcomes"].values()}
        assert observed["log"].count("code_node_executed") >= len(WORKLOAD) * len(BACKENDS)

    def test_no_structlog_line_holds_a_secret(self, observed: dict[str, Any]) -> None:
        """turnout's JSON log lines, failures included, hold none of the planted values."""
        assert leaks(observed["log"]) == []

    def test_no_stdlib_log_record_holds_a_host_or_node_secret(
        self, observed: dict[str, Any]
    ) -> None:
        """Debug records of the libraries underneath (the SDK, httpx) hold no API key,
        canary or node data."""
        found = [r for r in observed["stdlib"] if leaks(r, (E2B_KEY, CANARY, NODE_SECRET))]
        assert found == [], found[:3]

    def test_no_stdlib_log_record_holds_the_api_url_credentials(
        self, observed: dict[str, Any]
    ) -> None:
        """Credentials written into the e2b api_url do not reach library log records."""
        found = [r for r in observed["stdlib"] if SETTINGS_SECRET in r]
        assert found == [], found[:3]


class TestErrors:
    def test_no_error_holds_a_host_or_settings_secret(self, observed: dict[str, Any]) -> None:
        """No error's to_dict() holds the API key, the canary or the settings secret."""
        for name, outcome in observed["outcomes"].items():
            if isinstance(outcome, TurnoutError):
                assert leaks(json.dumps(outcome.to_dict()), HOST_SECRETS) == [], name

    def test_errors_the_code_did_not_word_hold_no_node_secret(
        self, observed: dict[str, Any]
    ) -> None:
        """Syntax, timeout and infrastructure errors do not quote the node's code or context."""
        for name, outcome in observed["outcomes"].items():
            if isinstance(outcome, TurnoutError) and name.split("@")[0] not in WORDED_BY_THE_CODE:
                assert NODE_SECRET not in json.dumps(outcome.to_dict()), name

    def test_an_invalid_option_value_is_not_repeated_in_the_error(self) -> None:
        """A ConfigurationError about an option names the option, not the value given."""
        text = f"""schema_version = 1
[environments.{ENVIRONMENT}]
legacy_backend = "local-subprocess"
target_backend = "e2b"
stage = "off"

[environments.{ENVIRONMENT}.backends.e2b]
api_key = "{SETTINGS_SECRET}"
template = ["{SETTINGS_SECRET}"]
"""
        with pytest.raises(ConfigurationError) as caught:  # refused as the engine starts
            Engine(ENVIRONMENT, flags=parse_flags(text), registry=default_registry())
        assert "api_key" in caught.value.message
        assert SETTINGS_SECRET not in json.dumps(caught.value.to_dict())


@pytest.fixture(scope="module")
def parity(planted: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """parity.json and parity.md of two cases run on both backends with the secrets planted."""
    directory = tmp_path_factory.mktemp("parity")

    async def run() -> None:
        session = ConformanceSession.open(
            backend_ids=list(BACKENDS),
            case_ids=["isolation.host-secrets-invisible", "errors.syntax"],
            environment=ENVIRONMENT,
            flags_path=planted,
        )
        try:
            session.report(await session.run()).write(directory)
        finally:
            await session.aclose()

    asyncio.run(run())
    return (directory / "parity.json").read_text(), (directory / "parity.md").read_text()


class TestReports:
    def test_the_parity_report_holds_no_host_or_node_secret(self, parity: tuple[str, str]) -> None:
        """parity.json and parity.md of a run on both backends hold no API key, canary or
        node data."""
        for text in parity:
            assert leaks(text, (E2B_KEY, CANARY, NODE_SECRET)) == []

    def test_the_parity_report_holds_no_api_url_credentials(self, parity: tuple[str, str]) -> None:
        """The endpoint shown for e2b does not repeat credentials written into its api_url."""
        for text in parity:
            assert SETTINGS_SECRET not in text

    def test_the_rollout_report_holds_no_secret(
        self, observed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`turnout rollout report` over the captured log lines holds none of the values."""
        from turnout.cli import main

        log = tmp_path / "executions.jsonl"
        log.write_text(observed["log"])
        capsys.readouterr()
        main(["rollout", "report", str(log), "--json", "--env", ENVIRONMENT])
        printed = capsys.readouterr()
        assert leaks(printed.out + printed.err) == []
