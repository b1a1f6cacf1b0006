"""The human-readable `turnout rollout report`: one block per environment and stage."""

from __future__ import annotations

from datetime import UTC, datetime

from turnout.redaction import scrub_text
from turnout.rollout.costs import TOP_COST_ROWS, CostSum, EnvironmentCosts
from turnout.rollout.gates import Check, Gate, Thresholds
from turnout.rollout.report import RolloutReport
from turnout.rollout.stats import TOP_MISMATCH_PATHS, BackendTally, StageStats

__all__ = ["percent", "render_text"]

TOP_NEVER_COMPARED = 5
_COLUMNS = ("backend", "runs", "shadow", "ok", "user errors", "infra errors", "invalid")


def percent(value: float | None) -> str:
    """A rate as a percentage with up to 3 significant digits (`-` when unknown)."""
    return "-" if value is None else f"{value * 100:.3g}%"


def render_text(report: RolloutReport) -> str:
    """The whole report as text, ending with a newline."""
    lines = [
        f"rollout report: {report.source}",
        f"  {report.lines} lines: {report.events} events counted, {report.skipped} skipped",
        f"  gates: {describe_thresholds(report.thresholds)}",
    ]
    if report.malformed:
        lines.append(f"  {report.malformed} malformed turnout events (not counted):")
        lines += [f"    {problem}" for problem in report.problems]
    if report.merge_configurations:
        lines.append("  configurations merged: a stage's blocks span flag edits (--merge-steps)")
    if not report.environments:
        scope = f" for environment {report.only}" if report.only else ""
        lines += ["", f"no rollout events{scope}"]
    for environment in sorted(report.environments):
        lines += ["", f"environment {environment}"]
        configurations = report.configurations(environment)
        if len(configurations) > 1:
            lines.append(
                f"  {len(configurations)} flag configurations in this window (oldest first: "
                f"{', '.join(configurations)}; {report.reloads} flags_reloaded): each "
                "step is reported apart"
            )
        compared = report.compared_nodes(environment)
        for stats in report.stages(environment):
            lines += [
                "",
                *_stage(stats, report.gate(stats), report.label(stats), compared),
            ]
        if environment in report.costs:
            lines += ["", *_costs(report.costs[environment])]
    return scrub_text("\n".join(lines) + "\n")


def _money(total: CostSum) -> str:
    return (
        f"${total.cost_usd:.4f} for {total.runs} runs: {total.sandbox_seconds:.1f} sandbox-s "
        f"+ {total.pool_idle_seconds:.1f} s pool idle"
    )


def _costs(costs: EnvironmentCosts) -> list[str]:
    """Cost sums, the most expensive tenants and workflows first."""
    lines = [f"  cost  {_money(costs.total)}"]
    if costs.shadow.runs:
        lines.append(f"    of which shadow runs: {_money(costs.shadow)}")
    for title, sums in (("tenant", costs.tenants), ("workflow", costs.workflows)):
        ranked = costs.ranked(sums)
        for name, total in ranked[:TOP_COST_ROWS]:
            lines.append(f"    {title} {name}: {_money(total)}")
        if len(ranked) > TOP_COST_ROWS:
            lines.append(f"    ... {len(ranked) - TOP_COST_ROWS} more {title}s (see --json)")
    return lines


def describe_thresholds(limits: Thresholds) -> str:
    return (
        f"at least {limits.min_comparisons} comparisons, "
        f"mismatch rate <= {percent(limits.max_mismatch_rate)}, "
        f"candidate error rate <= {percent(limits.max_candidate_error_rate)}, "
        f"target infrastructure error rate <= {percent(limits.max_infrastructure_error_rate)}, "
        f"at least {limits.min_executions} executions, "
        f"fallback rate <= {percent(limits.max_fallback_rate)}, "
        f"never-compared share <= {percent(limits.max_never_compared_share)}, "
        f"shed rate <= {percent(limits.max_shed_rate)}, "
        f"at least {limits.min_hours:g} h observed"
    )


