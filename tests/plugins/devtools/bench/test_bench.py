"""`turnout bench`: its arithmetic, its JSON report and its command line (a tiny subset).

Nothing here judges a measured time: the smoke tests only check that the bench runs and
reports every figure, ratio and bound in the documented shape.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

import pytest
from turnout_devtools.bench import SECTIONS, run_bench
from turnout_devtools.bench.render import render_text
from turnout_devtools.bench.startup import slowest_imports
from turnout_devtools.bench.stats import Bound, percentile, ratio, summarize
from turnout_devtools.cli import bench as bench_command


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="turnout")
    bench_command.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["bench", *argv])


class TestStats:
    def test_median_of_an_even_sample_is_the_mean_of_the_middle_two(self) -> None:
        """summarize() reports the usual median."""
        assert summarize([4.0, 1.0, 3.0, 2.0]).p50 == 2.5

    def test_p95_is_the_nearest_rank(self) -> None:
        """percentile() picks an observed value, never an interpolation."""
        values = [float(v) for v in range(1, 21)]
        assert percentile(values, 0.95) == 19.0

    def test_ratio_of_nothing_is_unknown(self) -> None:
        """A ratio over zero is None, which fails its bound."""
        assert ratio(1.0, 0.0) is None
        assert not Bound("x", "s", None, 1.0, True).met

    def test_bounds_compare_in_their_direction(self) -> None:
        """An at-most bound is met at its limit; an at-least bound below it is not."""
        assert Bound("x", "s", 1.1, 1.1, True).met
        assert not Bound("y", "s", 0.89, 0.9, False).met


def report(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema": 1,
        "mode": "quick",
        "duration_s": 1.0,
        "machine": {"cpus": 2, "python": "3.11", "platform": "x", "load_average": [1.0]},
        "sections": {"pool": {"duration_s": 1.0, "skipped": "no server", "figures": {}}},
        "bounds": [Bound("warm pool ratio", "pool", 0.5, 0.4, True).to_dict()],
        "all_bounds_met": False,
        "notes": [],
    }
    return {**base, **overrides}


class TestTextReport:
    def test_missed_bounds_and_skipped_sections_are_shown(self) -> None:
        """The text names each bound with its value, limit and verdict, and skipped sections."""
        text = render_text(report())
        assert "warm pool ratio" in text
        assert "MISSED" in text
        assert "[pool] skipped: no server" in text

    def test_each_figure_and_limit_shows_its_unit(self) -> None:
        """A count reads `0 modules`, a time `27.5 ms`, a ratio `0.500x`: never `0.000modules`."""
        bounds = [
            Bound("modules loaded", "startup", 0.0, 0.0, True, "modules").to_dict(),
            Bound("import CPU", "startup", 27.5, 150.0, True, "ms").to_dict(),
            Bound("warm pool ratio", "pool", 0.5, 0.4, True).to_dict(),
        ]
        text = render_text(report(bounds=bounds))
        for shown in ("0 modules", "<= 0 modules", "27.5 ms", "<= 150.0 ms", "0.500x", "<= 0.400x"):
            assert shown in text
        assert "0.000modules" not in text

    def test_the_columns_line_up_whatever_the_length_of_a_name(self) -> None:
        """The result column starts at the same place on every row, a long name included."""
        long_name = (
            "turnout run (local-subprocess, Python) on top of the node's interpreter, CPU p50"
        )
        bounds = [
            Bound(long_name, "startup", 597.6, 250.0, True, "ms").to_dict(),
            Bound("ratio", "pool", 0.5, 0.4, True).to_dict(),
        ]
        table = render_text(report(bounds=bounds)).splitlines()[2:5]
        assert table[0].startswith("bound")
        assert len({line.rindex("  ") for line in table}) == 1


class TestCommandLine:
    def test_unknown_section_is_an_argument_error(self) -> None:
        """--only with a name that is not a section exits with status 2."""
        with pytest.raises(SystemExit) as caught:
            parse("--only", "nope")
        assert caught.value.code == 2

    def test_json_report_of_a_tiny_run_has_every_field(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`turnout bench --only local-python --iterations 2 --json` prints one report."""
        arguments = parse("--only", "local-python", "--iterations", "2", "--json")
        assert arguments.handler(arguments) == 0
        data = json.loads(capsys.readouterr().out)
        assert (data["schema"], data["mode"]) == (1, "custom")
        assert data["machine"]["cpus"] >= 1
        section = data["sections"]["local-python"]
        assert section["skipped"] is None
        figures = section["figures"]
        assert figures["turnout_ms"]["n"] == 2
        assert figures["raw_ms"]["p50"] > 0
        assert isinstance(figures["ratio_p50"], float)
        (bound,) = data["bounds"]
        assert set(bound) == {"name", "section", "value", "comparison", "limit", "unit", "met"}
        assert (bound["section"], bound["limit"], bound["comparison"]) == (
            "local-python",
            1.1,
            "<=",
        )
        assert data["all_bounds_met"] == bound["met"]


