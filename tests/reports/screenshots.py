"""Regenerate the report screenshots in docs/images/ from this code.

Run by `python3 dev.py screenshots` (or `.venv/bin/python -m tests.reports.screenshots`
after a conformance run has written reports/conformance/parity.json). Each page is built
from real data, opened in headless Chromium like the browser tests open it, and its
first screen (title, verdict, the main charts) is saved:

- parity: reports/conformance/parity.json, the last full conformance run on both backends
  (`python3 dev.py test` or `python3 dev.py parity` writes it; `dev.py screenshots` runs
  it where missing);
- rollout: the shadow-then-live migration log of `samples.rollout_log`, read by the
  report's own reader.

The bench and chaos pages, the developer tools', are shot by
tests/plugins/devtools/screenshots.py with `shoot` below (`dev.py screenshots` runs both).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import sync_playwright

from turnout.reports.html.page import write_page
from turnout.reports.html.parity import build_parity_page
from turnout.reports.html.rollout import write_rollout_html
from turnout.reports.timeline import read_with_timeline

from . import samples
from .browser import FLAGS, NO_CHROMIUM, ReportBrowser, chromium_path

IMAGES = samples.ROOT / "docs" / "images"
WORK = samples.ROOT / "reports" / "screenshots"
PARITY_JSON = samples.ROOT / "reports" / "conformance" / "parity.json"
#: How much of each page the docs show: the title, the verdict and the main charts.
HEIGHTS = {"parity": 1500, "rollout": 1900}


def build_pages() -> dict[str, Path]:
    """Each report's page under reports/screenshots/, from the data above."""
    if not PARITY_JSON.exists():
        raise SystemExit(f"{PARITY_JSON} is missing: run `python3 dev.py parity` first")
    WORK.mkdir(parents=True, exist_ok=True)
    parity = json.loads(PARITY_JSON.read_text(encoding="utf-8"))
    log = samples.rollout_log(WORK / "production.log").relative_to(samples.ROOT)
    rollout, timeline = read_with_timeline(log)  # named relative to the checkout
    return {
        "parity": write_page(build_parity_page(parity), WORK / "parity.html"),
        "rollout": write_rollout_html(rollout, timeline, WORK / "rollout.html"),
    }


def shoot(build: Callable[[], dict[str, Path]], heights: dict[str, int]) -> None:
    """Build the pages (from the checkout's root), then save the first `heights[name]`
    pixels of each as docs/images/NAME-report.png."""
    os.chdir(samples.ROOT)
    executable = chromium_path()
    if executable is None:
        raise SystemExit(NO_CHROMIUM)
    pages = build()
    IMAGES.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), args=FLAGS)
        try:
            opener = ReportBrowser(browser)
            for name, path in pages.items():
                image = IMAGES / f"{name}-report.png"
                opened = opener.open(path, image, full_page=False, height=heights[name])
                if opened.console_errors or opened.charts_rendered != opened.charts_expected:
                    raise SystemExit(f"{name}: {opened.console_errors or 'charts not drawn'}")
                print(f"wrote {image.relative_to(samples.ROOT)}", flush=True)
        finally:
            browser.close()


def main() -> None:
    shoot(build_pages, HEIGHTS)


if __name__ == "__main__":
    main()
