"""The catalogue of mutants: complete, documented, and each pointed at real cases."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from turnout.backend import BackendSettings, truncation_marker
from turnout.conformance.cases import load_cases
from turnout.conformance.mutants import MUTANTS, MutantBackend
from turnout.conformance.mutants.catalog import (
    CancellationTranslated,
    FilesDropped,
    InputsSpliced,
    TruncationUnmarked,
    UserFailureRaised,
)
from turnout.contract import prepare_request
from turnout.errors import InfrastructureError
from turnout.models import ExecutionRequest, ExecutionResult, parse_config

from ..support import fake_backend, registry_of

DOCS = Path(__file__).resolve().parents[3] / "docs" / "conformance.md"
AUTHOR_PAGE = DOCS.with_name("writing-a-backend.md")


def documented_mutants() -> list[str]:
    """The mutant ids in the table of docs/conformance.md's mutants section."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Mutants", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(mutant-[a-z-]+)` \|", section, re.M)


def mutants_per_rule() -> dict[str, list[str]]:
    """The numbered rules of writing-a-backend.md's "The rules", each with the mutant ids
    its text names."""
    text = AUTHOR_PAGE.read_text(encoding="utf-8")
    section = text.split("## The rules", 1)[1].split("\n## ", 1)[0]
    rules = re.split(r"^(?=\d+\. )", section, flags=re.M)[1:]
    return {rule.split("**")[1]: re.findall(r"`(mutant-[a-z-]+)`", rule) for rule in rules}


class TestCatalog:
    def test_every_documented_mutant_exists_and_every_mutant_is_documented(self) -> None:
        """docs/conformance.md lists exactly the mutants the catalogue holds, once each."""
        assert sorted(documented_mutants()) == sorted(mutant.id for mutant in MUTANTS)

    def test_every_rule_of_the_author_page_has_a_mutant(self) -> None:
        """Each numbered rule a backend author reads names at least one mutant that breaks it."""
        rules = mutants_per_rule()
        assert len(rules) >= 9
        assert [rule for rule, mutants in rules.items() if not mutants] == []

    def test_every_mutant_is_named_by_a_rule_of_the_author_page(self) -> None:
        """Every mutant of the catalogue is named under the rule it breaks, and only real
        mutants are named."""
        named = {mutant for mutants in mutants_per_rule().values() for mutant in mutants}
        assert named == {mutant.id for mutant in MUTANTS}

    def test_every_mutant_names_its_rule_its_cases_and_what_they_show(self) -> None:
        """A mutant without a rule, first cases or an expected problem proves nothing clear."""
        incomplete = [m.id for m in MUTANTS if not (m.rule and m.tries_first and m.shows)]
        assert incomplete == []

    def test_the_cases_a_mutant_tries_first_exist(self) -> None:
        """Each case named in tries_first is a case of the packaged suite."""
        known = {case.id for case in load_cases()}
        unknown = {m.id: c for m in MUTANTS for c in m.tries_first if c not in known}
        assert unknown == {}

    def test_ids_are_unique(self) -> None:
        """Two mutants never share an id (the registry would refuse the second)."""
        ids = [mutant.id for mutant in MUTANTS]
        assert len(ids) == len(set(ids))


def bound(mutant: type[MutantBackend], sleep_s: float = 0.0) -> MutantBackend:
    """The mutant over a fake reference declaring a 1024-byte output cap, answering after
    `sleep_s`."""
    return mutant.bind(registry_of(fake_backend("ref", sleep_s=sleep_s)), "ref")(BackendSettings())


def python_request(code: str = "x", inputs: dict[str, str] | None = None) -> ExecutionRequest:
    """A prepared request for a Python node, as the engine would give it."""
    config = parse_config({"language": "python", "code": code})
    return prepare_request(config, inputs or {}, execution_id="e", max_result_bytes=10)


class TestMutantHooks:
    def test_truncation_unmarked_drops_only_the_marker(self) -> None:
        """The kept bytes stay; only the marker line goes, and the flag stays set."""
        marker = truncation_marker("stdout", 1024)
        cut = ExecutionResult(stdout="x" * 1024 + marker, stdout_truncated=True)
        request = prepare_request(
            parse_config({"language": "python", "code": "x"}),
            {},
            execution_id="e",
            max_result_bytes=10,
        )
        result = bound(TruncationUnmarked).result(request, cut)
        assert (result.stdout, result.stdout_truncated) == ("x" * 1024, True)

    def test_inputs_spliced_puts_the_payload_text_into_the_program(self) -> None:
        """The launcher carries the payload as a string literal instead of base64."""
        config = parse_config({"language": "python", "code": "return path"})
        request = prepare_request(
            config, {"path": "C:\\new"}, execution_id="e", max_result_bytes=10
        )
        spliced = bound(InputsSpliced).request(request)
        assert spliced.program.startswith(
            request.program[: request.program.rindex("__turnout_run")]
        )
        assert "'''{" in spliced.program
        assert "C:\\\\new" in spliced.program

    def test_user_failure_raised_raises_on_a_nonzero_exit(self) -> None:
        """A program that exited with status 5 becomes a retryable InfrastructureError."""
        exited = ExecutionResult(stdout="going\n", exit_code=5)
        with pytest.raises(InfrastructureError, match="exited with status 5") as raised:
            bound(UserFailureRaised).result(python_request(), exited)
        assert raised.value.retryable

    def test_user_failure_raised_returns_a_zero_exit(self) -> None:
        """A program that exited with status 0 is returned as it was."""
        exited = ExecutionResult(stdout="fine\n", exit_code=0)
        assert bound(UserFailureRaised).result(python_request(), exited) == exited

    def test_files_dropped_sends_no_files(self) -> None:
        """A payload large enough to travel as a file reaches the reference without it."""
        request = python_request("return big", {"big": "x" * (300 * 1024)})
        assert request.files
        assert bound(FilesDropped).request(request).files == {}

    async def test_cancellation_translated_raises_an_infrastructure_error(self) -> None:
        """A cancelled call ends with InfrastructureError instead of CancelledError."""
        mutant = bound(CancellationTranslated, sleep_s=30)
        call = asyncio.ensure_future(mutant.execute(python_request()))
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(InfrastructureError, match="interrupted"):
            await call
        await mutant.aclose()
