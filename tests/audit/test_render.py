"""The audit for people: the terminal table and audit.md."""

from __future__ import annotations

from turnout.audit.render import render_markdown, render_text
from turnout.audit.report import AuditReport

from .support import audited, target

NODES = ["py/undefined-global/positive", "js/nondeterminism/positive", "js/context-global/positive"]


def report() -> AuditReport:
    return AuditReport(target(), [audited(node_id) for node_id in NODES])


def test_text_lists_blockers_first_with_line_and_fix() -> None:
    """The table starts with the blocked node, each finding with its line, a fix below it."""
    text = render_text(report())
    lines = text.splitlines()
    assert lines[1].strip() == "1 ready, 1 attention, 1 blocked"
    first = next(line for line in lines if line.startswith("blocked"))
    assert "py/undefined-global/positive" in first
    assert " 1  undefined-global: reads `shared`" in first
    assert lines[lines.index(first) + 1].strip().startswith("fix: pass `shared`")


def test_text_counts_notes_without_listing_them() -> None:
    """Info findings (a global from the context) are counted, not listed in the table."""
    text = render_text(report())
    assert "context-global" not in text.split("findings by type")[0]
    assert "(1 notes not shown above" in text


def test_text_ends_with_the_flag_file_snippet() -> None:
    """The suggested shadow_ignore rules and override are printed as TOML to merge."""
    text = render_text(report())
    assert '"$.output.sagaId",' in text
    assert 'workflows = { "undefined-global" = "off" }' in text


def test_markdown_has_totals_every_node_with_findings_and_suggestions() -> None:
    """audit.md: the summary, a row per finding type, a section per node, the TOML."""
    markdown = render_markdown(report())
    assert "**3 nodes: 1 ready, 1 attention, 1 blocked.**" in markdown
    assert "| `undefined-global` | a global no input and no runtime defines | 1 | 1 |" in markdown
    assert "### `js/context-global/positive`: ready" in markdown
    assert "```toml\n[environments.production]\nshadow_ignore = [" in markdown
