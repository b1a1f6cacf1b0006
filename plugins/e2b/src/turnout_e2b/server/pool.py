"""Pre-started kernels, per kernel language, handed to sandboxes on their first execution.

Why: an IPython kernel takes about 0.7 s to start, E2B creates a sandbox in about 150 ms
and its kernels are already running. Keeping a few kernels ready (started with a neutral
working directory and the bare allow-listed environment) lets a local sandbox answer its
first `run_code` about as fast as E2B does. Taking a kernel triggers a background refill;
refills run one kernel at a time per language so they do not starve the CPU.

Kernel languages are "python" and "javascript" (TypeScript runs on the javascript kernel).
The JavaScript kernel is imported lazily from `turnout_e2b.server.kernels.javascript`; if
that module is missing or broken, JavaScript requests fail with KernelUnavailableError.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import cast

from turnout_e2b.server.environment import base_environment
from turnout_e2b.server.kernels.base import Kernel, KernelFactory
from turnout_e2b.server.kernels.python import start_python_kernel

__all__ = ["KernelPool", "KernelUnavailableError", "default_factories"]

log = logging.getLogger(__name__)

JAVASCRIPT_MODULE = "turnout_e2b.server.kernels.javascript"
# After a failed start, wait this long before the background refill tries again.
RETRY_AFTER_FAILURE_S = 5.0


class KernelUnavailableError(RuntimeError):
    """No kernel of the requested language can be started here."""


async def _start_javascript_kernel(
    language: str, *, neutral_cwd: Path, base_env: Mapping[str, str]
) -> Kernel:
    """Import the JavaScript kernel module on first use; say clearly if it is not there."""
    try:
        module = importlib.import_module(JAVASCRIPT_MODULE)
        factory = cast(KernelFactory, module.start_javascript_kernel)
    except (ImportError, AttributeError) as exc:
        raise KernelUnavailableError(
            f"the JavaScript kernel is not available on this server ({exc})"
        ) from exc
    return await factory(language, neutral_cwd=neutral_cwd, base_env=base_env)


def default_factories(runtime_root: Path) -> dict[str, KernelFactory]:
    """The built-in kernels: IPython for "python", the lazily imported JS kernel."""
    return {
        "python": partial(start_python_kernel, runtime_root=runtime_root),
        "javascript": _start_javascript_kernel,
    }


class KernelPool:
    """Ready kernels per language; `take` never waits for a refill, it starts one itself."""

    def __init__(
        self,
        factories: Mapping[str, KernelFactory],
        sizes: Mapping[str, int],
        neutral_cwd: Path,
    ) -> None:
        self._factories = dict(factories)
        self._sizes = dict(sizes)
        self._neutral_cwd = neutral_cwd
        self._ready: dict[str, list[Kernel]] = {language: [] for language in factories}
        self._refills: dict[str, asyncio.Task[None]] = {}
        self._unavailable: dict[str, str] = {}
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
                kernel = ready.pop()
                asyncio.get_running_loop().create_task(kernel.shutdown())
            self._kick(language)

    def idle_counts(self) -> dict[str, int]:
        """How many ready kernels each language has right now."""
        return {language: len(ready) for language, ready in self._ready.items()}

    def pids(self) -> list[int]:
        """Process ids of the ready kernels (for the admin stats and leak checks)."""
        return [k.pid for ready in self._ready.values() for k in ready if k.pid is not None]

    async def take(self, language: str) -> Kernel:
        """A ready kernel of `language`, or a freshly started one if none is ready."""
        if self._closed:
            raise KernelUnavailableError("the server is shutting down")
        if language not in self._factories:
            raise KernelUnavailableError(f"no kernel for language {language!r}")
        ready = self._ready[language]
        kernel = ready.pop(0) if ready else None
        if kernel is None:
            kernel = await self._start(language)
        self._kick(language)
        return kernel

    async def close(self) -> None:
        """Stop refilling and shut every ready kernel down.

        Refills are not cancelled mid-start (a half-started kernel could escape); each one
        finishes its current start, sees the pool closed and shuts that kernel down.
        """
        self._closed = True
        self._closing.set()
        await asyncio.gather(*self._refills.values(), return_exceptions=True)
        kernels = [k for ready in self._ready.values() for k in ready]
        for ready in self._ready.values():
            ready.clear()
        await asyncio.gather(*(k.shutdown() for k in kernels), return_exceptions=True)

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
        if self._closed or language in self._unavailable:
            return
        running = self._refills.get(language)
        if running is not None and not running.done():
            return
        if len(self._ready[language]) >= self._sizes.get(language, 0):
            return
        self._refills[language] = asyncio.get_running_loop().create_task(
            self._refill(language), name=f"kernel-pool-{language}"
        )

    async def _refill(self, language: str) -> None:
        ready = self._ready[language]
        while not self._closed and len(ready) < self._sizes.get(language, 0):
            try:
                kernel = await self._start(language)
            except KernelUnavailableError as exc:
                if self._closed:
                    return
                if language in self._unavailable:
                    log.info("not pre-starting %s kernels: %s", language, exc)
                    return
                log.warning("pre-starting a %s kernel failed: %s", language, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), RETRY_AFTER_FAILURE_S)
                continue
            if self._closed or len(ready) >= self._sizes.get(language, 0):
                with contextlib.suppress(Exception):
                    await kernel.shutdown()
                return
            ready.append(kernel)
