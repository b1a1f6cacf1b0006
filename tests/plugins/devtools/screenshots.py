"""Regenerate the bench and chaos screenshots in docs/images/ from this code.

Run by `python3 dev.py screenshots` (after tests/reports/screenshots.py, whose `shoot`
opens each page in headless Chromium and saves its first screen):

- bench: the newest recorded run in benchmarks/results/;
- chaos: a real `turnout chaos` run of 100 executions at concurrency 20 (the CI size).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from turnout_devtools.html.bench import write_bench_html
from turnout_devtools.html.chaos import write_chaos_html

from ...reports.screenshots import WORK, shoot
from . import samples

#: How much of each page the docs show: the title, the verdict and the main charts.
HEIGHTS = {"bench": 1900, "chaos": 2000}


def _chaos_json() -> dict[str, object]:
    """A real chaos run's `--json` report (its exit status says whether properties held;
    the page shows either)."""
    turnout = Path(sys.executable).with_name("turnout")
    command = [str(turnout), "chaos", "--executions", "100", "--concurrency", "20", "--json"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    data: dict[str, object] = json.loads(completed.stdout)
    return data


def build_pages() -> dict[str, Path]:
    """Each page under reports/screenshots/, from the data above."""
    WORK.mkdir(parents=True, exist_ok=True)
    return {
        "bench": write_bench_html(samples.bench_report(), WORK / "bench.html"),
        "chaos": write_chaos_html(_chaos_json(), WORK / "chaos.html"),
    }


def main() -> None:
    shoot(build_pages, HEIGHTS)


if __name__ == "__main__":
    main()
