"""A sandbox's code contexts: one kernel each, like E2B's Jupyter contexts.

Why: E2B keeps one default context per language (`run_code(language=...)` without a
context uses it) and lets the caller create more (`create_code_context`), each a separate
kernel with its own state and working directory. Here a context takes its kernel from the
pool when it is created. The python and javascript default contexts are created with the
sandbox (`boot`), because E2B's kernels are running once its VM has booted; others (the
typescript default, created contexts) when they are first asked for. A context whose
kernel died gets a fresh one on its next execution (state lost, count reset), as
Jupyter's automatic restart does in E2B. Every kernel of a sandbox is adopted with the
sandbox's mounts and user (its /home/user, its private /tmp), when the server isolates
kernels.

Working directories: with isolation a context's `cwd` is a path of the sandbox's own
machine, as at E2B (default /home/user; relative paths are relative to it; /tmp, /, /root
work too), entered by the kernel itself as the sandbox's user, so a directory that does not
exist or that the user may not enter fails the create with 500, as at E2B. Without
isolation there is no /home/user: the path must lie under it and maps to the sandbox's
directory on the host.

Languages are normalised as E2B does: none -> python, "js" -> javascript, "ts" ->
typescript; typescript contexts run on the javascript kernel.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turnout_e2b_server.kernels.base import Kernel
from turnout_e2b_server.paths import SANDBOX_HOME, host_path, machine_path
from turnout_e2b_server.pool import KernelPool, KernelUnavailableError
from turnout_e2b_server.sandbox_mounts import SandboxMounts

__all__ = [
    "BOOT_LANGUAGES",
    "Context",
    "SandboxContexts",
    "kernel_language",
    "normalize_language",
]

log = logging.getLogger(__name__)

KERNEL_LANGUAGES = {"python": "python", "javascript": "javascript", "typescript": "javascript"}
# The default contexts whose kernels run from the moment the sandbox exists.
BOOT_LANGUAGES = ("python", "javascript")


def normalize_language(language: str | None) -> str:
    """E2B's normalisation of a request's language."""
    if not language:
        return "python"
    normalised = language.lower().strip()
    return {"js": "javascript", "ts": "typescript"}.get(normalised, normalised)


def kernel_language(language: str) -> str:
    """The kernel that runs a normalised language; KernelUnavailableError if there is none."""
    try:
        return KERNEL_LANGUAGES[language]
    except KeyError:
        raise KernelUnavailableError(
            f"Failed to create context: no kernel for {language!r}"
        ) from None


@dataclass
class Context:
    """One kernel of a sandbox, with the cwd it was created with and its cell counter."""

    id: str
    language: str
    cwd: str
    kernel_cwd: str
    """The directory the kernel enters: `cwd` itself, or its host path without isolation."""
    kernel: Kernel | None = None
    execution_count: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def to_json(self) -> dict[str, Any]:
        """The shape the SDK's Context.from_json reads."""
        return {"id": self.id, "language": self.language, "cwd": self.cwd}


