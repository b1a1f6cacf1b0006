"""Findings about a node's stored config: what turnout refuses, what it warns about, and
what is stored but does nothing.

The rules are the config model's own: `parse_config` refuses a config (its
`ValidationError` names the field and what is allowed) and lists warnings (unknown
fields, a timeout under 1000 ms); this module only sorts them into finding types and adds
what the target changes (a language it does not run, advisory fields it does not honour).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from turnout.audit.findings import Finding
from turnout.audit.target import AuditTarget
from turnout.errors import ValidationError
from turnout.models import CodeNodeConfig, parse_config

__all__ = ["ConfigVerdict", "check_config"]

_ADVISORY = {
    "memory": "memory (MB) was never enforced",
    "allowNetworkAccess": "allowNetworkAccess was never enforced",
    "allowFileSystemAccess": "allowFileSystemAccess was never enforced",
}


@dataclass
class ConfigVerdict:
    """The findings, and the parsed config when turnout accepts it."""

    findings: list[Finding] = field(default_factory=list)
    config: CodeNodeConfig | None = None


def check_config(raw: Mapping[str, Any], target: AuditTarget) -> ConfigVerdict:
    """Judge one stored config against `target`."""
    verdict = ConfigVerdict()
    try:
        config = parse_config(dict(raw))
    except ValidationError as error:
        verdict.findings.append(_refused(raw, error, target))
        return verdict
    verdict.config = config
    if config.language not in target.capabilities.languages:
        verdict.findings.append(
            Finding(
                "language-unsupported",
                "blocker",
                f"language {config.language!r}: {target.name} does not run it",
                f"keep the node on legacy, or rewrite it in "
                f"{' or '.join(sorted(target.capabilities.languages))}",
            )
        )
    verdict.findings.extend(_warnings(config))
    verdict.findings.extend(_advisory(raw, target))
    if raw.get("outputVariable") == "":
        verdict.findings.append(
            Finding(
                "output-variable",
                "info",
                'outputVariable is "" (the same as unset: the result is not wrapped)',
                "remove the empty outputVariable",
            )
        )
    return verdict


def _refused(raw: Mapping[str, Any], error: ValidationError, target: AuditTarget) -> Finding:
    allowed = f" (allowed: {error.allowed})" if error.allowed else ""
    if error.field == "language":
        language = raw.get("language")
        runs = " or ".join(sorted(target.capabilities.languages))
        fix = (
            "remove the type annotations and store the node as javascript"
            if language == "typescript"
            else f"keep the node on legacy (turnout runs {runs}), or rewrite it in one of them"
        )
        return Finding(
            "language-unsupported",
            "blocker",
            f"language {language!r}: {error.problem}{allowed}",
            fix,
        )
    kind = "output-variable" if error.field.startswith("outputVariable") else "config-invalid"
    return Finding(
        kind,
        "blocker",
        f"{error.field}: {error.problem}{allowed}",
        f"store a valid {error.field}" + (f": {error.allowed}" if error.allowed else ""),
    )


def _warnings(config: CodeNodeConfig) -> list[Finding]:
    """`parse_config`'s own warnings, each as the finding type it is about."""
    findings = []
    for warning in config.warnings:
        if any(repr(name) in warning for name in config.unknown_fields):
            findings.append(
                Finding(
                    "unknown-field",
                    "info",
                    warning,
                    "remove the field if nothing else reads it (turnout never will)",
                )
            )
        elif "timeout" in warning:
            findings.append(
                Finding(
                    "timeout-units",
                    "attention",
                    warning,
                    f"store timeout: {config.timeout * 1000} if seconds were meant",
                )
            )
        else:
            findings.append(Finding("advisory-field", "info", warning, "see the message"))
    return findings


def _advisory(raw: Mapping[str, Any], target: AuditTarget) -> list[Finding]:
    capabilities = target.capabilities
    holds = {
        "memory": f"{capabilities.memory_limit_mb} MB"
        if capabilities.memory_limit_mb is not None
        else "the sandbox's own size",
        "allowNetworkAccess": "network access " + ("on" if capabilities.network_access else "off"),
        "allowFileSystemAccess": "a filesystem that "
        + ("persists" if capabilities.persistent_filesystem else "does not outlive an execution"),
    }
    return [
        Finding(
            "advisory-field",
            "info",
            f"{name} = {raw[name]!r}: {meaning}; on {target.name} what holds is {holds[name]}",
            f"nothing to change for the migration; remove {name} if nobody relies on it",
        )
        for name, meaning in _ADVISORY.items()
        if name in raw
    ]
