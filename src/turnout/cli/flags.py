"""`turnout flags`: check a flag file, show an environment's settings, explain a decision.

Operators run `validate` before an edit lands (a running process would keep its last good
configuration and log `flags_reload_failed`), `show` to see what an environment really does
with every default filled in, and `explain` to answer "why did this execution run there?".
Backend ids and options are checked against the backends registered in this installation;
`validate` also warns when an environment uses a backend that cannot be built there
(`turnout.flags.readiness`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from turnout.cli.arguments import add_flags_argument
from turnout.cli.output import print_error, print_json, print_text
from turnout.errors import TurnoutError, ValidationError
from turnout.flags import (
    STAGES,
    EnvironmentFlags,
    FlagEvaluator,
    FlagFile,
    FlagFileError,
    current_environment,
    load_flags,
)
from turnout.flags.readiness import backend_warnings, option_notes
from turnout.registry import default_registry

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add `flags validate|show|explain` to the `turnout` parser."""
    parser = subparsers.add_parser(
        "flags",
        help="validate, show and explain feature flags",
        description="Validate feature_flags.toml, show one environment's effective settings, "
        "or explain the decision for one execution. The file is --flags FILE, else "
        "$TURNOUT_FLAGS_FILE, else ./feature_flags.toml.",
    )
    commands = parser.add_subparsers(dest="flags_command", required=True, metavar="SUBCOMMAND")

    validate = commands.add_parser("validate", help="check a flag file; exit 1 on any problem")
    validate.add_argument(
        "file", nargs="?", type=Path, metavar="FILE", help="the same as --flags FILE"
    )
    add_flags_argument(validate)
    validate.add_argument("--json", action="store_true", help="print one JSON object")
    validate.set_defaults(handler=handle_validate)

    show = commands.add_parser("show", help="one environment's effective settings")
    _common(show)
    show.set_defaults(handler=handle_show)

    explain = commands.add_parser("explain", help="the decision for one execution, and why")
    _common(explain)
    explain.add_argument("--key", required=True, help="the execution key")
    explain.add_argument("--tenant", help="tenant id")
    explain.add_argument("--workflow", help="workflow id")
    explain.add_argument(
        "--side-effect-free", action="store_true", help="the node is marked side-effect-free"
    )
    explain.set_defaults(handler=handle_explain)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help="environment (default: $TURNOUT_ENV or development)")
    add_flags_argument(parser)
    # The spelling these two subcommands had before --flags became the one on every command.
    parser.add_argument("--file", type=Path, dest="flags", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _load(path: Path | None, *, strict: bool = False) -> FlagFile:
    """The flag file, checked against this installation's backends. `strict` (validate):
    a backend whose plugin is broken is a problem naming the plugin. Otherwise (show,
    explain) such a backend is accepted, as the engine accepts it, so that the settings
    can still be read while a plugin is broken."""
    registry = default_registry()
    if strict:
        return load_flags(
            path,
            known_backends=registry.ids,
            option_models=registry.option_models,
            unavailable_reason=registry.unavailable_reason,
        )
    return load_flags(path, known_backends=registry.known_ids, option_models=registry.option_models)


def _validated_path(arguments: argparse.Namespace) -> Path | None:
    """`flags validate FILE` and `flags validate --flags FILE` name the same thing."""
    if arguments.file is not None and arguments.flags is not None:
        raise ValidationError("FILE", "give the flag file once: FILE or --flags FILE")
    path: Path | None = arguments.file or arguments.flags
    return path


def handle_validate(arguments: argparse.Namespace) -> int:
    """Exit 0 with a summary per environment, or 1 with every problem."""
    try:
        flags = _load(_validated_path(arguments), strict=True)
    except FlagFileError as error:
        if arguments.json:
            print_json({"error": {**error.to_dict(), "problems": [str(p) for p in error.problems]}})
        else:
            count = len(error.problems)
            lines = [f"invalid: {count} problem{'s' if count != 1 else ''}"]
            lines += [f"  {problem}" for problem in error.problems]
            print_text("\n".join(lines) + "\n", sys.stderr)
        return 1
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    registry = default_registry()
    notes, built = option_notes(flags, registry), backend_warnings(flags, registry)
    warnings = {
        name: [*environment.warnings(), *built[name]]
        for name, environment in flags.environments.items()
    }
    if arguments.json:
        summaries = {
            name: {
                "summary": _summary(environment),
                "notes": [*environment.notes(), *notes[name]],
                "warnings": warnings[name],
            }
            for name, environment in flags.environments.items()
        }
        print_json({"valid": True, "source": flags.source, "environments": summaries})
        return 0
    environments = flags.environments
    sys.stdout.write(
        f"{flags.source}: valid (schema version {flags.schema_version}, "
        f"{len(environments)} environments)\n"
    )
    width = max(len(name) for name in environments)
    for name, environment in environments.items():
        sys.stdout.write(f"  {name:<{width}}  {_summary(environment)}\n")
        lines = [f"note: {note}" for note in [*environment.notes(), *notes[name]]]
        lines += [f"warning: {warning}" for warning in warnings[name]]
        sys.stdout.writelines(f"  {'':<{width}}  {line}\n" for line in lines)
    return 0


def _summary(environment: EnvironmentFlags) -> str:
    ranges = environment.stage_ranges
    split = ", ".join(f"{stage} {high - low + 1}%" for stage, low, high in ranges)
    parts = [
        f"stage {environment.stage}",
        f"{environment.legacy_backend} -> {environment.target_backend}",
    ]
    # Show the split whenever it is not simply "everything at the default stage": a rollout
    # giving 100% to another stage (e.g. shadow + live = 100) must not read as "stage shadow".
    if len(ranges) > 1 or (ranges and ranges[0][0] != environment.stage):
        parts.append(f"rollout {split}")
    if environment.reachable_stages & {"shadow", "live"}:
        parts.append(f"shadow sample {environment.shadow_sample_percent}%")
    overrides = environment.overrides
    if overrides.tenants or overrides.workflows:
        parts.append(f"{len(overrides.tenants) + len(overrides.workflows)} overrides")
    if not environment.legacy_allowed:
        parts.append("legacy killed")
    return "; ".join(parts)


def _select(arguments: argparse.Namespace) -> tuple[FlagFile, str, EnvironmentFlags]:
    flags = _load(arguments.flags)
    name = current_environment(arguments.env)
    return flags, name, flags.environment(name)


def effective_settings(flags: FlagFile, environment: EnvironmentFlags) -> dict[str, Any]:
    """Every key of the environment with defaults filled in, plus what follows from them."""
    settings = environment.model_dump(mode="json")
    settings["rollout"] = environment.rollout.shares
    settings["rollout_group"] = environment.rollout_group_id
    return {
        "environment": environment.name,
        "source": flags.source,
        "settings": settings,
        "stage_ranges": [
            {"stage": stage, "from": low, "to": high, "percent": high - low + 1}
            for stage, low, high in environment.stage_ranges
        ],
        "reachable_stages": [s for s in STAGES if s in environment.reachable_stages],
        "legacy_may_load": environment.legacy_may_load,
        "notes": environment.notes(),
        "warnings": environment.warnings(),
    }


def handle_show(arguments: argparse.Namespace) -> int:
    """Print one environment's effective settings."""
    try:
        flags, _name, environment = _select(arguments)
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    shown = effective_settings(flags, environment)
    if arguments.json:
        print_json(shown)
        return 0
    settings = shown["settings"]
    lines = [f"environment {environment.name} ({flags.source})"]
    lines += [f"  {key} = {_plain(value)}" for key, value in settings.items() if key != "backends"]
    lines += [f"  backends.{key} = {_plain(value)}" for key, value in settings["backends"].items()]
    ranges = ", ".join(f"{r['stage']} {r['from']}-{r['to']}" for r in shown["stage_ranges"])
    lines += [
        f"  (buckets: {ranges})",
        f"  (reachable stages: {', '.join(shown['reachable_stages'])}; legacy may load: "
        f"{'yes' if shown['legacy_may_load'] else 'no'})",
        *(f"  note: {note}" for note in shown["notes"]),
        *(f"  warning: {warning}" for warning in shown["warnings"]),
    ]
    print_text("\n".join(lines) + "\n")
    return 0


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_plain(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_plain(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return f'"{value}"'
    return "none" if value is None else str(value)


def handle_explain(arguments: argparse.Namespace) -> int:
    """Print the decision for one execution and the reasons behind it."""
    try:
        flags, name, _environment = _select(arguments)
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    decision = FlagEvaluator(flags).decide(
        name,
        tenant_id=arguments.tenant,
        workflow_id=arguments.workflow,
        execution_key=arguments.key,
        side_effect_free=arguments.side_effect_free,
    )
    if arguments.json:
        print_json({"environment": name, **decision.to_log()})
        return 0
    bucket = "-" if decision.bucket is None else f"{decision.bucket} (by {decision.bucketing_key})"
    lines = [
        f"environment {name}: stage {decision.stage}",
        f"  authoritative  {decision.authoritative}",
        f"  candidate      {decision.candidate or '-'} (shadow run: "
        f"{'yes' if decision.shadow else 'no'})",
        f"  fallback       {'allowed' if decision.fallback_allowed else 'not allowed'}",
        f"  bucket         {bucket}",
        "  why:",
        *(f"    {part}" for part in decision.reason.split("; ")),
    ]
    print_text("\n".join(lines) + "\n")
    return 0
