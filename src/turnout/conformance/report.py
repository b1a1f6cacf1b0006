"""The parity report: `parity.json` for machines, `parity.md` for people, and the verdict.

The verdict answers one question: can the legacy (reference) backend be deleted? Yes when,
for some target backend, every case that passes on the reference also passes on the target
or is an accepted divergence in the ledger. A case the target *skips* blocks too, unless the
ledger lists it: a backend cannot earn the verdict by declaring fewer capabilities than the
reference without a person accepting, with a reason, each case it thereby skips. A partial
run (see `selection`) gives no verdict at all: it records what it covered instead.

`parity.md` is deterministic for the same results (no timings, no dates), so a committed
copy can be checked for staleness by regenerating it; timings are in `parity.json` only.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from turnout.conformance.backends import BackendUnderTest
from turnout.conformance.ledger import Ledger
from turnout.conformance.runner import UNEXPECTED, CaseResult
from turnout.conformance.selection import Selection
from turnout.models import Capabilities
from turnout.redaction import scrub_data, scrub_text
from turnout.reports.html import available, write_parity_html

__all__ = ["ParityReport", "ReportItem", "Verdict", "decide", "render_markdown"]

Kind = Literal["conformance", "replay"]
STATUS_ORDER = ("pass", "fail", "error", "skip", "xfail", "xpass")
MAX_LISTED = 12


@dataclass(frozen=True)
class ReportItem:
    """A row of the matrix: a case (or a replayed node) and its results per backend."""

    id: str
    theme: str
    description: str
    results: Mapping[str, CaseResult]


@dataclass(frozen=True)
class Verdict:
    """Whether the reference backend can be deleted, and what blocks it per target.

    `line` is one line per candidate target (one line when there is one target); with
    several, `flag_target` (the flag file's `target_backend`) is marked and comes last, and
    `deletable` is its answer (any target's, when the flag file names none of them)."""

    decided: bool
    deletable: bool
    line: str
    covering: tuple[str, ...] = ()
    blocking: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    flag_target: str | None = None

    @property
    def lines(self) -> list[str]:
        return self.line.split("\n")

    def to_dict(self) -> dict[str, Any]:
        return {
            "decided": self.decided,
            "deletable": self.deletable,
            "line": self.line,
            "lines": self.lines,
            "flag_target": self.flag_target,
            "covering": list(self.covering),
            "blocking": {target: list(ids) for target, ids in self.blocking.items()},
        }


def _listed(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:MAX_LISTED])
    return shown + (f" (+{len(ids) - MAX_LISTED} more)" if len(ids) > MAX_LISTED else "")


def decide(
    items: Sequence[ReportItem],
    backends: Sequence[BackendUnderTest],
    *,
    reference: str,
    noun: str = "case",
    selection: Selection | None = None,
    flag_target: str | None = None,
) -> Verdict:
    """The verdict (see the module docstring); none for a partial `selection`.
    `flag_target` is the flag file's target_backend, marked where several targets ran."""
    if selection is not None and selection.partial:
        return Verdict(False, False, selection.verdict_line(reference))
    ids = [backend.id for backend in backends]
    if reference not in ids:
        return Verdict(
            False,
            False,
            f"VERDICT: undecided: the reference backend {reference} did not run; run it "
            "together with a target backend",
        )
    targets = [backend_id for backend_id in ids if backend_id != reference]
    if not targets:
        return Verdict(
            False,
            False,
            f"VERDICT: undecided: only {reference} ran; add --backend TARGET to compare it "
            "with the backend that would replace it",
        )
    reference_passes = [
        item for item in items if (r := item.results.get(reference)) and r.raw_status == "pass"
    ]
    blocking: dict[str, tuple[str, ...]] = {}
    accepted: dict[str, int] = {}
    for target in targets:
        blockers = []
        for item in reference_passes:
            result = item.results.get(target)
            if result is None or not (result.raw_status == "pass" or _accepted(result)):
                blockers.append(item.id)
        blocking[target] = tuple(blockers)
        accepted[target] = sum(
            1 for item in reference_passes if (r := item.results.get(target)) and _accepted(r)
        )
    covering = tuple(target for target in targets if not blocking[target])
    count = len(reference_passes)
    if len(targets) > 1:
        return _per_target(targets, blocking, accepted, count, reference, noun, flag_target)
    [target] = targets
    if covering:
        extra = f" ({accepted[target]} accepted divergences)" if accepted[target] else ""
        line = (
            f"VERDICT: {reference} can be deleted: every {noun} that passes on it ({count}) "
            f"passes on {target}{extra}"
        )
        return Verdict(True, True, line, covering, blocking, flag_target)
    reasons = (
        f"on {target}, {len(blocking[target])} of {count} {noun}s that pass on {reference} "
        f"do not pass: {_listed(blocking[target])}"
    )
    line = f"VERDICT: {reference} cannot be deleted yet: {reasons}"
    return Verdict(True, False, line, (), blocking, flag_target)


def _per_target(
    targets: Sequence[str],
    blocking: Mapping[str, tuple[str, ...]],
    accepted: Mapping[str, int],
    count: int,
    reference: str,
    noun: str,
    flag_target: str | None,
) -> Verdict:
    """One verdict line per candidate target, the flag file's target marked and last."""
    ordered = sorted(targets, key=lambda target: target == flag_target)
    lines = []
    for target in ordered:
        mark = " (the flag file's target_backend)" if target == flag_target else ""
        head = f"VERDICT for {target}{mark}: {reference}"
        if not blocking[target]:
            extra = f" ({accepted[target]} accepted divergences)" if accepted[target] else ""
            lines.append(
                f"{head} can be deleted: every {noun} that passes on it ({count}) passes on "
                f"{target}{extra}"
            )
        else:
            lines.append(
                f"{head} cannot be deleted yet: {len(blocking[target])} of {count} {noun}s that "
                f"pass on {reference} do not pass on {target}: {_listed(blocking[target])}"
            )
    covering = tuple(target for target in targets if not blocking[target])
    if flag_target is not None and flag_target in blocking:
        deletable = not blocking[flag_target]
    else:
        deletable = bool(covering)
    return Verdict(True, deletable, "\n".join(lines), covering, blocking, flag_target)


@dataclass(frozen=True)
class ParityReport:
    """Everything a run found, ready to be written as parity.json and parity.md."""

    kind: Kind
    reference: str
    backends: Sequence[BackendUnderTest]
    items: Sequence[ReportItem]
    ledger: Ledger
    verdict: Verdict
    source: str = ""
    selection: Selection | None = None

    @classmethod
    def build(
        cls,
        *,
        kind: Kind,
        reference: str,
        backends: Sequence[BackendUnderTest],
        items: Sequence[ReportItem],
        ledger: Ledger | None = None,
        source: str = "",
        selection: Selection | None = None,
        flag_target: str | None = None,
    ) -> ParityReport:
        """The report of `items`; `selection` (conformance runs) says what part of the
        suite they are, and a partial one gets no verdict; `flag_target` is the flag file's
        target_backend, marked in the verdict where several targets ran."""
        noun = "case" if kind == "conformance" else "node"
        verdict = decide(
            items,
            backends,
            reference=reference,
            noun=noun,
            selection=selection,
            flag_target=flag_target,
        )
        return cls(kind, reference, backends, items, ledger or Ledger(), verdict, source, selection)

    @property
    def unexpected(self) -> list[CaseResult]:
        return [r for item in self.items for r in item.results.values() if r.status in UNEXPECTED]

    def totals(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per theme, per backend, the count of each status."""
        totals: dict[str, dict[str, Counter[str]]] = {}
        for item in self.items:
            for theme in (item.theme, "all"):
                per_backend = totals.setdefault(theme, {})
                for backend_id, result in item.results.items():
                    per_backend.setdefault(backend_id, Counter())[result.status] += 1
        ordered = sorted(totals, key=lambda theme: (theme == "all", theme))
        return {
            theme: {
                backend: {status: counts[status] for status in STATUS_ORDER if counts[status]}
                for backend, counts in totals[theme].items()
            }
            for theme in ordered
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "kind": self.kind,
            "source": self.source,
            "selection": None if self.selection is None else self.selection.to_dict(),
            "reference": self.reference,
            "backends": [backend.to_dict() for backend in self.backends],
            "ledger": self.ledger.source,
            "items": [
                {
                    "id": item.id,
                    "theme": item.theme,
                    "description": item.description,
                    "results": {b: r.to_dict() for b, r in item.results.items()},
                }
                for item in self.items
            ],
            "totals": self.totals(),
            "unexpected": [
                {"id": r.case_id, "backend": r.backend, "status": r.status, "reason": r.reason}
                for r in self.unexpected
            ],
            "verdict": self.verdict.to_dict(),
        }

    def write(self, directory: Path) -> tuple[Path, Path]:
        """Write parity.json and parity.md into `directory` (created if needed), and
        parity.html where the reports extra is installed (`turnout.reports.html`)."""
        directory.mkdir(parents=True, exist_ok=True)
        json_path, md_path = directory / "parity.json", directory / "parity.md"
        json_path.write_text(
            json.dumps(scrub_data(self.to_dict()), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        md_path.write_text(scrub_text(render_markdown(self)), encoding="utf-8")
        if available():
            write_parity_html(self, directory)
        return json_path, md_path


def _cell(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return flat.replace("|", "\\|")


_LOOPBACK_PORT = re.compile(r"://(127\.0\.0\.1|localhost|\[::1\]):\d+")


def _endpoint_cell(endpoint: str) -> str:
    """The endpoint without a loopback port, which changes from run to run (parity.json
    keeps it), so that parity.md stays the same for the same results."""
    return _cell(_LOOPBACK_PORT.sub(r"://\1:<port>", endpoint))


def _accepted(result: CaseResult) -> bool:
    """An accepted divergence: a listed failure (xfail), or a listed case the backend
    skips because it lacks a capability the case needs."""
    return result.status == "xfail" or (result.status == "skip" and result.accepted is not None)


def _status_cell(result: CaseResult | None) -> str:
    if result is None:
        return "—"
    if result.status == "pass":
        return "pass"
    if result.status == "skip" and result.accepted is not None:
        return _cell(f"accepted divergence (skipped: {result.reason}): {result.accepted}")
    if result.status == "skip":
        return _cell(f"skip: {result.reason}")
    if result.status == "xfail":
        return _cell(f"accepted divergence: {result.accepted or ''}")
    return _cell(f"**{result.status.upper()}**: {result.reason}")


def _totals_cell(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{count} {status}" for status, count in counts.items()) or "—"


def _capability_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, frozenset | set | list | tuple):
        return ", ".join(sorted(str(item) for item in value))
    if isinstance(value, Mapping):
        # Per-language sets of names (`packages`): machine-specific and unordered, so only
        # the languages, which keeps the file the same from run to run.
        return "declared for " + ", ".join(sorted(str(key) for key in value)) if value else "none"
    return _cell(str(value))


def _capability_rows(backends: Sequence[BackendUnderTest]) -> list[str]:
    """Every declared capability (each field of `Capabilities`, in its order) per backend,
    as each instance declared it where it ran."""
    lines = ["| capability | " + " | ".join(f"`{b.id}`" for b in backends) + " |"]
    lines.append("|---|" + "---|" * len(backends))
    for name in Capabilities.model_fields:
        cells = [
            "—" if b.capabilities is None else _capability_value(getattr(b.capabilities, name))
            for b in backends
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def render_markdown(report: ParityReport) -> str:
    """The human report: verdict, backends, per-theme totals, the matrix, the ledger."""
    ids = [backend.id for backend in report.backends]
    noun = "Case" if report.kind == "conformance" else "Node"
    command = "turnout conformance" if report.kind == "conformance" else "turnout replay"
    lines = [
        "# Parity report" + (" (replay)" if report.kind == "replay" else ""),
        "",
        f"Generated by `{command}`; do not edit by hand. Reference (legacy) backend: "
        f"`{report.reference}`." + (f" Corpus: `{report.source}`." if report.source else ""),
        "",
    ]
    for line in report.verdict.lines:
        lines += [f"**{line}**", ""]
    if report.selection is not None and report.selection.partial:
        lines += [
            f"**Partial run**: {report.selection.describe()}. It shows how these cases behave; "
            "it is not evidence for deleting the reference backend.",
            "",
        ]
    lines += [
        "## Backends",
        "",
        "| backend | endpoint | plugin | available |",
        "|---|---|---|---|",
    ]
    for backend in report.backends:
        name = f"`{backend.id}`" + (" (deprecated)" if backend.deprecated else "")
        available = "yes" if backend.capabilities is not None else "no"
        if backend.unavailable:
            available += ": " + _cell(backend.unavailable)
        cells = [name, _endpoint_cell(backend.endpoint), backend.plugin, available]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Capabilities, as each backend declared them for the instance that ran here (its "
        "configured options, at its endpoint):",
        "",
        *_capability_rows(report.backends),
    ]
    lines += ["", "## Totals per theme", "", "| theme | " + " | ".join(ids) + " |"]
    lines.append("|---|" + "---|" * len(ids))
    for theme, per_backend in report.totals().items():
        name = "**all**" if theme == "all" else theme
        cells = [_totals_cell(per_backend.get(backend_id, {})) for backend_id in ids]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"## {noun}s", "", f"| {noun.lower()} | " + " | ".join(ids) + " |"]
    lines.append("|---|" + "---|" * len(ids))
    for item in report.items:
        cells = [_status_cell(item.results.get(backend_id)) for backend_id in ids]
        lines.append(f"| `{item.id}` | " + " | ".join(cells) + " |")
    accepted = [
        (r, report.ledger.entry(r.case_id, r.backend))
        for item in report.items
        for r in item.results.values()
        if r.status in ("xfail", "xpass")
    ]
    if accepted:
        lines += ["", "## Divergence ledger", "", "| case | backend | status | reason | decided |"]
        lines.append("|---|---|---|---|---|")
        for result, entry in accepted:
            decided = str(entry.decided) if entry else ""
            lines.append(
                f"| `{result.case_id}` | {result.backend} | {result.status} | "
                f"{_cell(result.accepted or '', 300)} | {decided} |"
            )
    unexpected = report.unexpected
    if unexpected:
        lines += ["", "## Unexpected results", ""]
        for result in unexpected:
            lines.append(f"- `{result.case_id}` on `{result.backend}`: {result.status}")
            details = list(result.problems) or [result.reason]
            details += [f"differential: {d}" for d in result.differences if d not in details]
            lines.extend(f"  - {_cell(detail, 400)}" for detail in details if detail)
    return "\n".join(lines) + "\n"
