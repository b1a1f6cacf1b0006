"""The conformance suite as pytest tests. Import it into a test module of your own:

    from turnout.conformance.suite import *  # noqa: F403

and run pytest (the plugin in `turnout.conformance.pytest_plugin` parametrizes these tests
by case and backend; see its docstring for the options). The tests are:

- `test_backend_is_available`: each backend under test can be constructed here;
- `test_case`: each case's expectations hold on each backend, and its normalized envelope
  equals the reference backend's (skipped where the backend lacks a required capability;
  a strict expected failure where the divergence ledger lists it);
- `test_property_*`: Hypothesis properties (JSON contexts round-trip, printed text comes
  back exactly, returned JSON equals what was given) on each backend and language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from turnout.conformance.case_schema import LANGUAGES
from turnout.conformance.expectations import Observation
from turnout.conformance.pytest_plugin import PluginState
from turnout.conformance.runner import CaseResult

__all__ = [
    "test_backend_is_available",
    "test_case",
    "test_property_context_round_trips",
    "test_property_printed_text_is_exact",
    "test_property_returned_value_is_exact",
]


def test_backend_is_available(conformance_backend: str, conformance_state: PluginState) -> None:
    """The backend under test can be constructed in this environment."""
    backend = conformance_state.session.runner.backend(conformance_backend)
    if backend.unavailable is not None:
        pytest.fail(f"{conformance_backend} is unavailable: {backend.unavailable}", pytrace=False)


def test_case(
    conformance_case: tuple[str, str],
    conformance_results: dict[tuple[str, str], CaseResult],
) -> None:
    """The case holds on the backend and agrees with the reference backend."""
    result = conformance_results[conformance_case]
    status = result.raw_status or result.status
    if status == "skip":
        pytest.skip(result.reason)
    if status in ("fail", "error"):
        details = list(result.problems) or [result.reason]
        details += [f"differs from the reference: {d}" for d in result.differences]
        pytest.fail("\n".join(details), pytrace=False)


def _node_runner(state: PluginState, backend_id: str) -> Callable[..., Observation]:
    runner = state.session.runner

    def run(config: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
        return state.loop.run(runner.run_node(backend_id, config, context))

    return run


def _property(
    state: PluginState,
    backend_id: str,
    language: str,
    make_strategy: Callable[[str], Any],
    check: Callable[..., None],
) -> None:
    """Run `check` over `make_strategy(language)` on one backend, with bounded examples."""
    pytest.importorskip("hypothesis", reason="the properties need Hypothesis")
    from hypothesis import HealthCheck, given, settings

    backend = state.session.runner.backend(backend_id)
    if backend.capabilities is None:
        pytest.skip(f"{backend_id} is unavailable: {backend.unavailable}")
    if language not in backend.capabilities.languages:
        pytest.skip(f"{backend_id} does not declare {language}")
    run = _node_runner(state, backend_id)

    @settings(
        max_examples=state.config.getoption("conformance_examples"),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(make_strategy(language))
    def holds(value: Any) -> None:
        check(run, language, value)

    holds()


@pytest.mark.parametrize("language", LANGUAGES)
def test_property_context_round_trips(
    conformance_backend: str, language: str, conformance_state: PluginState
) -> None:
    """Any JSON context returned as `inputs` comes back exactly."""
    from turnout.conformance import properties

    _property(
        conformance_state,
        conformance_backend,
        language,
        properties.json_contexts,
        properties.check_context_round_trip,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_property_printed_text_is_exact(
    conformance_backend: str, language: str, conformance_state: PluginState
) -> None:
    """Any text the code writes to stdout is the envelope's stdout, unchanged."""
    from turnout.conformance import properties

    _property(
        conformance_state,
        conformance_backend,
        language,
        lambda _language: properties.printable_text(),
        properties.check_printed_text,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_property_returned_value_is_exact(
    conformance_backend: str, language: str, conformance_state: PluginState
) -> None:
    """Any JSON value given as an input and returned is the output, exactly."""
    from turnout.conformance import properties

    _property(
        conformance_state,
        conformance_backend,
        language,
        properties.json_values,
        properties.check_returned_value,
    )
