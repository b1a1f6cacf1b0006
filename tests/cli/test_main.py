"""The `turnout` entry point itself: its version, subcommands from plugins, soft when one
plugin's fail, and the error naming the distribution of a first-party command not here."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from turnout.cli import main

from ..plugin_site import PluginSite, process_site


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`turnout --version` prints `turnout X.Y.Z` and exits 0."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"turnout {version('turnout')}\n"


COMMANDS_FAIL = """
from turnout.hookspecs import hookimpl

class Steady:
    id = "steady"
    deprecated = False
    description = "a backend whose plugin's commands fail"

    def __init__(self, settings):
        self.settings = settings

@hookimpl
def turnout_register_backends(registry):
    registry.add(Steady)

@hookimpl
def turnout_add_commands(subparsers):
    subparsers.add_parser("half-built", help="never finished")
    raise RuntimeError("commands broke")
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    """Throwaway plugins installed for real next to the real ones, seen by the CLI."""
    with process_site(tmp_path / "site", monkeypatch) as installed:
        yield installed


class TestPluginCommands:
    def test_failing_commands_hook_costs_only_its_commands(
        self, site: PluginSite, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A plugin whose turnout_add_commands raises: --help works without the command it
        half built, other plugins' commands stay, and it is reported with its backend kept."""
        site.install("commands-fail", COMMANDS_FAIL)
        with pytest.raises(SystemExit) as exit_info:
            main(["--help"])
        assert exit_info.value.code == 0
        captured = capsys.readouterr()
        commands = {
            line.split()[0] for line in captured.out.splitlines() if line.startswith("    ")
        }
        assert "half-built" not in commands
        assert "e2b" in commands  # the e2b plugin's own command
        assert "failed in turnout_add_commands: RuntimeError: commands broke" in captured.err
        assert main(["backends", "--json", "--env", "test"]) == 0
        listing = json.loads(capsys.readouterr().out)
        [plugin] = [p for p in listing["plugins"] if p["name"] == "commands-fail"]
        assert (plugin["loaded"], plugin["backends"]) == (True, ["steady"])
        assert [issue["severity"] for issue in plugin["issues"]] == ["error"]


@pytest.fixture
def without_devtools(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The developer tools' plugin blocked, as an install without turnout-devtools sees it."""
    from turnout.registry import default_registry

    monkeypatch.setenv("TURNOUT_DISABLED_PLUGINS", "devtools")
    default_registry.cache_clear()
    yield
    default_registry.cache_clear()


@pytest.mark.usefixtures("without_devtools")
@pytest.mark.parametrize("command", ["bench", "chaos"])
def test_a_developer_tool_without_its_distribution_names_it(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without turnout-devtools, `turnout bench` and `turnout chaos` are usage errors (exit
    2) that name the distribution to install."""
    with pytest.raises(SystemExit) as exit_info:
        main([command])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert f"{command!r} is not a command of this installation" in error
    assert "pip install turnout-devtools" in error


@pytest.mark.usefixtures("without_devtools")
def test_an_unknown_command_gets_argparse_s_own_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A word no distribution of turnout's provides is left to argparse's invalid-choice
    error, which lists the commands."""
    with pytest.raises(SystemExit) as exit_info:
        main(["benchh"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'benchh'" in error
    assert "turnout-devtools" not in error