def _stage(stats: StageStats, gate: Gate, label: str, compared: set[str]) -> list[str]:
    window = ""
    if stats.first and stats.last and stats.hours is not None:
        window = f"; {_time(stats.first)} .. {_time(stats.last)}, {stats.hours:.2f} h"
    shares = "/".join(f"{share}%" for share in sorted(stats.shares))
    share = f", {shares} of buckets" if shares and not stats.via_override else ""
    lines = [
        f"  stage {label}  (target {stats.target_backend or '-'}{share}{window})",
        f"    executions {stats.executions}, shadow runs {stats.shadow_runs}, "
        f"shed {stats.shed} ({percent(stats.shed_rate)}), "
        f"shadow failures {stats.shadow_failures}, fallbacks {stats.fallbacks}",
        f"    comparisons {stats.comparisons}: {stats.matches} match, {stats.ignored} ignored "
        f"({stats.ignored_differences} ignored differences), {stats.mismatches} mismatch "
        f"({percent(stats.mismatch_rate)})",
        f"    not compared: {stats.candidate_errors} candidate errors "
        f"({percent(stats.candidate_error_rate)}), "
        f"{stats.authoritative_errors} authoritative errors",
        "    " + _row(_COLUMNS),
    ]
    lines += ["    " + _row(_tally(name, t)) for name, t in sorted(stats.backends.items())]
    if stats.killed_executions:
        lines.append(
            f"    under the kill switch (not counted as executions): {stats.killed_executions}"
        )
    if stats.stage in ("shadow", "live"):  # where comparisons are made and gated
        lines += _coverage(stats, compared)
    for (node, path, owner, reason), count in sorted(stats.accepted.items()):
        lines.append(
            f"    accepted divergence: node {node} {path} ({count}): {reason} (owner {owner})"
        )
    if stats.mismatch_paths:
        paths = ", ".join(
            f"{path} ({n})" for path, n in stats.mismatch_paths.most_common(TOP_MISMATCH_PATHS)
        )
        lines.append(f"    mismatched paths: {paths}")
    return lines + _gate(gate)


def _coverage(stats: StageStats, compared: set[str]) -> list[str]:
    """The nodes that ran here and were never compared, the busiest first."""
    never = stats.never_compared(compared)
    if not never:
        return []
    executions = sum(node.executions for node in never.values())
    total = stats.executions + stats.killed_executions
    lines = [
        f"    never compared: {len(never)} nodes, {executions} executions "
        f"({percent(executions / total if total else None)})"
    ]
    for key, node in list(never.items())[:TOP_NEVER_COMPARED]:
        why = [
            f"{count} {reason}"
            for count, reason in (
                (node.not_marked, "not marked"),
                (node.not_sampled, "not sampled"),
                (node.shed, "shed"),
            )
            if count
        ]
        lines.append(f"      node {key}: {node.executions} executions ({', '.join(why) or '-'})")
    if len(never) > TOP_NEVER_COMPARED:
        lines.append(f"      ... {len(never) - TOP_NEVER_COMPARED} more nodes (see --json)")
    return lines


def _tally(name: str, t: BackendTally) -> tuple[str, ...]:
    return (
        name,
        str(t.runs),
        str(t.shadow_runs),
        str(t.ok),
        f"{t.user_errors} ({percent(t.user_error_rate)})",
        f"{t.infrastructure_errors} ({percent(t.infrastructure_error_rate)})",
        str(t.invalid),
    )


def _row(cells: tuple[str, ...]) -> str:
    name, runs, shadow, ok, user, infra, invalid = cells
    return f"{name:<18} {runs:>6} {shadow:>6} {ok:>6}  {user:<15} {infra:<15} {invalid:>7}"


def _gate(gate: Gate) -> list[str]:
    if gate.next_stage is None:
        return [f"    gate: none after {gate.stage}"]
    verdict = {True: "MET", False: "NOT MET", None: "not decided by logs"}[gate.met]
    lines = [f"    gate to {gate.next_stage}: {verdict}"]
    lines += [f"      {'ok  ' if c.met else 'FAIL'}  {_check(c)}" for c in gate.checks]
    lines += [f"      also required: {item}" for item in gate.manual]
    return lines


def _check(check: Check) -> str:
    sign = "<=" if check.at_most else ">="
    if check.is_rate:
        return f"{check.name} {percent(check.value)} {sign} {percent(check.limit)}"
    value = "-" if check.value is None else _number(check.value)
    return f"{check.name} {value} {sign} {_number(check.limit)}"


def _number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
