"""Config findings: what turnout refuses, what its config model warns about, what is
stored but enforced by nothing, in both languages."""

from __future__ import annotations

import pytest

from turnout.audit.audit import audit_node
from turnout.audit.config_checks import check_config

from .support import audited, capabilities, source, target

CONFIG_TYPES = ["timeout-units", "unknown-field", "advisory-field"]


@pytest.mark.parametrize("language", ["js", "py"])
@pytest.mark.parametrize("kind", CONFIG_TYPES)
def test_config_finding_positive_and_negative(language: str, kind: str) -> None:
    """The node stored with the problem has the finding; its twin without it has none."""
    assert audited(f"{language}/{kind}/positive").of_type(kind)
    assert audited(f"{language}/{kind}/negative").of_type(kind) == []


def test_a_timeout_in_seconds_says_what_to_store() -> None:
    """`timeout: 30` (the editor's seconds) is 30 ms: the fix names 30000."""
    [finding] = audited("py/timeout-units/positive").of_type("timeout-units")
    assert finding.severity == "attention"
    assert "store timeout: 30000" in finding.fix


def test_unknown_fields_come_from_the_config_models_warnings() -> None:
    """memoryLimit is reported with the config model's own warning text."""
    [finding] = audited("js/unknown-field/positive").of_type("unknown-field")
    assert finding.message == "unknown config field 'memoryLimit' ignored"
    assert finding.severity == "info"


def test_advisory_fields_say_what_holds_on_the_target() -> None:
    """allowNetworkAccess: false is not a restriction; the target's network access holds."""
    found = audited("js/advisory-field/positive").of_type("advisory-field")
    messages = sorted(f.message for f in found)
    assert any("allowNetworkAccess = False" in m and "network access on" in m for m in messages)
    assert any(m.startswith("memory = 256") for m in messages)


@pytest.mark.parametrize("language", ["shell", "ruby", "typescript"])
def test_a_language_turnout_refuses_blocks(language: str) -> None:
    """shell, ruby and typescript nodes (the platform's schema accepts them) are blocked."""
    audit = audit_node(source({"language": language, "code": "echo hi"}), target())
    [finding] = audit.of_type("language-unsupported")
    assert (finding.severity, audit.status) == ("blocker", "blocked")


def test_a_typescript_node_is_told_to_drop_its_types() -> None:
    """The fix for a typescript node is to store it as JavaScript without annotations."""
    config = {"language": "typescript", "code": "const n: number = 1;\nreturn n;"}
    [finding] = audit_node(source(config), target()).of_type("language-unsupported")
    assert "store the node as javascript" in finding.fix


def test_a_language_the_target_does_not_run_blocks() -> None:
    """A Python node is blocked on a target that only declares JavaScript."""
    only_js = target(capabilities(languages=frozenset({"javascript"})))
    verdict = check_config({"language": "python", "code": "result = 1"}, only_js)
    assert [f.type for f in verdict.findings] == ["language-unsupported"]


def test_a_language_the_target_runs_is_fine() -> None:
    """A JavaScript node on a target that runs JavaScript has no language finding."""
    verdict = check_config({"language": "javascript", "code": "return 1"}, target())
    assert verdict.findings == []


def test_a_config_turnout_refuses_names_the_field() -> None:
    """A timeout stored as text is refused: the finding names the field and what is allowed."""
    verdict = check_config({"language": "python", "code": "result = 1", "timeout": "30"}, target())
    [finding] = verdict.findings
    assert (finding.type, finding.severity) == ("config-invalid", "blocker")
    assert finding.message.startswith("timeout: ")
    assert "milliseconds" in finding.fix


def test_an_invalid_output_variable_blocks() -> None:
    """outputVariable `my-summary` is not an identifier: refused, so the node is blocked."""
    config = {"language": "javascript", "code": "return 1", "outputVariable": "my-summary"}
    [finding] = check_config(config, target()).findings
    assert (finding.type, finding.severity) == ("output-variable", "blocker")


def test_an_empty_output_variable_is_a_note() -> None:
    """outputVariable "" means unset: a note to remove it, nothing more."""
    config = {"language": "python", "code": "result = 1", "outputVariable": ""}
    [finding] = check_config(config, target()).findings
    assert (finding.type, finding.severity) == ("output-variable", "info")


def test_a_valid_output_variable_that_is_returned_is_fine() -> None:
    """outputVariable `summary` with a returned value has no output-variable finding."""
    assert audited("js/output-variable/negative").of_type("output-variable") == []
