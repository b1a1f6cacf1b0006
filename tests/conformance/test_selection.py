"""Selections: which part of the suite a run covered, and when it is partial or empty."""

from __future__ import annotations

from turnout.conformance.selection import Selection

from .support import result

SUITE = ("a", "b", "c")
BACKENDS = ("ref", "target")


def selection(*pairs: tuple[str, str], filters: tuple[str, ...] = ()) -> Selection:
    results = [result(case_id, backend, "pass") for case_id, backend in pairs]
    return Selection.of(filters=filters, suite=SUITE, backends=BACKENDS, results=results)


def whole() -> list[tuple[str, str]]:
    return [(case_id, backend) for case_id in SUITE for backend in BACKENDS]


class TestSelection:
    def test_every_case_on_every_backend_unfiltered_is_whole(self) -> None:
        """A run with a result for each (case, backend) pair and no filter is not partial."""
        assert not selection(*whole()).partial

    def test_a_filter_makes_a_run_partial(self) -> None:
        """A filter marks the run partial even when its cases happen to cover the suite."""
        assert selection(*whole(), filters=("--theme t",)).partial

    def test_a_case_missing_on_one_backend_makes_a_run_partial(self) -> None:
        """A pair left out (pytest -k, a deselected item) leaves the run partial."""
        picked = selection(*whole()[:-1])
        assert picked.partial
        assert (picked.cases_run, picked.cases_complete) == (3, 2)

    def test_no_results_is_empty(self) -> None:
        """A selection that matched no case is empty."""
        assert selection(filters=("--case x",)).empty

    def test_the_description_counts_cases_and_names_the_filters(self) -> None:
        """`1 of 3 cases (--theme t)` says what ran out of what, and why."""
        picked = selection(("a", "ref"), ("a", "target"), filters=("--theme t",))
        assert picked.describe() == "1 of 3 cases (--theme t)"

    def test_a_partial_verdict_line_decides_nothing(self) -> None:
        """The line names the partial run and does not say the reference can be deleted."""
        line = selection(("a", "ref"), ("a", "target"), filters=("--theme t",)).verdict_line("ref")
        assert line.startswith("VERDICT: none: partial run, 1 of 3 cases (--theme t)")
        assert "can be deleted:" not in line

    def test_an_empty_verdict_line_says_nothing_was_tested(self) -> None:
        """An empty selection's line repeats the filters and says nothing was tested."""
        line = selection(filters=("--theme m", "--case x")).verdict_line("ref")
        assert line == (
            "VERDICT: none: the selection (--theme m --case x) matches no case; nothing was tested"
        )

    def test_the_record_holds_filters_and_counts(self) -> None:
        """parity.json's `selection` holds the filters and the counts."""
        assert selection(("a", "ref"), filters=("-k 'a'",)).to_dict() == {
            "partial": True,
            "filters": ["-k 'a'"],
            "cases_in_suite": 3,
            "cases_run": 1,
            "cases_on_every_backend": 0,
        }
