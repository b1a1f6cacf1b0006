"""Metadata every sandbox carries, so a reaper can find leaked ones after a crash."""

from __future__ import annotations

import time

from turnout.models import ExecutionRequest

__all__ = ["OWNER_KEY", "OWNER_VALUE", "sandbox_metadata"]

OWNER_KEY = "turnout"
OWNER_VALUE = "1"
_LABEL_PREFIX = "turnout_"


def sandbox_metadata(request: ExecutionRequest, environment: str) -> dict[str, str]:
    """Tags: owner, execution id, environment, creation time, and the caller's labels."""
    metadata = {
        OWNER_KEY: OWNER_VALUE,
        "turnout_execution_id": request.execution_id,
        "turnout_environment": environment,
        "turnout_created_at": str(int(time.time())),
    }
    for key, value in request.labels.items():
        metadata[f"{_LABEL_PREFIX}{key}"[:64]] = value[:256]
    return metadata
