"""The human-readable `turnout bench` output: the bounds, then each section's key figures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from turnout.redaction import scrub_text

__all__ = ["quantity", "render_text"]


def _ms(summary: dict[str, Any]) -> str:
    return f"p50 {summary['p50']:.1f} ms, p95 {summary['p95']:.1f} ms (n={summary['n']})"


def quantity(value: float, unit: str) -> str:
    """A bound's figure with its unit: a ratio as `1.105x`, milliseconds to a tenth, a count
    of things (modules) whole."""
    if unit == "x":
        return f"{value:.3f}x"
    if unit == "ms":
        return f"{value:.1f} ms"
    if float(value).is_integer():
        return f"{value:.0f} {unit}"
    return f"{value:.3f} {unit}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}x"


def _startup(f: dict[str, Any]) -> list[str]:
    sdk, cpu = f["sdk_imports"], f["cpu_ms"]

    def line(label: str, key: str, short: str | None) -> str:
        text = f"{label}: wall {_ms(f[key])}; CPU p50 {cpu[key]['p50']:.1f} ms"
        if short is not None:
            text += (
                f" (wall {_x(f[f'ratio_{short}_vs_python_p50'])}, "
                f"CPU {_x(f[f'cpu_ratio_{short}_vs_python_p50'])} python -c pass)"
            )
        return text

    slowest = ", ".join(
        f"{entry['module']} {entry['self_us'] / 1000:.1f}"
        for entry in f["slowest_imports_of_run"][:6]
    )
    return [
        line("python -c pass", "python_pass", None),
        line("python -c 'import turnout'", "import_turnout", "import"),
        line("the node's interpreter alone", "node_interpreter", None),
        line(f"`{f['run_command']}`", "turnout_run", None),
        f"turnout run adds {f['cpu_run_added_ms']:.1f} ms CPU to the node's interpreter",
        f"the floor (asyncio, pydantic, one model) adds {f['cpu_floor_added_ms']:.1f} ms CPU to "
        f"python -c pass; turnout run's own share beyond it: "
        f"{f['cpu_run_added_beyond_floor_ms']:.1f} ms",
        f"slowest imports of turnout run (own ms): {slowest}",
        line("turnout backends", "turnout_backends", "backends"),
        "E2B SDK imported by import turnout / plugin discovery / turnout backends: "
        f"{sdk['sdk_after_import_turnout'] or 'no'} / {sdk['sdk_after_plugin_discovery'] or 'no'}"
        f" / {sdk['sdk_after_describe_backends'] or 'no'}",
    ]


def _local(f: dict[str, Any]) -> list[str]:
    return [
        f"execute_code_node: {_ms(f['turnout_ms'])}",
        f"raw `{f['raw_command']}`: {_ms(f['raw_ms'])}",
        f"ratio p50 {_x(f['ratio_p50'])}, p95 {_x(f['ratio_p95'])}",
    ]


def _e2b_overhead(f: dict[str, Any]) -> list[str]:
    lines = []
    for key, g in f.items():
        lines += [
            f"{key}: execute_code_node {_ms(g['turnout_ms'])}",
            f"{key}: raw create+run_code+kill {_ms(g['raw_ms'])} "
            f"(to result {g['raw_to_result_ms']['p50']:.1f} ms, "
            f"kill {g['raw_kill_ms']['p50']:.1f} ms)",
            f"{key}: ratio p50 {_x(g['ratio_p50'])}, p95 {_x(g['ratio_p95'])}; "
            f"vs raw without its kill {_x(g['ratio_vs_raw_without_kill_p50'])}",
        ]
    return lines


def _kill(f: dict[str, Any]) -> list[str]:
    lines = []
    for key, g in f.items():
        if not isinstance(g, dict):
            continue
        lines.append(
            f"{key}: result {_ms(g['turnout_result_ms'])}; kill {_ms(g['kill_ms'])}; "
            f"saved p50 {g['saved_ms_p50']:.1f} ms "
            f"({_x(g['saved_fraction_of_synchronous_p50'])} of a synchronous kill's latency)"
        )
    lines.append(
        "result p50 with a 300 ms slow kill / with a normal kill: "
        f"{_x(f['result_p50_ratio_slow_vs_normal_kill'])}"
    )
    return lines


def _pool(f: dict[str, Any]) -> list[str]:
    return [
        f"pool_size {f['pool_size']}: pooled {_ms(f['pooled_ms'])}",
        f"no pool: {_ms(f['unpooled_ms'])}",
        f"ratio p50 {_x(f['ratio_p50'])}, p95 {_x(f['ratio_p95'])}; pool {f['pool_stats']}",
    ]


def _concurrency(f: dict[str, Any]) -> list[str]:
    return [
        f"{key}: turnout {g['turnout_per_s']:.2f}/s, raw {g['raw_per_s']:.2f}/s, "
        f"ratio {_x(g['ratio'])} (every sandbox killed; to the last result "
        f"{_x(g['ratio_to_last_result'])}; median of {g['phases_per_side']} phase(s) of "
        f"{g['executions_per_phase']} executions per side)"
        for key, g in f.items()
    ]


def _payload(f: dict[str, Any]) -> list[str]:
    return [
        f"{key}: {_ms(g['elapsed_ms'])}; peak RSS growth {g['peak_growth_mib_p50']:.1f} MiB "
        f"= {_x(g['peak_growth_ratio_p50'])} the payload"
        + ("" if g["correct"] else " (WRONG OUTPUT)")
        for key, g in f.items()
    ]


def _sequential(f: dict[str, Any]) -> list[str]:
    return [
        f"{f['executions']} executions, {f['per_execution_ms']:.1f} ms each; RSS "
        f"{f['rss_start_mib']:.1f} -> {f['rss_end_mib']:.1f} MiB "
        f"(growth {f['rss_growth_mib']:.2f} MiB; checkpoints {f['rss_checkpoints_mib']})"
    ]


_RENDERERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "startup": _startup,
    "local-python": _local,
    "local-javascript": _local,
    "e2b-overhead": _e2b_overhead,
    "kill": _kill,
    "pool": _pool,
    "concurrency": _concurrency,
    "payload": _payload,
    "sequential": _sequential,
}


def render_text(report: dict[str, Any]) -> str:
    """The report as text, ending with a newline."""
    machine = report["machine"]
    load = " ".join(str(v) for v in machine["load_average"] or []) or "-"
    lines = [
        f"turnout bench ({report['mode']}): {machine['cpus']} CPUs, Python {machine['python']}, "
        f"load {load}; {report['duration_s']} s",
        "",
    ]
    rows = [
        (
            bound["name"],
            "-" if bound["value"] is None else quantity(bound["value"], bound["unit"]),
            f"{bound['comparison']} {quantity(bound['limit'], bound['unit'])}",
            "met" if bound["met"] else "MISSED",
        )
        for bound in report["bounds"]
    ]
    name_width = max([len("bound"), *(len(row[0]) for row in rows)])
    value_width = max([len("value"), *(len(row[1]) for row in rows)])
    limit_width = max([len("limit"), *(len(row[2]) for row in rows)])
    for name, shown, limit, verdict in [("bound", "value", "limit", "result"), *rows]:
        lines.append(
            f"{name:<{name_width}}  {shown:>{value_width}}  {limit:>{limit_width}}  {verdict}"
        )
    lines.append("")
    for name, section in report["sections"].items():
        if section["skipped"]:
            lines.append(f"[{name}] skipped: {section['skipped']}")
            continue
        lines.append(f"[{name}] ({section['duration_s']} s)")
        renderer = _RENDERERS.get(name)
        body = renderer(section["figures"]) if renderer else [str(section["figures"])]
        lines += [f"  {line}" for line in body]
    for note in report["notes"]:
        lines.append(f"note: {note}")
    return scrub_text("\n".join(lines) + "\n")
