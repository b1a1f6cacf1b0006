"""Pre-started kernels, per kernel language, handed to sandboxes when they are created.

Why: an IPython kernel takes about 0.7 s to start, E2B creates a sandbox in about 150 ms
and its kernels are already running. Keeping a few kernels ready (started with a neutral
working directory and the bare allow-listed environment) lets a local sandbox be created
with its kernels about as fast as E2B does. Taking a kernel triggers a background refill;
refills run at most REFILL_PARALLELISM starts at a time per language. A take that finds
no kernel ready (a miss, counted as `kernel_pool_misses.<language>`; hits as
`kernel_pool_hits.<language>`) claims a kernel that a refill is starting right now, if one
is not claimed yet: it is further along than a new one. Otherwise it starts one itself.

Kernel languages are "python" and "javascript" (TypeScript runs on the javascript kernel).
The JavaScript kernel is imported lazily from `turnout_e2b_server.kernels.javascript`; if
that module is missing or broken, JavaScript requests fail with KernelUnavailableError.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from pathlib import Path
from typing import cast

from turnout_e2b_server.environment import base_environment
from turnout_e2b_server.isolation import Isolation
from turnout_e2b_server.kernels.base import Kernel, KernelFactory
from turnout_e2b_server.kernels.python_start import start_python_kernel
from turnout_e2b_server.stats import Stats

__all__ = ["KernelPool", "KernelUnavailableError", "default_factories"]

log = logging.getLogger(__name__)

JAVASCRIPT_MODULE = "turnout_e2b_server.kernels.javascript"
# After a failed start, wait this long before the background refill tries again.
RETRY_AFTER_FAILURE_S = 5.0
# Kernel starts a language's refill runs at once: one per CPU (at most 4). Every sandbox
# takes a kernel of each language when it is created, so refills are on the create path.
REFILL_PARALLELISM = max(1, min(4, os.cpu_count() or 1))


class KernelUnavailableError(RuntimeError):
    """No kernel of the requested language can be started here."""


async def _start_javascript_kernel(
    language: str,
    *,
    neutral_cwd: Path,
    base_env: Mapping[str, str],
    isolation: Isolation | None = None,
) -> Kernel:
    """Import the JavaScript kernel module on first use; say clearly if it is not there."""
    try:
        module = importlib.import_module(JAVASCRIPT_MODULE)
        factory = cast(Callable[..., Awaitable[Kernel]], module.start_javascript_kernel)
    except (ImportError, AttributeError) as exc:
        raise KernelUnavailableError(
            f"the JavaScript kernel is not available on this server ({exc})"
        ) from exc
    extra = {} if isolation is None else {"isolation": isolation}
    return await factory(language, neutral_cwd=neutral_cwd, base_env=base_env, **extra)


def default_factories(
    runtime_root: Path, isolation: Isolation | None = None
) -> dict[str, KernelFactory]:
    """The built-in kernels: IPython for "python", the lazily imported JS kernel.

    With `isolation` both start in namespaces of their own.
    """
    return {
        "python": partial(start_python_kernel, runtime_root=runtime_root, isolation=isolation),
        "javascript": partial(_start_javascript_kernel, isolation=isolation),
    }


class KernelPool:
    """Ready kernels per language, refilled in the background as they are taken."""

    def __init__(
        self,
        factories: Mapping[str, KernelFactory],
        sizes: Mapping[str, int],
        neutral_cwd: Path,
        stats: Stats | None = None,
    ) -> None:
        self._factories = dict(factories)
        self._stats = stats
        self._sizes = dict(sizes)
        self._neutral_cwd = neutral_cwd
        self._ready: dict[str, list[Kernel]] = {language: [] for language in factories}
        self._refills: dict[str, set[asyncio.Task[None]]] = {lang: set() for lang in factories}
        self._starting: dict[str, int] = dict.fromkeys(factories, 0)  # refill starts in flight
        # Takes waiting for a kernel that a refill is starting: never more than `_starting`.
        self._claims: dict[str, list[asyncio.Future[Kernel]]] = {lang: [] for lang in factories}
        self._unavailable: dict[str, str] = {}
        self._disposals: set[asyncio.Task[None]] = set()
        self._closed = False
        self._closing = asyncio.Event()

    def start(self) -> None:
        """Begin filling every language up to its size (in the background)."""
        for language in self._factories:
            self._kick(language)

    def resize(self, sizes: Mapping[str, int]) -> None:
        """Change the target sizes; surplus kernels are stopped, missing ones started."""
        self._sizes.update(sizes)
        for language, ready in self._ready.items():
            while len(ready) > self._sizes.get(language, 0):
                self._dispose(ready.pop())
            self._kick(language)

    def idle_counts(self) -> dict[str, int]:
        """How many ready kernels each language has right now."""
        return {language: len(ready) for language, ready in self._ready.items()}

    def pids(self) -> list[int]:
        """Process ids of the ready kernels (for the admin stats and leak checks)."""
        return [k.pid for ready in self._ready.values() for k in ready if k.pid is not None]

    def unavailable(self) -> dict[str, str]:
        """Languages whose kernels cannot be started here, and why."""
        return dict(self._unavailable)

    async def take(self, language: str) -> Kernel:
        """A ready kernel of `language`; else one a refill is starting; else a new one."""
        if self._closed:
            raise KernelUnavailableError("the server is shutting down")
        if language not in self._factories:
            raise KernelUnavailableError(f"no kernel for language {language!r}")
        ready = self._ready[language]
        kernel = ready.pop(0) if ready else None
        if self._stats is not None:
            self._stats.bump(f"kernel_pool_{'hits' if kernel else 'misses'}.{language}")
        if kernel is None:
            kernel = await self._claim(language) or await self._start(language)
        self._kick(language)
        return kernel

    async def close(self) -> None:
        """Stop refilling and shut every ready kernel down.

        Refills are not cancelled mid-start (a half-started kernel could escape); each one
        finishes its current start, sees the pool closed and shuts that kernel down.
        """
        self._closed = True
        self._closing.set()
        for claims in self._claims.values():
            for claim in claims:
                if not claim.done():
                    claim.set_exception(KernelUnavailableError("the server is shutting down"))
        refills = [task for tasks in self._refills.values() for task in tasks]
        await asyncio.gather(*refills, return_exceptions=True)
        kernels = [k for ready in self._ready.values() for k in ready]
        for ready in self._ready.values():
            ready.clear()
        await asyncio.gather(*(k.shutdown() for k in kernels), return_exceptions=True)
        await asyncio.gather(*list(self._disposals), return_exceptions=True)

    def _dispose(self, kernel: Kernel) -> None:
        """Shut a kernel nobody will use down in the background; `close` waits for it."""
        task = asyncio.get_running_loop().create_task(kernel.shutdown())
        self._disposals.add(task)
        task.add_done_callback(self._disposals.discard)

    async def _claim(self, language: str) -> Kernel | None:
        """A kernel a refill is starting right now and no other take has claimed.

        None if there is none, or its start failed: the caller then starts its own.
        """
        claims = self._claims[language]
        if len(claims) >= self._starting[language]:
            return None
        claim: asyncio.Future[Kernel] = asyncio.get_running_loop().create_future()
        claims.append(claim)
        try:
            return await claim
        except KernelUnavailableError:
            return None
        except asyncio.CancelledError:  # the kernel may have been handed over meanwhile
            if claim.done() and not claim.cancelled() and claim.exception() is None:
                self._dispose(claim.result())
            raise
        finally:
            if claim in claims:
                claims.remove(claim)

    async def _start(self, language: str) -> Kernel:
        factory = self._factories[language]
        base_env = base_environment(self._neutral_cwd)
        try:
            kernel = await factory(language, neutral_cwd=self._neutral_cwd, base_env=base_env)
        except KernelUnavailableError as exc:
            self._unavailable[language] = str(exc)
            raise
        except Exception as exc:
            raise KernelUnavailableError(f"the {language} kernel did not start: {exc}") from exc
        self._unavailable.pop(language, None)
        if self._closed:  # shut down while this kernel was starting
            await kernel.shutdown()
            raise KernelUnavailableError("the server is shutting down")
        return kernel

    def _kick(self, language: str) -> None:
        """Start refills until the ready and starting kernels reach the language's size."""
        if self._closed or language in self._unavailable:
            return
        tasks = self._refills[language]
        missing = self._sizes.get(language, 0) - len(self._ready[language]) - len(tasks)
        for _ in range(min(missing, REFILL_PARALLELISM - len(tasks))):
            task = asyncio.get_running_loop().create_task(
                self._refill_one(language), name=f"kernel-pool-{language}"
            )
            tasks.add(task)
            task.add_done_callback(partial(self._refilled, language))

    def _refilled(self, language: str, task: asyncio.Task[None]) -> None:
        self._refills[language].discard(task)
        self._kick(language)

    async def _refill_one(self, language: str) -> None:
        """Start one kernel: for the take that claimed it, else for the ready list."""
        self._starting[language] += 1
        try:
            kernel = await self._start(language)
        except BaseException as exc:
            self._starting[language] -= 1
            self._fail_unclaimable(language)
            if not isinstance(exc, KernelUnavailableError):  # cancelled
                raise
            if self._closed:
                return
            if language in self._unavailable:
                log.info("not pre-starting %s kernels: %s", language, exc)
                return
            log.warning("pre-starting a %s kernel failed: %s", language, exc)
            with contextlib.suppress(TimeoutError):  # then the next refill retries
                await asyncio.wait_for(self._closing.wait(), RETRY_AFTER_FAILURE_S)
            return
        self._starting[language] -= 1
        claims = self._claims[language]
        while claims:
            claim = claims.pop(0)
            if not claim.done():  # a cancelled take no longer wants it
                claim.set_result(kernel)
                return
        ready = self._ready[language]
        if self._closed or len(ready) >= self._sizes.get(language, 0):
            with contextlib.suppress(Exception):
                await kernel.shutdown()
            return
        ready.append(kernel)

    def _fail_unclaimable(self, language: str) -> None:
        """Wake the takes that no start in flight can serve any more: they start their own."""
        claims = self._claims[language]
        while len(claims) > self._starting[language]:
            claim = claims.pop()
            if not claim.done():
                claim.set_exception(KernelUnavailableError("the kernel being started failed"))
