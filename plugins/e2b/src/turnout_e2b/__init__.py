"""turnout-e2b: run code nodes in E2B sandboxes, and serve an E2B-compatible API locally.

Exports are lazy (PEP 562): `python -m turnout_e2b_server` must not load turnout's engine,
and registering the backend must not import the E2B SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turnout_e2b.backend import E2BBackend
    from turnout_e2b.errors import map_exception, translate_errors
    from turnout_e2b.options import E2BOptions

__all__ = ["E2BBackend", "E2BOptions", "map_exception", "translate_errors"]

_HOMES = {
    "E2BBackend": "turnout_e2b.backend",
    "E2BOptions": "turnout_e2b.options",
    "map_exception": "turnout_e2b.errors",
    "translate_errors": "turnout_e2b.errors",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'turnout_e2b' has no attribute {name!r}")
