"""The sections that measure turnout-serve and turnout-temporal: listed in the bench's
order, and skipped with the reason (never failing the bench) where the plugin is absent."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterator

import pytest
from turnout_devtools.bench import SECTIONS
from turnout_devtools.bench.harness import BenchContext
from turnout_devtools.bench.sections import SectionResult
from turnout_devtools.bench.surfaces import service, temporal


@pytest.fixture
def context() -> Iterator[BenchContext]:
    """A one-iteration context, its directory removed after."""
    made = BenchContext(iterations=1)
    try:
        yield made
    finally:
        made.close()


def test_the_plugin_sections_run_last_and_use_the_local_server() -> None:
    """`service` then `temporal` close the built-in list, each asking for the local
    E2B-compatible server (both measure e2b beside local-subprocess)."""
    assert list(SECTIONS)[-2:] == ["service", "temporal"]
    assert SECTIONS["service"] == (service, True)
    assert SECTIONS["temporal"] == (temporal, True)


@pytest.mark.parametrize(
    ("section", "package", "distribution"),
    [
        (service, "turnout_serve", "turnout-serve"),
        (temporal, "turnout_temporal", "turnout-temporal"),
    ],
)
async def test_without_its_plugin_the_section_is_skipped_naming_the_distribution(
    monkeypatch: pytest.MonkeyPatch,
    context: BenchContext,
    section: Callable[[BenchContext], Awaitable[SectionResult]],
    package: str,
    distribution: str,
) -> None:
    """The plugin's package not importable: the section reports itself skipped, naming the
    distribution to install, and measures nothing."""
    monkeypatch.setitem(sys.modules, package, None)
    result = await section(context)
    assert result.skipped == f"{distribution} is not installed ({package} not found)"
    assert (result.figures, result.bounds) == ({}, [])
