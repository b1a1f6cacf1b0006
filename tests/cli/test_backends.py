"""`turnout backends`: what is registered, whether it loads here, and its capabilities."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.cli import main
from turnout.registry import DISABLED_PLUGINS_VARIABLE

from ..plugin_site import BROKEN_PLUGINS, Breakage, PluginSite, process_site

FLAGS_WITHOUT_LEGACY = """
schema_version = 1
[environments.locked]
stage = "complete"
legacy_allowed = false
"""


class TestBackendsCommand:
    def test_json_lists_every_registered_backend_with_capabilities(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--json lists local-subprocess as deprecated and available, with its languages."""
        assert main(["backends", "--json", "--env", "test"]) == 0
        listing = json.loads(capsys.readouterr().out)
        by_id = {backend["id"]: backend for backend in listing["backends"]}
        legacy = by_id["local-subprocess"]
        assert (legacy["deprecated"], legacy["available"]) == (True, True)
        assert legacy["capabilities"]["languages"] == ["javascript", "python"]

    def test_packages_are_counted_for_a_human_and_listed_in_json(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The human listing counts each language's modules on one line; --json lists them."""
        assert main(["backends", "--env", "test"]) == 0
        lines = [line for line in capsys.readouterr().out.splitlines() if "packages:" in line]
        assert lines
        assert all(line.endswith("modules (--json lists them)") for line in lines)
        assert main(["backends", "--json", "--env", "test"]) == 0
        listing = json.loads(capsys.readouterr().out)
        legacy = {b["id"]: b for b in listing["backends"]}["local-subprocess"]
        assert "json" in legacy["capabilities"]["packages"]["python"]

    def test_e2b_declares_what_its_endpoint_does(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without a key the e2b backend runs on the local server, and says so: its
        endpoint, process isolation (its kernels are processes of this host), no memory
        limit, no TypeScript."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        monkeypatch.delenv("E2B_API_URL", raising=False)
        assert main(["backends", "--json", "--env", "test"]) == 0
        listing = json.loads(capsys.readouterr().out)
        [e2b] = [backend for backend in listing["backends"] if backend["id"] == "e2b"]
        assert "local E2B-compatible server" in e2b["endpoint"]
        capabilities = e2b["capabilities"]
        assert (capabilities["isolation"], capabilities["memory_enforcement"]) == (
            "process",
            "none",
        )
        assert capabilities["supports_typescript"] is False

    def test_text_shows_the_endpoint(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The text listing names where each backend's calls go."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        monkeypatch.delenv("E2B_API_URL", raising=False)
        assert main(["backends", "--env", "test"]) == 0
        out = capsys.readouterr().out
        assert "  endpoint: local E2B-compatible server" in out
        assert "  supports_typescript: False" in out

    def test_disabled_legacy_is_listed_as_unavailable_with_the_reason(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Where legacy_allowed is false, the legacy backend shows why it cannot load."""
        flags = tmp_path / "flags.toml"
        flags.write_text(FLAGS_WITHOUT_LEGACY)
        monkeypatch.setenv("TURNOUT_FLAGS_FILE", str(flags))
        assert main(["backends", "--json", "--env", "locked"]) == 0
        by_id = {b["id"]: b for b in json.loads(capsys.readouterr().out)["backends"]}
        assert by_id["local-subprocess"]["available"] is False
        assert "legacy_allowed" in by_id["local-subprocess"]["unavailable_reason"]

    def test_unknown_environment_is_a_configuration_error(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An environment the flag file does not define exits 1 naming the defined ones."""
        assert main(["backends", "--json", "--env", "nowhere"]) == 1
        message = json.loads(capsys.readouterr().out)["error"]["message"]
        assert "production" in message


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    """Throwaway plugins installed for real next to the real ones, seen by the CLI."""
    with process_site(tmp_path / "site", monkeypatch) as installed:
        yield installed


def install(site: PluginSite, broken: Breakage) -> None:
    for name, source in broken.plugins.items():
        site.install(name, source)


def assert_named_on_stderr(broken: Breakage, err: str) -> None:
    """The command's stderr names the broken plugin with its reason (a constructor bug is
    found only when the backend is built, so nothing is said about it at start)."""
    notices = [line for line in err.splitlines() if line.startswith("turnout: ")]
    if broken.severity == "none":
        assert notices == []
        return
    assert any(
        f"turnout: {broken.severity}: plugin {broken.plugin!r}" in line and broken.reason in line
        for line in notices
    )


BREAKAGES = pytest.mark.parametrize(
    "broken", BROKEN_PLUGINS, ids=[breakage.name for breakage in BROKEN_PLUGINS]
)


class TestBrokenPlugins:
    @BREAKAGES
    def test_help_still_works(
        self, site: PluginSite, broken: Breakage, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`turnout --help` exits 0 and lists the commands whatever plugin is broken, and
        names on stderr each plugin found broken while loading."""
        install(site, broken)
        with pytest.raises(SystemExit) as exit_info:
            main(["--help"])
        assert exit_info.value.code == 0
        captured = capsys.readouterr()
        assert "backends" in captured.out
        assert_named_on_stderr(broken, captured.err)

    @BREAKAGES
    def test_backends_lists_the_healthy_and_the_broken(
        self, site: PluginSite, broken: Breakage, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`turnout backends` exits 0, lists the real backends available and the broken
        plugin or backend with its reason, in text and in --json."""
        install(site, broken)
        assert main(["backends", "--env", "test"]) == 0
        text = capsys.readouterr().out
        assert broken.reason in text
        assert main(["backends", "--json", "--env", "test"]) == 0
        listing = json.loads(capsys.readouterr().out)
        available = {b["id"] for b in listing["backends"] if b["available"]}
        assert {"e2b", "local-subprocess"} <= available
        assert broken.reason in json.dumps(listing)
        if broken.backend is not None:
            reasons = [
                b["unavailable_reason"] for b in listing["backends"] if b["id"] == broken.backend
            ]
            assert reasons
            assert all(broken.reason in (reason or "") for reason in reasons)
        if broken.severity != "none":
            plugin = {p["name"]: p for p in listing["plugins"]}[broken.plugin]
            assert plugin["distribution"]["version"] == "0.1"
            assert [issue["severity"] for issue in plugin["issues"]] == [broken.severity]

    @BREAKAGES
    def test_run_on_a_healthy_backend_still_works(
        self, site: PluginSite, broken: Breakage, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`turnout run` on local-subprocess succeeds next to a broken plugin, and names on
        stderr each plugin found broken while loading."""
        install(site, broken)
        argv = ["run", "--backend", "local-subprocess", "--env", "test", "--json"]
        assert main([*argv, "--language", "python", "--code", "return 6 * 7"]) == 0
        captured = capsys.readouterr()
        assert json.loads(captured.out)["output"] == 42
        assert_named_on_stderr(broken, captured.err)

    def test_conformance_on_a_healthy_backend_still_runs(
        self, site: PluginSite, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`turnout conformance` runs its cases on local-subprocess next to a plugin that
        does not import, and names that plugin on stderr."""
        install(site, BROKEN_PLUGINS[0])
        argv = ["conformance", "--backend", "local-subprocess", "--case", "outputs.return"]
        assert main(argv) == 0
        captured = capsys.readouterr()
        assert "local-subprocess: 2 pass" in captured.out
        assert_named_on_stderr(BROKEN_PLUGINS[0], captured.err)

    def test_traceback_only_with_verbose(
        self, site: PluginSite, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A broken plugin's error is one line; --verbose adds its traceback, in text and
        in --json."""
        install(site, BROKEN_PLUGINS[0])
        assert main(["backends", "--env", "test"]) == 0
        assert "Traceback" not in capsys.readouterr().out
        assert main(["backends", "--env", "test", "--verbose"]) == 0
        assert "Traceback (most recent call last)" in capsys.readouterr().out
        assert main(["backends", "--env", "test", "--json", "--verbose"]) == 0
        [plugin] = [
            p for p in json.loads(capsys.readouterr().out)["plugins"] if p["name"] == "typo"
        ]
        assert "ModuleNotFoundError" in plugin["issues"][0]["traceback"]

    def test_broken_plugin_is_listed_unavailable_with_its_distribution(
        self, site: PluginSite, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The text listing names the plugin, its distribution and version, UNAVAILABLE,
        and how to disable it."""
        origin = site.install("typo", BROKEN_PLUGINS[0].plugins["typo"])
        assert main(["backends", "--env", "test"]) == 0
        out = capsys.readouterr().out
        assert f"plugin 'typo' (distribution {origin} 0.1): UNAVAILABLE" in out
        assert f"{DISABLED_PLUGINS_VARIABLE}=typo" in out

    def test_every_command_names_the_broken_plugin_on_stderr(
        self, site: PluginSite, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Any command starts with one stderr line per plugin issue, so no command hides a
        broken install; stdout stays the command's own."""
        origin = site.install("typo", BROKEN_PLUGINS[0].plugins["typo"])
        argv = ["run", "--backend", "local-subprocess", "--env", "test", "--json"]
        assert main([*argv, "--language", "python", "--code", "return 1"]) == 0
        captured = capsys.readouterr()
        [line] = [line for line in captured.err.splitlines() if line.startswith("turnout: ")]
        assert line.startswith(f"turnout: error: plugin 'typo' (distribution {origin} 0.1)")
        assert json.loads(captured.out)["output"] == 1

    def test_turnout_process_starts_next_to_a_plugin_with_undecodable_metadata(
        self, site: PluginSite
    ) -> None:
        """A real `turnout --help` process, next to a plugin whose METADATA is not UTF-8,
        exits 0 and names the plugin on stderr with its distribution said unreadable."""
        site.install_metadata(
            "binary-0.3.dist-info",
            {
                "METADATA": b"Metadata-Version: 2.1\nName: binary\xff\nVersion: 0.3\n",
                "entry_points.txt": b"[turnout]\nbinary = turnout_no_such_module_either\n",
            },
        )
        environment = {**os.environ, "PYTHONPATH": str(site.root)}
        environment.pop(DISABLED_PLUGINS_VARIABLE, None)
        finished = subprocess.run(
            [str(Path(sys.executable).with_name("turnout")), "--help"],
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
            check=False,
        )
        assert (finished.returncode, finished.stderr.count("Traceback")) == (0, 0)
        assert "backends" in finished.stdout
        assert (
            "turnout: error: plugin 'binary' (distribution (unreadable metadata) ?) cannot be "
            "imported"
        ) in finished.stderr

    def test_plugins_list_the_real_ones_with_their_distributions(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--json lists every plugin found, with its distribution, its backends, no issue."""
        assert main(["backends", "--json", "--env", "test"]) == 0
        plugins = {p["name"]: p for p in json.loads(capsys.readouterr().out)["plugins"]}
        e2b = plugins["e2b"]
        assert (e2b["distribution"]["name"], e2b["loaded"], e2b["backends"], e2b["issues"]) == (
            "turnout-e2b",
            True,
            ["e2b"],
            [],
        )
