"""turnout-e2b: run code nodes in E2B sandboxes, and serve an E2B-compatible API locally."""

from turnout_e2b.backend import E2BBackend
from turnout_e2b.errors import map_exception, translate_errors
from turnout_e2b.options import E2BOptions

__all__ = ["E2BBackend", "E2BOptions", "map_exception", "translate_errors"]
