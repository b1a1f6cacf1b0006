"""What every mutant shares: a reference built through the registry, and `reap`."""

from __future__ import annotations

import asyncio

import pytest

from turnout.backend import BackendSettings
from turnout.conformance.mutants.base import MutantBackend, live_mutants, reap_all
from turnout.models import ExecutionRequest, ExecutionResult

from ..support import fake_backend, registry_of


class Recording(MutantBackend):
    id = "mutant-recording"
    rule = "a rule"
    reference_options = {"extra": 1}  # noqa: RUF012 - a test's fixed value


class TestMutantBackend:
    def test_the_reference_is_built_through_the_registry_with_the_mutants_options(self) -> None:
        """The reference comes from the registry by id, with the mutant's options merged in."""
        reference = fake_backend("ref")
        mutant = Recording.bind(registry_of(reference), "ref")(
            BackendSettings(options={"given": True})
        )
        assert isinstance(mutant.reference, reference)
        assert dict(mutant.reference.settings.options) == {"given": True, "extra": 1}

    def test_an_unbound_mutant_refuses_to_construct(self) -> None:
        """A mutant class needs `bind` to know its reference."""
        with pytest.raises(TypeError, match="not bound to a reference"):
            Recording(BackendSettings())

    async def test_reap_ends_what_was_left_running_and_closes_the_reference(self) -> None:
        """Work a mutant leaves running is cancelled by `reap`, and the reference closed."""
        closed: list[bool] = []
        reference = fake_backend("ref")
        reference.aclose = lambda self: asyncio.sleep(0, closed.append(True))  # type: ignore[method-assign]
        mutant = Recording.bind(registry_of(reference), "ref")(BackendSettings())
        left = mutant.leave(asyncio.sleep(60))
        assert mutant in live_mutants()
        await reap_all()
        assert left.cancelled()
        assert closed == [True]
        assert mutant not in live_mutants()

    async def test_the_hooks_change_request_and_result(self) -> None:
        """`request` and `result` see what goes to the reference and what comes back."""

        class Doubling(Recording):
            def request(self, request: ExecutionRequest) -> ExecutionRequest:
                return request.model_copy(update={"timeout_ms": 2 * request.timeout_ms})

            def result(self, request: ExecutionRequest, result: ExecutionResult) -> ExecutionResult:
                return result.model_copy(update={"stderr": "added"})

        reference = fake_backend("ref")
        mutant = Doubling.bind(registry_of(reference), "ref")(BackendSettings())
        request = ExecutionRequest(
            execution_id="e",
            language="python",
            program="x",
            result_path=".turnout/result.json",
            timeout_ms=1000,
            max_result_bytes=10,
        )
        result = await mutant.execute(request)
        assert (reference.executions[-1].timeout_ms, result.stderr) == (2000, "added")
        await mutant.reap()