class TestE2BSections:
    def test_pool_section_reports_pooled_and_unpooled_latency(self) -> None:
        """The warm-pool section runs against its own local server and reports both sides."""
        data = run_bench(only=["pool"], iterations=1)
        section = data["sections"]["pool"]
        assert section["skipped"] is None
        figures = section["figures"]
        assert figures["pooled_ms"]["n"] == figures["unpooled_ms"]["n"] == 1
        assert figures["pool_stats"]["hits"] >= 1
        assert [b["name"] for b in data["bounds"]] == [
            "warm pool p50 / no pool p50, create delay 150 ms"
        ]

    def test_every_section_has_a_name_the_cli_accepts(self) -> None:
        """The section names are the ones --only takes."""
        assert parse("--only", ",".join(SECTIONS)).only == list(SECTIONS)


class TestStartup:
    def test_slowest_imports_are_ranked_by_their_own_time(self) -> None:
        """`python -X importtime` lines are read, and ranked by self time, not cumulative."""
        text = (
            "import time: self [us] | cumulative | imported package\n"
            "import time:       120 |        120 |     json.decoder\n"
            "import time:       900 |       5000 |   pydantic\n"
            "import time:      3000 |       3100 | asyncio\n"
        )
        assert [entry["module"] for entry in slowest_imports(text, 2)] == ["asyncio", "pydantic"]
        assert slowest_imports(text)[1] == {
            "module": "pydantic",
            "self_us": 900,
            "cumulative_us": 5000,
        }

    def test_the_section_reports_cpu_figures_and_its_three_bounds(self) -> None:
        """A one-round startup section measures import turnout, the node's interpreter and
        turnout run in CPU time, lists the slowest imports, and judges three bounds."""
        data = run_bench(only=["startup"], iterations=1)
        figures = data["sections"]["startup"]["figures"]
        for name in ("python_pass", "import_turnout", "node_interpreter", "turnout_run"):
            assert figures["cpu_ms"][name]["n"] == 1
        assert isinstance(figures["cpu_run_added_ms"], float)
        assert len(figures["slowest_imports_of_run"]) == 12
        bounds = {bound["name"]: bound for bound in data["bounds"]}
        assert bounds["import turnout, CPU p50"]["limit"] == 150.0
        [run_bound] = [bound for name, bound in bounds.items() if name.startswith("turnout run")]
        assert (run_bound["limit"], run_bound["unit"]) == (250.0, "ms")
        assert run_bound["value"] == figures["cpu_run_added_ms"]
        assert len(bounds) == 3
        assert "turnout run adds" in render_text(data)

    def test_the_section_separates_the_floor_from_turnouts_own_share(self) -> None:
        """The floor (asyncio, pydantic, one model) is measured beside the run, and the run's
        added CPU splits into the floor's and turnout's own share beyond it."""
        data = run_bench(only=["startup"], iterations=1)
        figures = data["sections"]["startup"]["figures"]
        assert figures["cpu_ms"]["floor"]["n"] == 1
        cpu = {name: summary["p50"] for name, summary in figures["cpu_ms"].items()}
        floor_added = round(cpu["floor"] - cpu["python_pass"], 1)
        assert figures["cpu_floor_added_ms"] == floor_added
        beyond = round(figures["cpu_run_added_ms"] - floor_added, 1)
        assert figures["cpu_run_added_beyond_floor_ms"] == beyond
        assert "turnout run's own share beyond it" in render_text(data)


class TestLazySdk:
    def test_importing_turnout_and_listing_backends_loads_no_e2b_sdk(self) -> None:
        """`import turnout`, plugin discovery and describing the backends import no E2B SDK."""
        completed = subprocess.run(
            [sys.executable, "-m", "turnout_devtools.bench.child", "imports", "{}"],
            capture_output=True,
            text=True,
            check=True,
        )
        found = json.loads(completed.stdout.splitlines()[-1])
        assert found["sdk_after_import_turnout"] == []
        assert found["sdk_after_plugin_discovery"] == []
        assert found["sdk_after_describe_backends"] == []
        assert found["imports_sdk"] is False
