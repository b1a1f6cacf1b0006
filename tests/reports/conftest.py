"""Fixtures of the report tests: Chromium, shared by the browser tests of one module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .browser import FLAGS, NO_CHROMIUM, ReportBrowser, chromium_path


@pytest.fixture(scope="module")
def report_browser() -> Iterator[ReportBrowser]:
    """Debian's Chromium, headless, driven by playwright (skips, saying why, where it is
    not installed: `python3 dev.py sync` installs it)."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(NO_CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), args=FLAGS, timeout=60_000
        )
        try:
            yield ReportBrowser(browser)
        finally:
            browser.close()
