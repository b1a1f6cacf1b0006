"""`turnout audit`: a migration preflight over the platform's stored code nodes.

Before the first stage change, every stored node is judged against the target backend as
configured: its config (`config_checks`), its code, parsed (`python_code`,
`javascript_code`), and with `--run` what it does on both backends (`dynamic`). Each node
is `ready`, `attention` or `blocked`, each finding naming the line and the fix
(`findings`); the rollout gets shadow_ignore rules, overrides and the packages the target
must add (`suggestions`), as JSON and Markdown (`report`, `render`). See docs/audit.md.
"""

from turnout.audit.audit import audit_node, audit_nodes
from turnout.audit.findings import FINDING_TYPES, Finding, NodeAudit
from turnout.audit.loading import NodeSource, load_nodes
from turnout.audit.report import AuditReport
from turnout.audit.target import AuditTarget, describe_target

__all__ = [
    "FINDING_TYPES",
    "AuditReport",
    "AuditTarget",
    "Finding",
    "NodeAudit",
    "NodeSource",
    "audit_node",
    "audit_nodes",
    "describe_target",
    "load_nodes",
]
