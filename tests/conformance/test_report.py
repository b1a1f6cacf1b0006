"""The parity report: the verdict rule, per-theme totals, and the two files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from turnout.conformance.report import ParityReport, ReportItem, decide, render_markdown
from turnout.conformance.selection import Selection
from turnout.models import Capabilities

from .support import backend_under_test, result

LEGACY, TARGET = "local-subprocess", "e2b"
BACKENDS = [backend_under_test(LEGACY, deprecated=True), backend_under_test(TARGET)]


def item(
    case_id: str, legacy: str, target: str, theme: str = "t", **target_details: Any
) -> ReportItem:
    return ReportItem(
        case_id,
        theme,
        f"description of {case_id}",
        {
            LEGACY: result(case_id, LEGACY, legacy, theme=theme),
            TARGET: result(case_id, TARGET, target, theme=theme, **target_details),
        },
    )


def report(*items: ReportItem, selection: Selection | None = None) -> ParityReport:
    return ParityReport.build(
        kind="conformance", reference=LEGACY, backends=BACKENDS, items=items, selection=selection
    )


def markdown_declaring(changes: dict[str, Any]) -> str:
    """parity.md of one passing case, the target backend declaring `changes` to its
    capabilities."""
    declared = BACKENDS[1].capabilities.model_copy(update=changes)
    backends = [BACKENDS[0], dataclasses.replace(BACKENDS[1], capabilities=declared)]
    return render_markdown(
        ParityReport.build(
            kind="conformance",
            reference=LEGACY,
            backends=backends,
            items=[item("a", "pass", "pass")],
        )
    )


def selection_of(items: list[ReportItem], *filters: str, suite: int = 315) -> Selection:
    """The selection of a run of `items` out of a suite of `suite` cases."""
    suite_ids = [item.id for item in items] + [f"other-{n}" for n in range(suite - len(items))]
    results = [r for item in items for r in item.results.values()]
    return Selection.of(
        filters=filters, suite=suite_ids, backends=[LEGACY, TARGET], results=results
    )


class TestDecide:
    def test_the_legacy_backend_can_go_when_every_pass_passes_on_the_target(self) -> None:
        """Every case passing on the reference also passes on the target: deletable."""
        verdict = decide(
            [item("a", "pass", "pass"), item("b", "fail", "fail")], BACKENDS, reference=LEGACY
        )
        assert verdict.deletable
        assert verdict.line == (
            "VERDICT: local-subprocess can be deleted: every case that passes on it (1) "
            "passes on e2b"
        )

    def test_a_case_failing_on_the_target_blocks(self) -> None:
        """A reference pass that fails on the target blocks, and is named."""
        verdict = decide([item("a", "pass", "fail")], BACKENDS, reference=LEGACY)
        assert not verdict.deletable
        assert verdict.blocking == {TARGET: ("a",)}
        assert verdict.line.endswith("do not pass: a")

    def test_a_case_skipped_on_the_target_blocks(self) -> None:
        """Declaring fewer capabilities than the reference does not earn the verdict."""
        verdict = decide([item("a", "pass", "skip")], BACKENDS, reference=LEGACY)
        assert verdict.blocking == {TARGET: ("a",)}

    def test_an_accepted_divergence_does_not_block(self) -> None:
        """A target failure listed in the ledger counts as covered, and is counted."""
        accepted = item("a", "pass", "xfail", raw_status="fail", accepted="banner on stderr")
        verdict = decide([accepted], BACKENDS, reference=LEGACY)
        assert verdict.deletable
        assert verdict.line.endswith("passes on e2b (1 accepted divergences)")

    def test_a_ledgered_skip_is_an_accepted_divergence(self) -> None:
        """A case the target skips for a missing capability, listed in the ledger, counts
        as covered and accepted, and its cell says both the skip and the decision."""
        skipped = item("a", "pass", "skip", reason="needs memory_limit_mb", accepted="VM bound")
        verdict = decide([skipped], BACKENDS, reference=LEGACY)
        assert verdict.deletable
        assert verdict.line.endswith("passes on e2b (1 accepted divergences)")
        assert "accepted divergence (skipped: needs memory_limit_mb): VM bound" in render_markdown(
            report(skipped)
        )

    def test_without_a_target_the_verdict_is_undecided(self) -> None:
        """Running only the reference cannot decide anything."""
        verdict = decide([], BACKENDS[:1], reference=LEGACY)
        assert (verdict.decided, verdict.deletable) == (False, False)
        assert "only local-subprocess ran" in verdict.line

    def test_without_the_reference_the_verdict_is_undecided(self) -> None:
        """A run without the reference backend says so."""
        verdict = decide([], BACKENDS[1:], reference=LEGACY)
        assert "did not run" in verdict.line

    def test_each_candidate_gets_its_line_and_the_flag_files_target_comes_last(self) -> None:
        """With two targets, one line each; the flag file's target is marked, comes last
        and decides, even where another target would cover the reference."""
        backends = [*BACKENDS, backend_under_test("tempdir")]
        passing = item("a", "pass", "fail")
        passing = ReportItem(
            "a", "t", "d", {**passing.results, "tempdir": result("a", "tempdir", "pass")}
        )
        verdict = decide([passing], backends, reference=LEGACY, flag_target=TARGET)
        assert verdict.lines == [
            "VERDICT for tempdir: local-subprocess can be deleted: every case that passes on "
            "it (1) passes on tempdir",
            "VERDICT for e2b (the flag file's target_backend): local-subprocess cannot be "
            "deleted yet: 1 of 1 cases that pass on local-subprocess do not pass on e2b: a",
        ]
        assert (verdict.deletable, verdict.covering) == (False, ("tempdir",))

    def test_without_a_flag_target_any_covering_candidate_decides(self) -> None:
        """No flag file: the reference can go when some candidate covers it."""
        backends = [*BACKENDS, backend_under_test("tempdir")]
        verdict = decide([item("a", "pass", "pass")], backends, reference=LEGACY)
        assert verdict.deletable
        assert len(verdict.lines) == 2

    def test_every_verdict_line_is_in_the_markdown(self) -> None:
        """parity.md shows each candidate's line."""
        backends = [*BACKENDS, backend_under_test("tempdir")]
        built = ParityReport.build(
            kind="conformance",
            reference=LEGACY,
            backends=backends,
            items=[item("a", "pass", "pass")],
            flag_target=TARGET,
        )
        text = render_markdown(built)
        assert "**VERDICT for tempdir: " in text
        assert "**VERDICT for e2b (the flag file's target_backend): " in text
        assert built.to_dict()["verdict"]["flag_target"] == TARGET

    def test_a_long_list_of_blockers_is_shortened(self) -> None:
        """More than twelve blocking cases are listed as the first twelve and a count."""
        items = [item(f"c{n:02}", "pass", "fail") for n in range(15)]
        assert decide(items, BACKENDS, reference=LEGACY).line.endswith("c11 (+3 more)")


