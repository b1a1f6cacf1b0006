"""Everything one running server owns, created at start-up and torn down at stop.

Why a single object: the routes, the admin endpoint and the runner all need the same
config, fault queue, counters, kernel pool and sandbox registry; passing one `ServerState`
keeps the modules free of globals, so several servers can run in one process (tests).

Directory layout under the server's own temp root (removed at stop):

    <root>/sandboxes/<id>/   one per sandbox; stands in for /home/user
    <root>/scratch/<id>/     one per sandbox, with isolation: its /tmp, /var/tmp, /dev/shm
    <root>/pool/             neutral working directory of pre-started kernels
    <root>/runtime/          kernels' connection files and IPC sockets

Isolation (each kernel in PID, mount, network and IPC namespaces of its own, running as
its sandbox's unprivileged user, see isolation.py) is probed once at start; where the host
cannot provide it (not root, no util-linux, an old Linux kernel), kernels run without it,
as the server's user, with the host's network, a warning is logged and the admin stats say
why.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from turnout_e2b_server.config import ServerConfig
from turnout_e2b_server.faults import FaultQueue
from turnout_e2b_server.isolation import Isolation, find
from turnout_e2b_server.kernels.base import KernelFactory
from turnout_e2b_server.pool import KernelPool, default_factories
from turnout_e2b_server.sandboxes import SandboxRegistry
from turnout_e2b_server.stats import Stats

__all__ = ["ServerState"]

log = logging.getLogger(__name__)


class ServerState:
    """Config, faults, counters, kernel pool and sandboxes of one server."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        root_parent: Path | None = None,
        kernel_factories: Mapping[str, KernelFactory] | None = None,
        isolate: bool = True,
    ) -> None:
        config.validate()
        self.config = config
        self.initial_config = copy.deepcopy(config)
        self.faults = FaultQueue()
        self.stats = Stats()
        self.root = Path(tempfile.mkdtemp(prefix="turnout-e2b-", dir=root_parent))
        for name in ("sandboxes", "scratch", "pool", "runtime"):
            (self.root / name).mkdir()
        self.isolation: Isolation | None = None
        self.isolation_problem = "turned off" if kernel_factories is None else "custom kernels"
        if isolate and kernel_factories is None:
            self.isolation, self.isolation_problem = find(self.root)
            if self.isolation is None:
                log.warning(
                    "kernels run without their own namespaces, as the server's user (sandboxes "
                    "share /tmp, see the host's processes and reach its network): %s",
                    self.isolation_problem,
                )
        factories = kernel_factories or default_factories(self.root / "runtime", self.isolation)
        self.pool = KernelPool(factories, config.pool_sizes, self.root / "pool", self.stats)
        self.sandboxes = SandboxRegistry(
            self.root / "sandboxes",
            self.pool,
            config,
            self.stats,
            scratch_root=self.root / "scratch",
            isolation=self.isolation,
        )
        self._stopped = False

    async def start(self) -> None:
        """Begin pre-starting kernels (in the background)."""
        self.pool.start()

    async def stop(self) -> None:
        """Kill every sandbox, stop the pool's kernels and remove the temp root; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        await self.sandboxes.kill_all()
        await self.pool.close()
        await asyncio.to_thread(shutil.rmtree, self.root, True)
