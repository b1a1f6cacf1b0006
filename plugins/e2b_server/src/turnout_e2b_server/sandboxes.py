"""The live sandboxes: create, look up, extend, list and kill; lifetimes enforced here.

Why one registry: every way a sandbox can end (DELETE, lifetime expiry, a fault, server
stop) goes through `kill`, which removes it from the registry first (so it is never
listed or routed to again), wakes anything streaming from it, shuts its kernels down
(their whole process groups, and with isolation everything in their namespaces) and
deletes its directories.

A sandbox is a directory under `<root>/sandboxes/` that stands in for /home/user, an
allow-listed environment, and the kernels of its contexts; with isolation (see
isolation.py) also a uid and gid of its own (its directory is theirs, its code runs as
them) and its scratch directories under `<root>/scratch/<id>/`, mounted over /tmp,
/var/tmp and /dev/shm in each of its kernels, its directory on /home/user. `create` boots
it, starting its python and javascript kernels (taken from the pool), before it answers
and lists the sandbox: E2B's kernels are running once its VM has booted. Its lifetime is
the create call's `timeout` (seconds), counted from then; set_timeout restarts the clock
from now.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from turnout_e2b_server.config import ServerConfig
from turnout_e2b_server.contexts import SandboxContexts
from turnout_e2b_server.environment import sandbox_environment
from turnout_e2b_server.errors import ApiError
from turnout_e2b_server.isolation import Isolation
from turnout_e2b_server.paths import SANDBOX_HOME
from turnout_e2b_server.pool import KernelPool
from turnout_e2b_server.sandbox_mounts import (
    MAX_SANDBOX_USERS,
    SANDBOX_GID_BASE,
    SANDBOX_UID_BASE,
)
from turnout_e2b_server.stats import Stats

__all__ = ["Sandbox", "SandboxRegistry"]

log = logging.getLogger(__name__)

ID_ALPHABET = string.ascii_lowercase + string.digits
# What the list/info calls report; nothing enforces them locally.
CPU_COUNT, MEMORY_MB, DISK_SIZE_MB = 2, 512, 1024
# The counter a kill bumps, by reason; a DELETE (and anything else) bumps "kills".
KILL_COUNTERS = {
    "expired": "expired",
    "fault": "killed_by_fault",
    "stopped": "killed_at_stop",
    "boot_failed": "creates_failed_boot",
}


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
    scratch_dir: Path | None
    user: int | None
    """The index of its uid and gid (SANDBOX_UID_BASE + user), None without isolation."""
    started_at: datetime
    end_at: datetime
    contexts: SandboxContexts
    access_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    """The envd token (`envdAccessToken`), required on envd's routes."""
    traffic_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    """The traffic token (`trafficAccessToken`), required on the Jupyter routes."""
    dead: asyncio.Event = field(default_factory=asyncio.Event)
    timer: asyncio.TimerHandle | None = None

    @property
    def owner(self) -> tuple[int, int] | None:
        """The uid and gid its files belong to (None without isolation: the server's)."""
        if self.user is None:
            return None
        return SANDBOX_UID_BASE + self.user, SANDBOX_GID_BASE + self.user

    def created_json(self, envd_version: str) -> dict[str, Any]:
        """Body of create and connect (the SDK's `Sandbox` model)."""
        body: dict[str, Any] = {
            "templateID": self.template_id,
            "sandboxID": self.sandbox_id,
            "clientID": self.client_id,
            "envdVersion": envd_version,
            "alias": self.template_id,
            "envdAccessToken": self.access_token,
            "trafficAccessToken": self.traffic_token,
        }
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
        body["envdAccessToken"] = self.access_token
        return body