class TestParityReport:
    def test_totals_count_statuses_per_theme_and_backend(self) -> None:
        """Totals group results by theme, with an `all` row last."""
        totals = report(
            item("a", "pass", "fail", theme="x"), item("b", "pass", "pass", theme="y")
        ).totals()
        assert totals == {
            "x": {LEGACY: {"pass": 1}, TARGET: {"fail": 1}},
            "y": {LEGACY: {"pass": 1}, TARGET: {"pass": 1}},
            "all": {LEGACY: {"pass": 2}, TARGET: {"pass": 1, "fail": 1}},
        }

    def test_unexpected_results_are_failures_errors_and_stale_entries(self) -> None:
        """fail, error and xpass are unexpected; skip and xfail are not."""
        found = report(
            item("a", "pass", "fail"),
            item("b", "skip", "xpass"),
            item("c", "pass", "xfail", raw_status="fail"),
        ).unexpected
        assert [(r.case_id, r.backend) for r in found] == [("a", TARGET), ("b", TARGET)]

    def test_the_markdown_has_verdict_totals_and_matrix(self) -> None:
        """parity.md shows the verdict, the totals per theme and a row per case."""
        text = render_markdown(
            report(item("a", "pass", "fail", reason="output: expected 2, got 3"))
        )
        assert "**VERDICT: local-subprocess cannot be deleted yet" in text
        assert "| t | 1 pass | 1 fail |" in text
        assert "| `a` | pass | **FAIL**: output: expected 2, got 3 |" in text

    def test_the_markdown_shows_every_declared_capability_per_backend(self) -> None:
        """parity.md has one row per field of Capabilities, one column per backend, with
        the values each backend declared (namespace isolation at a local server too)."""
        text = markdown_declaring({"isolation": "namespace"})
        rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
        for name in Capabilities.model_fields:
            assert f"| {name}" in rows
        assert rows["| isolation"] == "| isolation | microvm | namespace |"
        assert rows["| supports_typescript"] == "| supports_typescript | no | no |"

    def test_declared_packages_render_the_same_in_every_process(self) -> None:
        """A `packages` declaration (sets of importable names per language, whose order
        changes with the process's hash seed) is rendered by its languages only, so that
        regenerating parity.md from the same results gives the same file."""
        names = frozenset(f"module_{n}" for n in range(200))
        text = markdown_declaring(
            {"packages": {"python": names, "javascript": frozenset({"lodash"})}}
        )
        [row] = [line for line in text.splitlines() if line.startswith("| packages ")]
        assert row.endswith("| declared for javascript, python |")

    def test_an_unavailable_backend_says_why_and_declares_nothing(self) -> None:
        """A backend that could not load is marked unavailable with its reason."""
        missing = dataclasses.replace(BACKENDS[1], capabilities=None, unavailable="no key")
        text = render_markdown(
            ParityReport.build(
                kind="conformance", reference=LEGACY, backends=[BACKENDS[0], missing], items=[]
            )
        )
        assert "| `e2b` | local | e2b | no: no key |" in text
        assert "| isolation | microvm | — |" in text

    def test_pipes_in_reasons_do_not_break_the_table(self) -> None:
        """A reason containing | is escaped inside the markdown table."""
        text = render_markdown(report(item("a", "pass", "fail", reason="a | b")))
        assert "a \\| b" in text

    def test_the_markdown_is_the_same_for_the_same_results(self) -> None:
        """parity.md carries no timings, so regenerating it is stable."""
        fast = report(item("a", "pass", "pass", wall_ms=5))
        slow = report(item("a", "pass", "pass", wall_ms=500))
        assert render_markdown(fast) == render_markdown(slow)

    def test_a_local_servers_port_is_left_out_of_the_markdown(self) -> None:
        """A loopback endpoint's port changes every run, so parity.md shows <port>."""
        server = backend_under_test(TARGET)
        server = type(server)(**{**server.__dict__, "endpoint": "server at http://127.0.0.1:41234"})
        text = render_markdown(
            ParityReport.build(
                kind="conformance", reference=LEGACY, backends=[BACKENDS[0], server], items=[]
            )
        )
        assert "server at http://127.0.0.1:<port>" in text

    def test_both_files_are_written(self, tmp_path: Path) -> None:
        """write() creates parity.json and parity.md; the JSON carries the verdict."""
        json_path, md_path = report(item("a", "pass", "pass")).write(tmp_path / "out")
        data = json.loads(json_path.read_text())
        assert (data["kind"], data["verdict"]["deletable"]) == ("conformance", True)
        assert md_path.read_text().startswith("# Parity report")

    def test_the_json_names_each_backends_endpoint(self) -> None:
        """parity.json says where each backend ran."""
        data = report(item("a", "pass", "pass")).to_dict()
        assert [b["endpoint"] for b in data["backends"]] == ["local", "local"]


