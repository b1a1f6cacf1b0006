"""What the rollout needs from an audit: flag-file settings and the template's packages.

- `shadow_ignore` rules for the envelope paths non-deterministic values reach, written in
  the flag file's syntax (docs/flags.md) and checked by its own parser;
- `overrides` keeping every workflow with a blocked node on legacy (stage `off`) while the
  rest moves;
- the modules the target's template must add, per language, with the nodes that need them
  (for Python with the pip name where it differs from the import name).

`toml` renders them as a snippet to paste into `[environments.<env>]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from turnout.audit.findings import EnvelopePath, NodeAudit
from turnout.flags.ignore import parse_ignore_rule
from turnout.packages import module_root

__all__ = ["PIP_NAMES", "Suggestions", "ignore_rule", "suggest"]

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")
#: Import names whose pip distribution is named differently.
PIP_NAMES = {
    "bs4": "beautifulsoup4",
    "cv2": "opencv-python",
    "dateutil": "python-dateutil",
    "docx": "python-docx",
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "pyyaml",
    "dotenv": "python-dotenv",
    "jwt": "pyjwt",
}


def ignore_rule(path: EnvelopePath) -> str:
    """The flag-file rule for one envelope path: `("output", "at")` -> `$.output.at`."""
    rule = "$"
    for segment in path:
        if segment is None:
            rule += "[*]"
        elif isinstance(segment, int):
            rule += f"[{segment}]"
        elif _PLAIN_KEY.fullmatch(segment):
            rule += f".{segment}"
        elif '"' not in segment:
            rule += f'["{segment}"]'
        elif "'" not in segment:
            rule += f"['{segment}']"
        else:
            rule += "[*]"
    parse_ignore_rule(rule)  # the flag file must accept what the audit suggests
    return rule


@dataclass
class Suggestions:
    """Rules and lists for the rollout, each with the nodes that call for it."""

    shadow_ignore: dict[str, list[str]] = field(default_factory=dict)
    overrides: dict[str, list[str]] = field(default_factory=dict)
    packages: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def to_dict(self, environment: str) -> dict[str, Any]:
        return {
            "shadow_ignore": [
                {"rule": rule, "nodes": nodes} for rule, nodes in self.shadow_ignore.items()
            ],
            "overrides": {"workflows": dict.fromkeys(self.overrides, "off")},
            "override_reasons": self.overrides,
            "packages": {
                language: [
                    {"module": module, "install": install_name(language, module), "nodes": nodes}
                    for module, nodes in modules.items()
                ]
                for language, modules in self.packages.items()
            },
            "toml": self.toml(environment),
        }

    def toml(self, environment: str) -> str:
        """The flag-file lines to merge into `[environments.<environment>]`."""
        lines = [f"[environments.{environment}]"]
        if self.shadow_ignore:
            lines.append("shadow_ignore = [")
            lines.extend(f"    {json.dumps(rule)}," for rule in self.shadow_ignore)
            lines.append("]")
        if self.overrides:
            pairs = ", ".join(f'{json.dumps(workflow)} = "off"' for workflow in self.overrides)
            lines += [f"[environments.{environment}.overrides]", f"workflows = {{ {pairs} }}"]
        return "\n".join(lines) + "\n" if len(lines) > 1 else ""


def install_name(language: str, module: str) -> str:
    """What to install for an import name (pip or npm)."""
    return PIP_NAMES.get(module, module) if language == "python" else module


def suggest(audits: Sequence[NodeAudit]) -> Suggestions:
    """The suggestions an audit's findings call for."""
    suggestions = Suggestions()
    for audit in audits:
        for rule in node_rules(audit):
            _add(suggestions.shadow_ignore, rule, audit.node.id)
        if audit.status == "blocked":
            _add(suggestions.overrides, audit.node.workflow, audit.node.id)
        for finding in audit.of_type("module-missing"):
            if finding.module and finding.effective_severity != "info":
                language = audit.node.language
                root = module_root(
                    "python" if language == "python" else "javascript", finding.module
                )
                modules = suggestions.packages.setdefault(language, {})
                _add(modules, root, audit.node.id)
    suggestions.shadow_ignore = dict(sorted(suggestions.shadow_ignore.items()))
    suggestions.overrides = dict(sorted(suggestions.overrides.items()))
    suggestions.packages = {
        language: dict(sorted(modules.items()))
        for language, modules in sorted(suggestions.packages.items())
    }
    return suggestions


def node_rules(audit: NodeAudit) -> list[str]:
    """The ignore rules one node's non-deterministic values call for."""
    rules: list[str] = []
    for finding in audit.of_type("nondeterminism"):
        for path in finding.paths:
            rule = ignore_rule(path)
            if rule not in rules:
                rules.append(rule)
    return rules


def _add(table: dict[str, list[str]], key: str, node: str) -> None:
    nodes = table.setdefault(key, [])
    if node not in nodes:
        nodes.append(node)


def describe_paths(paths: Iterable[EnvelopePath]) -> str:
    """Paths as a report says them: `$.output.at, $.stdout`."""
    return ", ".join(ignore_rule(path) for path in paths)
