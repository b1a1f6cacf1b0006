"""Opening a report in headless Chromium, as a person would, and reading what happened.

Drives Debian's Chromium (`/usr/bin/chromium`, installed by `python3 dev.py sync`) through
playwright's Python package; playwright's own browser downloads are never used. A page is
opened from its file with every network request refused and recorded (a report must need
none), the page's console errors and uncaught exceptions collected, and the wait lasts
until the page says its charts are drawn (`data-charts-rendered` on `<html>`, set by
page.js once plotly.js has drawn every chart) or failed. A full-page screenshot is kept.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FLAGS",
    "NO_CHROMIUM",
    "Opened",
    "ReportBrowser",
    "assert_drawn_cleanly",
    "chromium_path",
]

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_CHROMIUM = (
    "Chromium is not installed and could not be: `python3 dev.py sync` installs Debian's "
    "chromium package (apt-get install -y chromium) when run as root"
)
#: Generous: plotly.js is 4.8 MB to parse, on two cores shared with other work.
TIMEOUT_MS = 90_000


def chromium_path() -> Path | None:
    """Debian's Chromium, if installed."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    return Path(found) if found else None


@dataclass
class Opened:
    """What opening one report showed."""

    charts_expected: int
    charts_rendered: int | None
    charts_failed: str | None
    drawn_svgs: int
    console_errors: list[str] = field(default_factory=list)
    network_requests: list[str] = field(default_factory=list)
    text: str = ""
    page: Any = None


def assert_drawn_cleanly(page: Opened, screenshot: Path) -> None:
    """The page drew each of its charts, logged no console error, asked for nothing on the
    network (everything it needs is inlined), and its screenshot shows something."""
    assert page.console_errors == []
    assert page.network_requests == []
    assert page.charts_failed is None
    assert page.charts_expected > 0
    assert page.charts_rendered == page.charts_expected
    assert page.drawn_svgs >= page.charts_expected
    assert screenshot.stat().st_size > 10_000


class ReportBrowser:
    """One Chromium for a test module; `open()` opens a report in a fresh page."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.pages: list[Any] = []

    def open(
        self, path: Path, screenshot: Path, *, full_page: bool = True, height: int = 900
    ) -> Opened:
        """Open `path`, wait for its charts, and save a screenshot of the whole page (or,
        without `full_page`, of its first `height` pixels)."""
        page = self.browser.new_page(viewport={"width": 1280, "height": height})
        self.pages.append(page)
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))

        def refuse(route: Any) -> None:
            requests.append(route.request.url)
            route.abort()

        page.route(lambda url: not url.startswith("file:"), refuse)
        page.goto(path.resolve().as_uri(), timeout=TIMEOUT_MS)
        page.wait_for_function(
            "document.documentElement.hasAttribute('data-charts-rendered')"
            " || document.documentElement.hasAttribute('data-charts-failed')",
            timeout=TIMEOUT_MS,
        )
        root = page.locator("html")
        rendered = root.get_attribute("data-charts-rendered")
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=full_page)
        return Opened(
            charts_expected=page.locator("[data-chart]").count(),
            charts_rendered=None if rendered is None else int(rendered),
            charts_failed=root.get_attribute("data-charts-failed"),
            drawn_svgs=page.locator("[data-chart] svg.main-svg").count(),
            console_errors=errors,
            network_requests=requests,
            text=page.inner_text("body"),
            page=page,
        )