class TestPartialRuns:
    def test_a_filtered_run_gives_no_verdict(self) -> None:
        """18 of 315 cases passing everywhere say nothing about deleting the reference."""
        items = [item(f"c{n}", "pass", "pass", theme="config") for n in range(18)]
        verdict = report(*items, selection=selection_of(items, "--theme config")).verdict
        assert (verdict.decided, verdict.deletable) == (False, False)
        assert verdict.line.startswith(
            "VERDICT: none: partial run, 18 of 315 cases (--theme config)"
        )

    def test_a_run_missing_cases_without_a_filter_gives_no_verdict(self) -> None:
        """Cases left out by other means (pytest -k) make the run partial just the same."""
        items = [item("a", "pass", "pass")]
        assert not report(*items, selection=selection_of(items)).verdict.decided

    def test_a_whole_run_still_gets_its_verdict(self) -> None:
        """The whole suite, unfiltered, is decided as before."""
        items = [item("a", "pass", "pass"), item("b", "pass", "pass")]
        verdict = report(*items, selection=selection_of(items, suite=2)).verdict
        assert verdict.deletable

    def test_the_json_records_the_selection(self) -> None:
        """parity.json says the run was partial and which filters made it so."""
        items = [item("a", "pass", "pass")]
        data = report(*items, selection=selection_of(items, "--case a")).to_dict()
        assert data["selection"]["partial"] is True
        assert data["selection"]["filters"] == ["--case a"]
        assert data["verdict"]["deletable"] is False

    def test_the_markdown_says_the_run_is_partial(self) -> None:
        """parity.md states the partial run under the verdict."""
        items = [item("a", "pass", "pass")]
        text = render_markdown(report(*items, selection=selection_of(items, "--case a")))
        assert "**Partial run**: 1 of 315 cases (--case a)." in text

    def test_a_whole_runs_markdown_has_no_partial_line(self) -> None:
        """A whole run's parity.md is unchanged: no partial-run line."""
        items = [item("a", "pass", "pass")]
        assert "Partial run" not in render_markdown(
            report(*items, selection=selection_of(items, suite=1))
        )
