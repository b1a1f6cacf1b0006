"""Realistic report data for the HTML report tests and the docs screenshots.

Each builder goes through the real code paths where that is cheap: a conformance run on
local-subprocess, a rollout report read from a JSON log written as the engine and the
shim write it. A hostile parity report puts markup in a case id and an error message.
(The bench and chaos reports, the developer tools', are in tests/plugins/devtools/samples.py.)
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from turnout.conformance.report import ParityReport, ReportItem
from turnout.conformance.runner import CaseResult
from turnout.conformance.session import ConformanceSession

from ..conformance.support import backend_under_test
from ..rollout.support import compared, executed, lines, shim_event

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<script>window.__pwned = 1</script>"
START = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)


def conformance_report(case_ids: tuple[str, ...] = ()) -> ParityReport:
    """A real conformance run on local-subprocess (the packaged cases `case_ids`)."""

    async def run() -> ParityReport:
        session = ConformanceSession.open(backend_ids=["local-subprocess"], case_ids=case_ids)
        try:
            return session.report(await session.run())
        finally:
            await session.aclose()

    return asyncio.run(run())


def hostile_report() -> ParityReport:
    """Two backends, every status, and markup in a case id, a theme and a message."""
    legacy, target = "local-subprocess", "e2b"

    def item(case_id: str, theme: str, target_status: str, **details: Any) -> ReportItem:
        return ReportItem(
            case_id,
            theme,
            f"what {case_id} checks",
            {
                legacy: CaseResult(case_id, theme, legacy, "pass", raw_status="pass"),
                target: CaseResult(case_id, theme, target, target_status, **details),  # type: ignore[arg-type]
            },
        )

    items = [
        item("outputs.number", "outputs", "pass", raw_status="pass"),
        item(f"outputs.{HOSTILE}", HOSTILE, "fail", raw_status="fail", reason=f"got {HOSTILE}"),
        item(
            "errors.stack",
            "errors",
            "xfail",
            raw_status="fail",
            accepted="the sandbox's stack trace names its own file",
        ),
        item("memory.limit", "memory", "skip", raw_status="skip", reason="no memory limit"),
        item("timeouts.hang", "timeouts", "error", raw_status="error", reason="sandbox died"),
    ]
    return ParityReport.build(
        kind="conformance",
        reference=legacy,
        backends=[backend_under_test(legacy, deprecated=True), backend_under_test(target)],
        items=items,
    )


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rollout_log(
    path: Path, *, shadow_hours: int = 30, live_hours: int = 26, per_hour: int = 45, seed: int = 7
) -> Path:
    """A production log of a migration: `shadow_hours` of shadow then `live_hours` of live
    in environment `prod`, with one bad hour in each (candidate errors in shadow, an e2b
    outage that falls back in live) and e2b's usage on its runs."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []

    def usage() -> dict[str, Any]:
        seconds = rng.lognormvariate(-1.6, 0.3)
        return {"sandboxSeconds": round(seconds, 3), "costUsd": round(seconds * 0.000028, 8)}

    def labels() -> dict[str, str]:
        tenant = rng.choice(("acme", "globex", "initech", "umbrella"))
        return {"label_tenant": tenant, "label_workflow": f"{tenant}-{rng.randint(1, 6)}"}

    for hour in range(shadow_hours + live_hours):
        stage = "shadow" if hour < shadow_hours else "live"
        bad_hour = hour in (11, shadow_hours + 9)
        for _ in range(per_hour):
            moment = _stamp(START + timedelta(hours=hour, seconds=rng.uniform(0, 3599)))
            local_ms = round(rng.lognormvariate(3.4, 0.25))
            e2b_ms = round(rng.lognormvariate(5.15, 0.2))
            common = {"stage": stage, "timestamp": moment, **labels()}
            if stage == "shadow":
                events.append(
                    executed("local-subprocess", "authoritative", duration_ms=local_ms, **common)
                )
                if bad_hour and rng.random() < 0.25:
                    events.append(
                        executed(
                            "e2b",
                            "shadow",
                            error="InfrastructureError",
                            duration_ms=e2b_ms,
                            **common,
                        )
                    )
                    events.append(
                        compared(
                            "candidate_error",
                            timestamp=moment,
                            candidate_outcome="InfrastructureError",
                        )
                    )
                    continue
                events.append(
                    executed("e2b", "shadow", duration_ms=e2b_ms, usage=usage(), **common)
                )
                verdict = "mismatch" if rng.random() < 0.0006 else "match"
                paths = ("$.total",) if verdict == "mismatch" else ()
                events.append(compared(verdict, timestamp=moment, paths=paths))
            else:
                if bad_hour and rng.random() < 0.5:
                    events.append(
                        executed(
                            "e2b",
                            "authoritative",
                            error="InfrastructureError",
                            kind="infrastructure",
                            duration_ms=rng.randint(900, 3000),
                            **common,
                        )
                    )
                    fallback = {
                        **shim_event("fallback_to_legacy", stage="live"),
                        "timestamp": moment,
                    }
                    events.append(fallback)
                    events.append(
                        executed("local-subprocess", "fallback", duration_ms=local_ms, **common)
                    )
                    continue
                events.append(
                    executed("e2b", "authoritative", duration_ms=e2b_ms, usage=usage(), **common)
                )
    path.write_text("".join(lines(*events)) + "worker started\n", encoding="utf-8")
    return path
