"""`turnout`: the command line. Each subcommand lives in its own module.

Exit codes are part of the interface: 0 success; 1 the code or the infrastructure failed
(or the deployment is misconfigured); 2 the input was invalid (bad config, context or
arguments). The `turnout` program is `entry_point`, which ends the process as
turnout.process_exit explains; `main` is the same command for callers in-process (tests).

A broken plugin costs only itself: every command still works with the others, and each
command starts by saying on stderr, one line per plugin, what is wrong (`turnout backends`
lists it, `--verbose` with the traceback). A plugin's `turnout_add_commands` is called on
its own; when it fails, the commands it had added are taken out again and it is reported.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from turnout.cli.output import escape_unencodable_output
from turnout.process_exit import run_as_process

__all__ = ["entry_point", "main"]

if TYPE_CHECKING:
    import pluggy

    from turnout.registry import BackendRegistry

COMMANDS_HOOK = "turnout_add_commands"
#: The built-in commands, each in the module of the same name, in `--help` order.
_COMMANDS: tuple[str, ...] = ("run", "backends", "flags", "rollout", "conformance", "replay")
_COMMANDS += ("audit",)
#: Commands that turnout's own plugin distributions add, and which one: without it, the
#: command is unknown, and the error says what to install.
PROVIDED_BY = {
    "bench": "turnout-devtools",
    "chaos": "turnout-devtools",
    "serve": "turnout-serve",
    "worker": "turnout-temporal",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `turnout` parser: every command, or only the built-in command `only` (a command
    pays for its own imports only: `turnout run` does not load the audit's parsers)."""
    parser = argparse.ArgumentParser(
        prog="turnout",
        description="Run workflow code nodes on pluggable, feature-flagged backends.",
    )
    if only is None:  # `turnout --version` names no command; a command's run skips the lookup
        parser.add_argument("--version", action="version", version=f"turnout {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in (only,) if only else _COMMANDS:
        importlib.import_module(f"turnout.cli.{name}").register(subparsers)
    if only is None:
        from turnout.registry import default_registry

        registry = default_registry()
        if registry.plugin_manager is not None:
            _add_plugin_commands(registry, registry.plugin_manager, subparsers)
    return parser


def _refuse_missing_command(parser: argparse.ArgumentParser, words: Sequence[str]) -> None:
    """A command of one of turnout's plugin distributions that is not here (not installed,
    or its plugin failed): a usage error naming the distribution, not only the choices."""
    name = words[0] if words else ""
    if name not in PROVIDED_BY:
        return
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name not in action.choices:
            distribution = PROVIDED_BY[name]
            parser.error(
                f"{name!r} is not a command of this installation: it comes with the "
                f"{distribution} distribution (pip install {distribution})"
            )


def _add_plugin_commands(
    registry: BackendRegistry, manager: pluggy.PluginManager, subparsers: Any
) -> None:
    """Each plugin's `turnout_add_commands` on its own; one that raises is reported and
    the commands it added before raising are removed (they may be half built)."""
    from turnout.plugin_loading import PluginIssue, each_implementation, one_line

    for plugin, caller in each_implementation(manager, COMMANDS_HOOK):
        before = set(subparsers.choices)
        try:
            caller(subparsers=subparsers)
        except Exception as exc:
            _remove_commands(subparsers, set(subparsers.choices) - before)
            registry.report(
                PluginIssue(
                    plugin=plugin,
                    distribution=registry.distribution_of(plugin),
                    severity="error",
                    message=f"failed in {COMMANDS_HOOK}: {one_line(exc)}; its commands are "
                    "not available",
                    traceback="".join(traceback.format_exception(exc)),
                )
            )


def _remove_commands(subparsers: Any, names: set[str]) -> None:
    """Take commands out of the parser: out of `choices`, and out of the help listing."""
    for name in names:
        subparsers.choices.pop(name, None)
    subparsers._choices_actions[:] = [
        action for action in subparsers._choices_actions if action.dest not in names
    ]


def _report_plugin_issues(registry: BackendRegistry) -> None:
    """One line on stderr per plugin issue, so no command hides a broken install."""
    from turnout.redaction import scrub_text

    for issue in registry.issues:
        sys.stderr.write(
            f"turnout: {issue.severity}: {scrub_text(issue.describe())} "
            "(`turnout backends` lists it)\n"
        )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("turnout")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree, not installed
        return "(not installed)"


def _builtin_command(argv: Sequence[str]) -> str | None:
    """The built-in command `argv` starts with, if it starts with one."""
    return argv[0] if argv and argv[0] in _COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    escape_unencodable_output()
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_builtin_command(words))
    from turnout.registry import default_registry

    _report_plugin_issues(default_registry())
    _refuse_missing_command(parser, words)
    arguments = parser.parse_args(words)
    status: int = arguments.handler(arguments)
    return status


def entry_point() -> NoReturn:
    """The `turnout` program: `main` with the command line, then a clean process exit."""
    run_as_process(main)


if __name__ == "__main__":  # pragma: no cover - `python -m turnout.cli`
    entry_point()
