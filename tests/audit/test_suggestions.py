"""What the audit suggests for the rollout: ignore rules, overrides, packages."""

from __future__ import annotations

import pytest

from turnout.audit.audit import audit_node
from turnout.audit.suggestions import ignore_rule, suggest
from turnout.flags import parse_flags

from .support import audited, source, target


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        (("output",), "$.output"),
        (("output", "processedAt"), "$.output.processedAt"),
        (("output", "items", None, "at"), "$.output.items[*].at"),
        (("output", "rows", 2), "$.output.rows[2]"),
        (("output", "first name"), '$.output["first name"]'),
        (("output", 'say "hi"'), "$.output['say \"hi\"']"),
        (("stdout",), "$.stdout"),
    ],
)
def test_paths_become_rules_in_the_flag_files_syntax(path: tuple, rule: str) -> None:
    """Plain keys with dots, others quoted, indices and "any" in brackets."""
    assert ignore_rule(path) == rule


def test_every_suggestion_is_a_valid_flag_file() -> None:
    """The TOML snippet, merged into an environment, passes the flag file's own validation."""
    audits = [
        audited("js/nondeterminism/positive"),
        audited("py/nondeterminism/positive"),
        audited("py/undefined-global/positive"),
    ]
    snippet = suggest(audits).toml("production")
    text = "schema_version = 1\n" + snippet.replace(
        "[environments.production]\n", '[environments.production]\nstage = "shadow"\n', 1
    )
    flags = parse_flags(text)
    production = flags.environment("production")
    assert list(production.shadow_ignore) == [
        "$.output.generatedAt",
        "$.output.processedAt",
        "$.output.runId",
        "$.output.sagaId",
    ]
    assert production.overrides.workflows == {"undefined-global": "off"}


def test_blocked_workflows_stay_on_legacy_and_name_their_nodes() -> None:
    """A workflow with a blocked node gets an `off` override listing the node."""
    suggestions = suggest([audited("js/import-statement/positive")])
    assert suggestions.overrides == {"import-statement": ["js/import-statement/positive"]}
    assert suggest([audited("js/import-statement/negative")]).overrides == {}


def test_packages_to_add_use_the_install_name() -> None:
    """`import yaml` needs pyyaml, `import bs4` beautifulsoup4; a note-only miss adds none."""
    config = {"language": "python", "code": "import yaml\nimport bs4.element\nresult = 1"}
    suggestions = suggest([audit_node(source(config), target())])
    listed = suggestions.to_dict("production")["packages"]["python"]
    assert [(p["module"], p["install"]) for p in listed] == [
        ("bs4", "beautifulsoup4"),
        ("yaml", "pyyaml"),
    ]


def test_nothing_to_suggest_gives_an_empty_snippet() -> None:
    """A clean node calls for no flag-file change."""
    assert suggest([audited("js/network-call/negative")]).toml("production") == ""
