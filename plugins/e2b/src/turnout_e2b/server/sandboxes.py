"""The live sandboxes: create, look up, extend, list and kill; lifetimes enforced here.

Why one registry: every way a sandbox can end (DELETE, lifetime expiry, a fault, server
stop) goes through `kill`, which removes it from the registry first (so it is never
listed or routed to again), wakes anything streaming from it, shuts its kernels down
(their whole process groups) and deletes its directory.

A sandbox is a directory under `<root>/sandboxes/` that stands in for /home/user, an
allow-listed environment, and the kernels of its contexts. Its lifetime is the create
call's `timeout` (seconds); set_timeout restarts the clock from now.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from turnout_e2b.server.config import ServerConfig
from turnout_e2b.server.contexts import SandboxContexts
from turnout_e2b.server.environment import sandbox_environment
from turnout_e2b.server.errors import ApiError
from turnout_e2b.server.pool import KernelPool
from turnout_e2b.server.stats import Stats

__all__ = ["Sandbox", "SandboxRegistry"]

log = logging.getLogger(__name__)

ID_ALPHABET = string.ascii_lowercase + string.digits
# What the list/info calls report; nothing enforces them locally.
CPU_COUNT, MEMORY_MB, DISK_SIZE_MB = 2, 512, 1024
# The counter a kill bumps, by reason; a DELETE (and anything else) bumps "kills".
KILL_COUNTERS = {"expired": "expired", "fault": "killed_by_fault", "stopped": "killed_at_stop"}


def _new_id(length: int) -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(eq=False)
class Sandbox:
    """One live sandbox. `dead` is set the moment it starts being killed."""

    sandbox_id: str
    template_id: str
    client_id: str
    seq: int
    metadata: dict[str, str]
    env_vars: dict[str, str]
    home: Path
    started_at: datetime
    end_at: datetime
    contexts: SandboxContexts
    access_token: str | None = None
    dead: asyncio.Event = field(default_factory=asyncio.Event)
    timer: asyncio.TimerHandle | None = None

    def created_json(self, envd_version: str) -> dict[str, Any]:
        """Body of create and connect (the SDK's `Sandbox` model)."""
        body: dict[str, Any] = {
            "templateID": self.template_id,
            "sandboxID": self.sandbox_id,
            "clientID": self.client_id,
            "envdVersion": envd_version,
            "alias": self.template_id,
        }
        if self.access_token is not None:
            body["envdAccessToken"] = self.access_token
        return body

    def listed_json(self, envd_version: str) -> dict[str, Any]:
        """One item of GET /v2/sandboxes (the SDK's `ListedSandbox` model)."""
        return {
            "templateID": self.template_id,
            "alias": self.template_id,
            "sandboxID": self.sandbox_id,
            "clientID": self.client_id,
            "startedAt": _iso(self.started_at),
            "endAt": _iso(self.end_at),
            "cpuCount": CPU_COUNT,
            "memoryMB": MEMORY_MB,
            "diskSizeMB": DISK_SIZE_MB,
            "metadata": dict(self.metadata),
            "state": "running",
            "envdVersion": envd_version,
        }

    def detail_json(self, envd_version: str) -> dict[str, Any]:
        """Body of GET /sandboxes/{id} (the SDK's `SandboxDetail` model)."""
        body = self.listed_json(envd_version)
        if self.access_token is not None:
            body["envdAccessToken"] = self.access_token
        return body


class SandboxRegistry:
    """All live sandboxes of one server, keyed by id."""

    def __init__(self, root: Path, pool: KernelPool, config: ServerConfig, stats: Stats) -> None:
        self._root = root
        self._pool = pool
        self._config = config
        self._stats = stats
        self._live: dict[str, Sandbox] = {}
        self._reserved = 0
        self._seq = 0
        self._kill_tasks: set[asyncio.Task[Any]] = set()

    def reserve(self) -> None:
        """Claim a slot for a create, or answer 429 if the concurrency limit is reached.

        The claim is taken before the create delay, so concurrent creates cannot together
        exceed the limit; `release` gives it back.
        """
        limit = self._config.max_sandboxes
        if limit is not None and len(self._live) + self._reserved >= limit:
            self._stats.bump("creates_rate_limited")
            raise ApiError(
                429,
                f"You have reached the maximum number of concurrent E2B sandboxes ({limit}). "
                "Kill some sandboxes or raise max_sandboxes (local server).",
            )
        self._reserved += 1

    def release(self) -> None:
        self._reserved -= 1

    def create(
        self,
        template_id: str,
        metadata: dict[str, str],
        env_vars: dict[str, str],
        timeout_s: int,
    ) -> Sandbox:
        """Make a live sandbox: its directory, environment and lifetime timer."""
        sandbox_id = _new_id(20)
        while sandbox_id in self._live:
            sandbox_id = _new_id(20)
        home = self._root / sandbox_id
        home.mkdir(parents=True)
        env = sandbox_environment(home, env_vars)
        now = datetime.now(UTC)
        self._seq += 1
        sandbox = Sandbox(
            sandbox_id=sandbox_id,
            template_id=template_id,
            client_id=secrets.token_hex(4),
            seq=self._seq,
            metadata=dict(metadata),
            env_vars=dict(env_vars),
            home=home,
            started_at=now,
            end_at=now,
            contexts=SandboxContexts(self._pool, home, env),
            access_token=secrets.token_urlsafe(24) if self._config.envd_access_token else None,
        )
        self._live[sandbox_id] = sandbox
        self.set_timeout(sandbox, timeout_s)
        self._stats.bump("creates")
        return sandbox

    def get(self, sandbox_id: str) -> Sandbox | None:
        return self._live.get(sandbox_id)

    def live(self) -> list[Sandbox]:
        """Live sandboxes, oldest first."""
        return sorted(self._live.values(), key=lambda s: s.seq)

    def set_timeout(self, sandbox: Sandbox, timeout_s: int) -> None:
        """End the sandbox's life `timeout_s` seconds from now."""
        loop = asyncio.get_running_loop()
        if sandbox.timer is not None:
            sandbox.timer.cancel()
        sandbox.end_at = datetime.now(UTC) + timedelta(seconds=timeout_s)
        sandbox.timer = loop.call_later(timeout_s, self._expire, sandbox.sandbox_id)

    def kill_later(self, sandbox_id: str, reason: str) -> None:
        """Kill in the background (timers, faults); kill_all waits for it."""
        self._track(asyncio.get_running_loop().create_task(self.kill(sandbox_id, reason)))

    async def kill(self, sandbox_id: str, reason: str = "killed") -> bool:
        """Kill a sandbox; False if it was not alive. `reason` picks the counter bumped.

        The sandbox is unlisted and unroutable at once; its kernels and directory are
        disposed of in a task of their own, which a cancelled caller cannot interrupt.
        """
        sandbox = self._live.pop(sandbox_id, None)
        if sandbox is None:
            return False
        sandbox.dead.set()
        self._stats.bump(KILL_COUNTERS.get(reason, "kills"))
        if sandbox.timer is not None:
            sandbox.timer.cancel()
        disposal = asyncio.get_running_loop().create_task(self._dispose(sandbox))
        self._track(disposal)
        await asyncio.shield(disposal)
        log.info("sandbox %s %s", sandbox_id, reason)
        return True

    async def kill_all(self) -> None:
        """Kill every live sandbox and wait for every kill in progress (server stop)."""
        await asyncio.gather(
            *(self.kill(sandbox_id, "stopped") for sandbox_id in list(self._live)),
            return_exceptions=True,
        )
        while self._kill_tasks:
            await asyncio.gather(*list(self._kill_tasks), return_exceptions=True)

    async def _dispose(self, sandbox: Sandbox) -> None:
        try:
            await sandbox.contexts.close()
        finally:
            await asyncio.to_thread(shutil.rmtree, sandbox.home, True)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._kill_tasks.add(task)
        task.add_done_callback(self._kill_tasks.discard)

    def _expire(self, sandbox_id: str) -> None:
        self.kill_later(sandbox_id, "expired")
