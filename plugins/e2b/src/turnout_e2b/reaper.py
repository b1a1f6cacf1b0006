"""Find and kill sandboxes that turnout created and nobody killed (a crashed worker).

Every sandbox carries `turnout=1` metadata (see tags.py); the reaper lists those through the
SDK, keeps the ones older than a threshold, and kills them unless asked for a dry run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from turnout_e2b.connection import Connection
from turnout_e2b.errors import translate_errors
from turnout_e2b.tags import OWNER_KEY, OWNER_VALUE

__all__ = ["ReapedSandbox", "reap"]


@dataclass(frozen=True)
class ReapedSandbox:
    """One leaked sandbox the reaper found, and what happened to it."""

    sandbox_id: str
    age_s: float
    metadata: dict[str, str]
    killed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "sandboxId": self.sandbox_id,
            "ageSeconds": round(self.age_s, 1),
            "metadata": self.metadata,
            "killed": self.killed,
        }


async def reap(
    connection: Connection, *, older_than_s: float, dry_run: bool
) -> list[ReapedSandbox]:
    """Kill (or, with `dry_run`, only list) turnout's sandboxes older than `older_than_s`."""
    from e2b import SandboxQuery
    from e2b_code_interpreter import AsyncSandbox

    params = connection.sdk_params()
    now = datetime.now(UTC)
    found: list[tuple[str, float, dict[str, str]]] = []
    with translate_errors(started=False):
        paginator = AsyncSandbox.list(
            query=SandboxQuery(metadata={OWNER_KEY: OWNER_VALUE}), limit=100, **params
        )
        while paginator.has_next:
            for info in await paginator.next_items():
                age = (now - info.started_at).total_seconds()
                if age >= older_than_s:
                    found.append((info.sandbox_id, age, dict(info.metadata or {})))

    async def finish(sandbox_id: str, age: float, metadata: dict[str, str]) -> ReapedSandbox:
        killed = False
        if not dry_run:
            with translate_errors(started=False):
                killed = bool(await AsyncSandbox.kill(sandbox_id, **params))
        return ReapedSandbox(sandbox_id, age, metadata, killed)

    return list(await asyncio.gather(*(finish(*item) for item in found)))