class SandboxRegistry:
    """All live sandboxes of one server, keyed by id."""

    def __init__(
        self,
        root: Path,
        pool: KernelPool,
        config: ServerConfig,
        stats: Stats,
        *,
        scratch_root: Path | None = None,
        isolation: Isolation | None = None,
    ) -> None:
        self._root = root
        self._scratch_root = scratch_root
        self._isolation = isolation
        self._pool = pool
        self._config = config
        self._stats = stats
        self._live: dict[str, Sandbox] = {}
        self._booting: dict[str, Sandbox] = {}
        self._reserved = 0
        self._users: set[int] = set()
        self._next_user = 0
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

    async def create(
        self,
        template_id: str,
        metadata: dict[str, str],
        env_vars: dict[str, str],
        timeout_s: int,
        *,
        delay_s: float = 0.0,
    ) -> Sandbox:
        """Make a sandbox, boot it, then make it live: listed, routable, its lifetime running.

        Booting starts its python and javascript kernels (taken from the pool: milliseconds;
        started now if the pool is empty: as long as that takes) while `delay_s`, the
        emulated boot time, passes. Until it is live the sandbox is neither listed nor
        counted as created, as at E2B; `kill_all` kills it too (the create then fails).
        """
        sandbox = self._make(template_id, metadata, env_vars)
        self._booting[sandbox.sandbox_id] = sandbox
        try:
            await asyncio.gather(asyncio.sleep(delay_s), sandbox.contexts.boot())
        except BaseException:
            if not sandbox.dead.is_set():
                sandbox.dead.set()
                self._stats.bump(KILL_COUNTERS["boot_failed"])
                await self._dispose_now(sandbox)
            raise
        finally:
            self._booting.pop(sandbox.sandbox_id, None)
        if sandbox.dead.is_set():  # killed while booting (server stop, reset)
            raise ApiError(503, "the sandbox was killed while it was being created")
        now = datetime.now(UTC)
        self._seq += 1
        sandbox.seq, sandbox.started_at = self._seq, now
        self._live[sandbox.sandbox_id] = sandbox
        self.set_timeout(sandbox, timeout_s)
        self._stats.bump("creates")
        return sandbox

    def _make(
        self, template_id: str, metadata: dict[str, str], env_vars: dict[str, str]
    ) -> Sandbox:
        """A sandbox's directories, environment and (empty) contexts; not live yet."""
        sandbox_id = _new_id(20)
        while sandbox_id in self._live or sandbox_id in self._booting:
            sandbox_id = _new_id(20)
        home = self._root / sandbox_id
        home.mkdir(parents=True, mode=0o700)
        mounts, user = None, None
        if self._isolation is not None and self._scratch_root is not None:
            user = self._take_user()
            uid, gid = SANDBOX_UID_BASE + user, SANDBOX_GID_BASE + user
            try:
                os.chown(home, uid, gid)
                mounts = self._isolation.sandbox(self._scratch_root / sandbox_id, home, uid, gid)
            except OSError:
                shutil.rmtree(home, ignore_errors=True)
                self._users.discard(user)
                raise
        env = sandbox_environment(Path(SANDBOX_HOME) if mounts else home, env_vars)
        now = datetime.now(UTC)
        return Sandbox(
            sandbox_id=sandbox_id,
            template_id=template_id,
            client_id=secrets.token_hex(4),
            seq=0,
            metadata=dict(metadata),
            env_vars=dict(env_vars),
            home=home,
            scratch_dir=mounts.directory if mounts is not None else None,
            user=user,
            started_at=now,
            end_at=now,
            contexts=SandboxContexts(self._pool, home, env, mounts),
        )

    def _take_user(self) -> int:
        """The next uid index, in turn, that no live (or dying) sandbox holds.

        In turn rather than the lowest free one: a killed sandbox's processes are still
        being torn down (by Linux, after its kernels' process is reaped) when its index is
        released, and they count against the uid's process limit; a new sandbox given that
        uid at once could not start a process.
        """
        for offset in range(MAX_SANDBOX_USERS):
            user = (self._next_user + offset) % MAX_SANDBOX_USERS
            if user not in self._users:
                self._users.add(user)
                self._next_user = (user + 1) % MAX_SANDBOX_USERS
                return user
        raise ApiError(503, "every sandbox user id is taken (local server)")

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
        await self._dispose_now(sandbox)
        log.info("sandbox %s %s", sandbox_id, reason)
        return True

    async def kill_all(self) -> None:
        """Kill every sandbox, booting ones too, and wait for every kill in progress."""
        for sandbox in list(self._booting.values()):
            if not sandbox.dead.is_set():
                sandbox.dead.set()
                self._track(asyncio.get_running_loop().create_task(self._dispose(sandbox)))
        await asyncio.gather(
            *(self.kill(sandbox_id, "stopped") for sandbox_id in list(self._live)),
            return_exceptions=True,
        )
        while self._kill_tasks:
            await asyncio.gather(*list(self._kill_tasks), return_exceptions=True)

    async def _dispose_now(self, sandbox: Sandbox) -> None:
        """Dispose of the sandbox in a task of its own, which a cancelled caller cannot stop."""
        disposal = asyncio.get_running_loop().create_task(self._dispose(sandbox))
        self._track(disposal)
        await asyncio.shield(disposal)

    async def _dispose(self, sandbox: Sandbox) -> None:
        """Kernels first (with them every process of the sandbox), then its files; its
        user id is free again only once nothing of it is left."""
        try:
            await sandbox.contexts.close()
        finally:
            await asyncio.to_thread(shutil.rmtree, sandbox.home, True)
            if sandbox.scratch_dir is not None:
                await asyncio.to_thread(shutil.rmtree, sandbox.scratch_dir, True)
            if sandbox.user is not None:
                self._users.discard(sandbox.user)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._kill_tasks.add(task)
        task.add_done_callback(self._kill_tasks.discard)

    def _expire(self, sandbox_id: str) -> None:
        self.kill_later(sandbox_id, "expired")
