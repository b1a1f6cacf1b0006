"""The hunt on fake backends: what counts as a catch, what does not, and in which order
the cases run."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.conformance.cases import Case, load_case_file
from turnout.conformance.mutants.hunt import Hunt, MutantReport, Plan

from ..support import fake_backend, make_runner, write_cases

pytestmark = pytest.mark.usefixtures("no_flag_file")

TWO_CASES = """
[[cases]]
id = "t.returns-two"
description = "returns two"
config = { language = "python", code = "return 2" }
expect = { output = 2 }

[[cases]]
id = "t.prints-nothing"
description = "prints nothing"
config = { language = "python", code = "return 2" }
expect = { stdout = "" }
"""


@pytest.fixture
def cases(tmp_path: Path) -> list[Case]:
    return load_case_file(write_cases(tmp_path / "cases", "t", TWO_CASES))


async def hunt(
    cases: list[Case], reference: type, mutant: type, plan: Plan, concurrency: int = 4
) -> MutantReport:
    runner = make_runner(reference, mutant, reference="ref")
    runner.concurrency = concurrency
    [catch] = await Hunt(runner, cases).run([runner.backend(mutant.id)], {mutant.id: plan})
    return MutantReport("ref", (catch,), 0)


class TestHunt:
    async def test_a_mutant_failing_a_case_is_caught_by_it(self, cases: list[Case]) -> None:
        """A mutant giving the wrong output is caught by the case expecting the right one."""
        report = await hunt(
            cases, fake_backend("ref", value=2), fake_backend("m", value=3), Plan("r")
        )
        [catch] = report.catches
        assert (catch.caught, catch.case_id) == (True, "t.returns-two")
        assert catch.reason == "output: expected 2, got 3"
        assert report.ok

    async def test_a_mutant_passing_every_case_is_not_caught(self, cases: list[Case]) -> None:
        """A mutant the whole suite passes on is reported as not caught, and the run fails."""
        report = await hunt(
            cases, fake_backend("ref", value=2), fake_backend("m", value=2), Plan("r")
        )
        [catch] = report.catches
        assert (catch.caught, catch.reason) == (False, "the whole suite passed on it")
        assert not report.ok
        assert "NOT CAUGHT by any case" in catch.line()

    async def test_a_catch_the_reference_fails_too_does_not_count(self, cases: list[Case]) -> None:
        """A case that fails on the reference as well proves nothing about the mutant."""
        report = await hunt(
            cases, fake_backend("ref", value=3), fake_backend("m", value=3), Plan("r")
        )
        [catch] = report.catches
        assert not catch.caught
        assert catch.void is not None
        assert catch.void.startswith("it does not pass on ref either (fail: output: expected 2")

    async def test_a_catch_that_does_not_show_the_rule_does_not_count(
        self, cases: list[Case]
    ) -> None:
        """A mutant must be caught by the problem its rule names, not by another one."""
        plan = Plan("r", shows="stdout")
        report = await hunt(cases, fake_backend("ref", value=2), fake_backend("m", value=3), plan)
        [catch] = report.catches
        assert not catch.caught
        assert (
            catch.void == "none of its problems mentions 'stdout', so it failed for another reason"
        )

    async def test_the_cases_tried_first_run_before_the_rest(self, cases: list[Case]) -> None:
        """With a case named in tries_first, that case is the catch even where another case
        earlier in the suite would catch the mutant as well."""
        mutant = fake_backend("m", value=3, stdout="noise\n")
        plan = Plan("r", first=("t.prints-nothing",))
        report = await hunt(cases, fake_backend("ref", value=2), mutant, plan)
        assert report.catches[0].case_id == "t.prints-nothing"

    async def test_a_mutants_run_stops_at_its_first_catch(self, cases: list[Case]) -> None:
        """Once a case has caught the mutant, no further case runs on it."""
        mutant = fake_backend("m", value=3, stdout="noise\n")
        await hunt(cases, fake_backend("ref", value=2), mutant, Plan("r"), concurrency=1)
        hunted = [r for r in mutant.executions if r.labels.get("suite") == "conformance"]
        assert len(hunted) == 1
