"""`turnout run`: one JSON object on stdout with --json, and exit codes 0 / 1 / 2."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from turnout.cli import main

from ..plugin_site import PluginSite, breakage, process_site

ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    status = main(["run", "--backend", "local-subprocess", *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def only_json(stdout: str) -> Any:
    """Parse stdout as exactly one JSON document (fails if anything else was printed)."""
    return json.loads(stdout)


class TestRunJson:
    def test_success_prints_the_envelope_and_exits_0(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A successful node prints its envelope as the only JSON object, exit 0."""
        context = tmp_path / "context.json"
        context.write_text(json.dumps({"numbers": [1, 2, 3]}))
        status, out, _ = run_cli(
            capsys,
            "--language",
            "python",
            "--code",
            "return sum(numbers)",
            "--context",
            str(context),
            "--json",
        )
        assert (status, only_json(out)["output"]) == (0, 6)

    def test_code_failure_prints_error_object_and_exits_1(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A failing node prints {"error": {...}} with kind, line and retryable, exit 1."""
        status, out, _ = run_cli(
            capsys, "--language", "python", "--code", "print('x')\n1/0", "--json"
        )
        error = only_json(out)["error"]
        assert status == 1
        assert (error["type"], error["kind"], error["line"]) == ("CodeExecutionError", "runtime", 2)
        assert (error["retryable"], error["stdout"]) == (False, "x\n")

    def test_invalid_config_exits_2_naming_the_field(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A bad stored config is a validation error (exit 2) naming the field."""
        config = tmp_path / "node.json"
        config.write_text(json.dumps({"language": "python", "code": "1", "timeout": -5}))
        status, out, _ = run_cli(capsys, "--config", str(config), "--json")
        error = only_json(out)["error"]
        assert (status, error["type"], error["field"]) == (2, "ValidationError", "timeout")

    def test_unreadable_context_exits_2(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A context file that is not JSON is a validation error on --context."""
        context = tmp_path / "context.json"
        context.write_text("{not json")
        status, out, _ = run_cli(
            capsys, "--language", "python", "--code", "1", "--context", str(context), "--json"
        )
        assert (status, only_json(out)["error"]["field"]) == (2, "--context")

    def test_code_overrides_the_configs_code(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """--code replaces the config's code while the config's other fields still apply."""
        config = tmp_path / "node.json"
        config.write_text(
            json.dumps({"language": "python", "code": "return 1", "outputVariable": "answer"})
        )
        status, out, _ = run_cli(capsys, "--config", str(config), "--code", "return 2", "--json")
        assert (status, only_json(out)["answer"]["output"]) == (0, 2)

    def test_missing_config_and_code_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Without --config or --code there is nothing to run: exit 2 with advice."""
        status, out, _ = run_cli(capsys, "--json")
        assert (status, only_json(out)["error"]["field"]) == (2, "--config")


class TestRunReadable:
    def test_readable_output_shows_value_and_summary(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --json, the output, stdout and a summary line are printed."""
        status, out, _ = run_cli(
            capsys, "--language", "javascript", "--code", "console.log('hi'); return {a: 1}"
        )
        assert status == 0
        assert '"a": 1' in out
        assert "hi" in out
        assert "local-subprocess, javascript" in out

    def test_readable_error_goes_to_stderr(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Without --json, an error is described on stderr with its line."""
        status, out, err = run_cli(capsys, "--language", "python", "--code", "x = 1\nx.y")
        assert (status, out) == (1, "")
        assert "at line 2" in err


class TestEntryPoint:
    def test_console_script_runs_the_example_nodes(self) -> None:
        """The installed `turnout` command runs the README's example node end to end."""
        completed = subprocess.run(
            [
                str(Path(sys.executable).with_name("turnout")),
                "run",
                "--config",
                "examples/nodes/average.python.json",
                "--context",
                "examples/nodes/context.json",
                "--json",
                "--backend",
                "local-subprocess",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        assert json.loads(completed.stdout)["output"] == {"average": 7.25, "count": 4}


def nested(depth: int) -> str:
    """A JSON object whose key `x` holds arrays nested `depth` deep."""
    return '{"x": ' + "[" * depth + "]" * depth + "}"


class TestHostileInput:
    @pytest.mark.parametrize("option", ["--config", "--context"])
    def test_a_file_that_is_not_utf8_is_a_validation_error(
        self, option: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A non-UTF-8 --config or --context is invalid input: exit 2, one JSON object."""
        path = tmp_path / "latin1.json"
        path.write_bytes('{"name": "café"}'.encode("latin-1"))
        status, out, _ = run_cli(
            capsys, "--language", "python", "--code", "return 1", option, str(path), "--json"
        )
        error = only_json(out)["error"]
        assert (status, error["type"], error["field"]) == (2, "ValidationError", option)
        assert "not UTF-8" in error["message"]

    @pytest.mark.parametrize("option", ["--config", "--context"])
    def test_json_nested_100000_deep_is_refused_naming_the_limit(
        self, option: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A 100,000-deep document is refused before decoding, naming the 256-level limit."""
        path = tmp_path / "deep.json"
        path.write_text(nested(100_000))
        status, out, _ = run_cli(
            capsys, "--language", "python", "--code", "return 1", option, str(path), "--json"
        )
        error = only_json(out)["error"]
        assert (status, error["field"]) == (2, option)
        assert "limit of 256" in error["message"]

    def test_nesting_up_to_the_limit_is_accepted(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A context value nested exactly 256 deep still runs (the limit is inclusive)."""
        path = tmp_path / "deep.json"
        path.write_text(nested(256))
        status, out, _ = run_cli(
            capsys, "--language", "python", "--code", "return 1", "--context", str(path), "--json"
        )
        assert (status, only_json(out)["output"]) == (0, 1)

    def test_a_context_over_the_size_limit_is_refused_unread(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A context file over 64 MiB is refused naming the limit, without reading it all."""
        path = tmp_path / "huge.json"
        with path.open("wb") as stream:
            stream.truncate(64 * 1024 * 1024 + 1)  # sparse: no disk, no time
        status, out, _ = run_cli(
            capsys, "--language", "python", "--code", "1", "--context", str(path), "--json"
        )
        error = only_json(out)["error"]
        assert (status, error["field"]) == (2, "--context")
        assert "67,108,864 bytes (64 MiB)" in error["message"]


class TestStandardInput:
    def test_context_dash_reads_standard_input(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`--context -` reads the context from standard input."""
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"n": 21}')))
        status, out, _ = run_cli(
            capsys, "--language", "python", "--code", "return n * 2", "--context", "-", "--json"
        )
        assert (status, only_json(out)["output"]) == (0, 42)

    def test_config_dash_reads_standard_input(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`--config -` reads the node config from standard input."""
        config = b'{"language": "javascript", "code": "return 6 * 7"}'
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(config)))
        status, out, _ = run_cli(capsys, "--config", "-", "--json")
        assert (status, only_json(out)["output"]) == (0, 42)

    def test_both_from_standard_input_is_refused(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Standard input can be read once: --config - with --context - is invalid input."""
        status, out, _ = run_cli(capsys, "--config", "-", "--context", "-", "--json")
        assert (status, only_json(out)["error"]["field"]) == (2, "--context")


class TestUnencodableOutput:
    def test_a_lone_surrogate_in_json_output_is_escaped(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`return "\\ud800"` prints one valid JSON object carrying the surrogate, exit 0."""
        status, out, _ = run_cli(
            capsys, "--language", "python", "--code", 'return "\\ud800"', "--json"
        )
        assert (status, only_json(out)["output"]) == (0, "\ud800")

    def test_a_lone_surrogate_in_readable_output_is_escaped(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --json the surrogate is printed as a backslash escape, exit 0."""
        status, out, _ = run_cli(capsys, "--language", "javascript", "--code", 'return "a\\ud800b"')
        assert (status, out.splitlines()[0]) == (0, '"a\\ud800b"')

    def test_an_ascii_terminal_still_gets_one_valid_json_object(self) -> None:
        """On a stream that only encodes ASCII, --json output is escaped JSON, not a crash."""
        completed = subprocess.run(
            [
                *(str(Path(sys.executable).with_name("turnout")), "run"),
                *("--backend", "local-subprocess", "--language", "python", "--json"),
                *("--code", 'return "café \\ud800"'),
            ],
            env={**os.environ, "PYTHONIOENCODING": "ascii"},
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.isascii()
        assert json.loads(completed.stdout)["output"] == "café \ud800"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    """Throwaway plugins installed for real next to the real ones, seen by the CLI."""
    with process_site(tmp_path / "site", monkeypatch) as installed:
        yield installed


class TestBrokenPluginBackends:
    def test_backend_of_a_broken_plugin_is_a_configuration_error(
        self, site: PluginSite, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Running a backend whose plugin broke exits 1 with a ConfigurationError naming
        the plugin, its distribution and the error."""
        [(name, source)] = breakage("hook raises").plugins.items()
        origin = site.install(name, source)
        argv = ["run", "--backend", "half", "--env", "test", "--json"]
        assert main([*argv, "--language", "python", "--code", "return 1"]) == 1
        error = json.loads(capsys.readouterr().out)["error"]
        assert error["type"] == "ConfigurationError"
        assert f"plugin 'raising' (distribution {origin} 0.1)" in error["message"]
        assert "RuntimeError: plugin setup failed" in error["message"]

    def test_backend_whose_constructor_raises_is_an_internal_error(
        self, site: PluginSite, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A constructor raising RuntimeError makes running that backend an InternalError
        (a bug, not retryable), exit 1."""
        [(name, source)] = breakage("constructor raises").plugins.items()
        site.install(name, source)
        argv = ["run", "--backend", "explosive", "--env", "test", "--json"]
        assert main([*argv, "--language", "python", "--code", "return 1"]) == 1
        error = json.loads(capsys.readouterr().out)["error"]
        assert (error["type"], error["retryable"]) == ("InternalError", False)
        assert "RuntimeError: constructor exploded" in error["message"]


class TestRolloutIds:
    def test_ids_decide_the_stage_and_label_the_event(self, tmp_path: Path) -> None:
        """--tenant, --workflow and --execution-id label the execution's event, and the
        tenant decides the stage as `flags explain` does."""
        flags = tmp_path / "flags.toml"
        flags.write_text(
            'schema_version = 1\n[environments.ids]\nstage = "off"\nbucket_by = ["tenant"]\n'
            "[environments.ids.rollout]\nshadow = 50\n"
        )
        env = {"TURNOUT_FLAGS_FILE": str(flags), "TURNOUT_ENV": "ids", "PATH": "/usr/bin:/bin"}
        tenants = {}
        for tenant in ("acme", "globex", "initech", "umbrella"):
            result = subprocess.run(
                [
                    *(sys.executable, "-m", "turnout.cli", "run", "--language", "python"),
                    *("--code", "return 1", "--tenant", tenant, "--workflow", "wf-1"),
                    *("--execution-id", "run-9", "--json"),
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            events = [json.loads(line) for line in result.stderr.splitlines()]
            [event] = [e for e in events if e["event"] == "code_node_executed"]
            assert (event["label_workflow"], event["label_execution"]) == ("wf-1", "run-9")
            tenants[event["label_tenant"]] = event["stage"]
        explained = {}
        for tenant in tenants:
            printed = subprocess.run(
                [
                    *(sys.executable, "-m", "turnout.cli", "flags", "explain", "--json"),
                    *("--tenant", tenant, "--key", "run-9", "--workflow", "wf-1"),
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            explained[tenant] = json.loads(printed.stdout)["stage"]
        assert tenants == explained

    @pytest.mark.parametrize("environment", ["ids", "development"])
    def test_a_canary_key_in_an_id_never_reaches_the_cli_log(
        self, environment: str, tmp_path: Path
    ) -> None:
        """The CLI's own log output on stderr (JSON lines outside development, the console
        in it) shows a tenant id holding an E2B key as [redacted], never the key."""
        flags = tmp_path / "flags.toml"
        flags.write_text(f'schema_version = 1\n[environments.{environment}]\nstage = "off"\n')
        canary = "e2b_" + "c4a7" * 10
        result = subprocess.run(
            [
                *(sys.executable, "-m", "turnout.cli", "run", "--flags", str(flags)),
                *("--env", environment, "--language", "python", "--code", "return 1"),
                *("--backend", "local-subprocess", "--tenant", canary, "--json"),
            ],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin"},
            check=True,
        )
        assert json.loads(result.stdout)["output"] == 1
        assert "code_node_executed" in result.stderr
        assert "[redacted]" in result.stderr
        assert canary not in result.stderr + result.stdout