class SandboxContexts:
    """The contexts of one sandbox; closing it shuts every kernel down."""

    def __init__(
        self,
        pool: KernelPool,
        home: Path,
        env: Mapping[str, str],
        mounts: SandboxMounts | None = None,
    ) -> None:
        self._pool = pool
        self._home = home
        self._env = dict(env)
        self._mounts = mounts
        self._contexts: dict[str, Context] = {}
        self._defaults: dict[str, str] = {}
        self._default_locks: dict[str, asyncio.Lock] = {}
        self._closed = False

    def get(self, context_id: str) -> Context | None:
        return self._contexts.get(context_id)

    def all(self) -> list[Context]:
        return list(self._contexts.values())

    def pids(self) -> list[int]:
        """Process ids of this sandbox's running kernels."""
        return [
            c.kernel.pid
            for c in self._contexts.values()
            if c.kernel is not None and c.kernel.pid is not None
        ]

    async def boot(self) -> None:
        """Create the BOOT_LANGUAGES default contexts, side by side (at sandbox create).

        A kernel that cannot be had now is not an error here: its default context is then
        created on first use, which reports the problem to the request that needs it.
        """
        results = await asyncio.gather(
            *(self.default(language) for language in BOOT_LANGUAGES), return_exceptions=True
        )
        for language, result in zip(BOOT_LANGUAGES, results, strict=True):
            if isinstance(result, KernelUnavailableError):
                log.warning("no %s kernel at sandbox creation: %s", language, result)
            elif isinstance(result, BaseException):
                raise result

    async def default(self, language: str | None) -> Context:
        """The default context of a request language, created if it does not exist yet."""
        normalised = normalize_language(language)
        lock = self._default_locks.setdefault(normalised, asyncio.Lock())
        async with lock:
            existing = self._defaults.get(normalised)
            if existing is not None and existing in self._contexts:
                return self._contexts[existing]
            context = await self._new(normalised, SANDBOX_HOME)
            self._defaults[normalised] = context.id
            return context

    async def create(self, language: str | None, cwd: str | None) -> Context:
        """A new context (POST /contexts), with its own kernel, in `cwd`."""
        return await self._new(normalize_language(language), cwd or SANDBOX_HOME)

    async def ensure_kernel(self, context: Context) -> Kernel:
        """The context's kernel, replaced by a fresh one if it has died."""
        kernel = context.kernel
        if kernel is not None and kernel.pid is not None:
            return kernel
        if kernel is not None:
            await kernel.shutdown()
        fresh = await self._adopted_kernel(context.language, context.kernel_cwd)
        if self._closed:
            await fresh.shutdown()
            raise KernelUnavailableError("the sandbox is gone")
        context.kernel, context.execution_count = fresh, 0
        return fresh

    async def restart(self, context: Context) -> None:
        """Replace the context's kernel (POST /contexts/{id}/restart); state is lost."""
        async with context.lock:
            old, context.kernel = context.kernel, None
            if old is not None:
                await old.shutdown()
            await self.ensure_kernel(context)

    async def remove(self, context: Context) -> None:
        """Shut the context's kernel down and forget it (DELETE /contexts/{id})."""
        self._contexts.pop(context.id, None)
        for language, context_id in list(self._defaults.items()):
            if context_id == context.id:
                del self._defaults[language]
        if context.kernel is not None:
            await context.kernel.shutdown()

    async def close(self) -> None:
        """Shut every kernel of the sandbox down; later requests get no kernel."""
        self._closed = True
        contexts = list(self._contexts.values())
        self._contexts.clear()
        await asyncio.gather(
            *(c.kernel.shutdown() for c in contexts if c.kernel is not None),
            return_exceptions=True,
        )

    async def _new(self, language: str, cwd: str) -> Context:
        if self._mounts is not None:
            virtual = kernel_cwd = machine_path(cwd)
        else:
            host_cwd, virtual = host_path(self._home, cwd)
            if not host_cwd.is_dir():
                raise KernelUnavailableError(
                    f"Failed to set working directory: {virtual} does not exist"
                )
            kernel_cwd = str(host_cwd)
        context = Context(
            id=str(uuid.uuid4()), language=language, cwd=virtual, kernel_cwd=kernel_cwd
        )
        context.kernel = await self._adopted_kernel(language, kernel_cwd)
        if self._closed:  # the sandbox was killed while the kernel was being set up
            await context.kernel.shutdown()
            raise KernelUnavailableError("the sandbox is gone")
        self._contexts[context.id] = context
        return context

    async def _adopted_kernel(self, language: str, cwd: str) -> Kernel:
        if self._closed:
            raise KernelUnavailableError("the sandbox is gone")
        kernel = await self._pool.take(kernel_language(language))
        try:
            if self._closed:
                raise KernelUnavailableError("the sandbox is gone")
            await kernel.adopt(cwd, self._env, sandbox=self._mounts)
        except BaseException as exc:
            await kernel.shutdown()
            if isinstance(exc, Exception) and not isinstance(exc, KernelUnavailableError):
                raise KernelUnavailableError(
                    f"Failed to create the {language} context in {cwd}: {exc}"
                ) from exc
            raise
        return kernel
