"""parity.html: verdict first, the heat map of themes by backend, divergences with their
reasons, the case table, every string from the data escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from turnout.reports.html.page import render_page
from turnout.reports.html.parity import build_parity_page, verdict_banner

from .. import samples


def spec_of(page_html: str, number: int) -> dict[str, Any]:
    """The JSON spec of chart `number` on the page."""
    found = re.search(rf'id="chart-{number}-spec">(.*?)</script>', page_html, re.S)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


@pytest.fixture(scope="module")
def hostile_html() -> str:
    return render_page(build_parity_page(samples.hostile_report().to_dict()))


def test_write_adds_parity_html_next_to_the_json_and_markdown(tmp_path: Path) -> None:
    """`ParityReport.write` writes parity.html beside parity.json and parity.md."""
    samples.hostile_report().write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "parity.html",
        "parity.json",
        "parity.md",
    ]


def test_markup_from_the_data_is_escaped(hostile_html: str) -> None:
    """A `<script>` in a case id, a theme and a message never reaches the page as markup."""
    assert samples.HOSTILE not in hostile_html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in hostile_html


def test_the_heat_map_colours_each_theme_by_its_worst_result(hostile_html: str) -> None:
    """Per theme and backend: pass 0, skipped 1, accepted divergence 2, unexpected 3."""
    heat = spec_of(hostile_html, 1)["data"][0]
    rows = dict(zip(heat["y"], heat["z"], strict=True))
    assert rows["outputs"] == [0, 0]
    assert rows["memory"] == [0, 1]
    assert rows["errors"] == [0, 2]
    assert rows["timeouts"] == [0, 3]
    assert rows["all"] == [0, 3]
    assert heat["x"] == ["local-subprocess", "e2b"]


def test_each_divergence_is_listed_with_its_reason(hostile_html: str) -> None:
    """Failures, errors and accepted divergences each appear with the reason given."""
    section = hostile_html.split("Divergences (3)")[1].split("<h2>")[0]
    assert "sandbox died" in section
    assert "the sandbox&#x27;s stack trace names its own file" in section
    assert section.index("timeouts.hang") < section.index("errors.stack")


PARTIAL = {"partial": True, "filters": ["--theme config"]}
WHOLE = {"partial": False, "filters": []}


@pytest.mark.parametrize(
    ("verdict", "selection", "state", "heading"),
    [
        ({"decided": True, "deletable": True, "line": "VERDICT: can go"}, WHOLE, "ok", "can be"),
        ({"decided": True, "deletable": False, "line": "VERDICT: not yet"}, None, "fail", "cannot"),
        (
            {"decided": False, "deletable": False, "line": "VERDICT: undecided"},
            None,
            "neutral",
            "No",
        ),
        ({"decided": False, "line": "VERDICT: none: partial run"}, PARTIAL, "neutral", "Partial"),
        ({"decided": True, "deletable": True}, PARTIAL, "neutral", "Partial run"),
        (None, PARTIAL, "neutral", "No verdict"),
    ],
)
def test_the_banner_says_what_the_verdict_says(
    verdict: dict[str, Any] | None, selection: dict[str, Any] | None, state: str, heading: str
) -> None:
    """Green only for a decided, deletable verdict of a whole run; a partial selection or a
    missing verdict is grey."""
    banner = verdict_banner(verdict, selection)
    assert banner.state == state
    assert heading in banner.heading


def test_a_report_without_a_verdict_still_renders() -> None:
    """An older or partial parity.json without a verdict renders, saying there is none."""
    data = samples.hostile_report().to_dict()
    del data["verdict"]
    assert "No verdict" in render_page(build_parity_page(data))


def test_a_host_secret_quoted_by_a_result_is_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host secret that a case's message quotes is scrubbed from parity.html, in the
    tables and in the chart data, as from parity.json and parity.md."""
    secret = "planted-secret-value-0123456789"
    monkeypatch.setenv("TURNOUT_REPORT_TEST_API_KEY", secret)
    data = samples.hostile_report().to_dict()
    data["items"][4]["theme"] = f"theme {secret}"
    data["items"][4]["results"]["e2b"]["reason"] = f"the code printed {secret}"
    page = render_page(build_parity_page(data))
    assert secret not in page
    assert "the code printed [redacted]" in page
