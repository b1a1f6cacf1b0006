"""The backend instances an engine runs on, rebuilt when a flag reload changes their settings.

An engine builds each backend once, on first use, from its environment's settings (the
backend's options table and whether legacy may load). When a hot reload changes those
settings (an operator edits `output_cap_bytes` while the worker runs), `apply` builds every
changed backend anew *before* anything changes. If every one builds, they replace the old
instances in one step: new executions get the new options, and each old instance is
retired: it finishes the executions it has in flight, then is closed, so the processes and
sandboxes it holds go with it. If one cannot be built while the new flags still send
executions to it, `apply` raises, the reloader keeps the last good configuration and logs
why (`flags_reload_failed`), and the instances built for it are closed unused: a reload is
never half-applied. A backend that the new flags no longer use and that refuses the new
settings (legacy once `legacy_allowed = false`) is retired without a successor.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from turnout.backend import BackendSettings, ExecutionBackend
from turnout.errors import ConfigurationError, TurnoutError
from turnout.flags import FlagFile
from turnout.logging import get_logger
from turnout.models import Capabilities, ExecutionRequest, ExecutionResult
from turnout.registry import BackendRegistry

__all__ = ["BackendInstances"]

log = get_logger("turnout.execution")

Wrapper = Callable[[ExecutionBackend], ExecutionBackend]


class _Counted:
    """One built instance, with a count of the executions it is running, so that it can be
    closed once it is retired and has none left. Everything but `execute` and `aclose`
    reads through to the instance (its `endpoint`, `pool`, `options`, ...), and it passes
    `isinstance` checks for the instance's class."""

    id: ClassVar[str] = ""

    def __init__(self, inner: ExecutionBackend, settings: BackendSettings, owner: Any) -> None:
        self.inner = inner
        self.settings = settings
        self.in_flight = 0
        self.retired = False
        self.closed = False
        self._owner: BackendInstances = owner

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        self.in_flight += 1
        try:
            return await self.inner.execute(request)
        finally:
            self.in_flight -= 1
            if self.retired and self.in_flight == 0:
                self._owner.close_soon(self)

    async def aclose(self) -> None:
        """Close the instance (once)."""
        if not self.closed:
            self.closed = True
            await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        """The instance's class, so `isinstance(engine.backend("e2b"), E2BBackend)` holds."""
        return type(self.inner)


def _counted(inner: ExecutionBackend, settings: BackendSettings, owner: Any) -> _Counted:
    """`inner` behind a counter whose class carries the backend's id, as the protocol says."""
    kind: type[_Counted] = type(f"Counted_{type(inner).__name__}", (_Counted,), {"id": inner.id})
    return kind(inner, settings, owner)


@dataclass
class _Slot:
    """The instance new executions of one backend get, and the face the engine shows
    (the counted instance behind the engine's wrappers)."""

    counted: _Counted
    shown: ExecutionBackend


class BackendInstances:
    """The live instances of one engine's backends (see the module docstring)."""

    def __init__(
        self, registry: BackendRegistry, environment: str, *, keep_warm: bool = True
    ) -> None:
        self._registry = registry
        self._environment = environment
        self._keep_warm = keep_warm  # the process's, so a reload never changes it
        self._slots: dict[str, _Slot] = {}
        self._wrappers: list[Wrapper] = []
        self._retired: list[_Counted] = []
        self._closing: set[asyncio.Task[None]] = set()

    def get(self, backend_id: str, settings: Callable[[], BackendSettings]) -> ExecutionBackend:
        """The instance for `backend_id`, built from `settings()` on first use."""
        slot = self._slots.get(backend_id)
        if slot is None:
            chosen = settings()
            slot = self._slots.get(backend_id)  # reading settings may have applied a reload
            if slot is None:
                slot = self._slot(self._build(backend_id, chosen))
                self._slots[backend_id] = slot
        return slot.shown

    def instrument(self, wrap: Wrapper) -> None:
        """Show every instance, built or to be built, through `wrap` (see `Engine`)."""
        self._wrappers.append(wrap)
        for slot in self._slots.values():
            slot.shown = wrap(slot.shown)

    def apply(self, flags: FlagFile) -> None:
        """Rebuild the instances whose settings `flags` change, or raise `ConfigurationError`
        (nothing changed) when one the new flags use cannot be built."""
        environment = flags.environments.get(self._environment)
        if environment is None:
            raise ConfigurationError(
                f"the new flags have no environment {self._environment!r}, which this "
                "process runs in"
            )
        using = environment.stages_using()
        built: dict[str, _Counted] = {}
        dropped: dict[str, str] = {}
        try:
            for backend_id, slot in self._slots.items():
                settings = environment.backend_settings(backend_id, keep_warm=self._keep_warm)
                if settings == slot.counted.settings:
                    continue
                try:
                    built[backend_id] = self._build(backend_id, settings)
                except Exception as exc:
                    reason = exc.message if isinstance(exc, TurnoutError) else repr(exc)
                    if backend_id in using:
                        changed = ", ".join(_changed(slot.counted.settings, settings))
                        raise ConfigurationError(
                            f"backend {backend_id!r} cannot be built with the new settings "
                            f"({changed}): {reason}"
                        ) from None
                    dropped[backend_id] = reason
        except BaseException:
            for unused in built.values():
                self._retire(unused, reason="reload refused")
            raise
        for backend_id, new in built.items():
            old = self._slots[backend_id].counted
            self._slots[backend_id] = self._slot(new)
            log.info(
                "backend_rebuilt",
                backend=backend_id,
                environment=self._environment,
                changed=_changed(old.settings, new.settings),
                draining=old.in_flight,
            )
            self._retire(old, reason="settings changed")
        for backend_id, reason in dropped.items():
            old = self._slots.pop(backend_id).counted
            log.info(
                "backend_dropped",
                backend=backend_id,
                environment=self._environment,
                reason=reason,
                draining=old.in_flight,
            )
            self._retire(old, reason="not loadable under the new flags")

    def close_soon(self, counted: _Counted) -> None:
        """Close a retired instance that has nothing in flight, in the background when an
        event loop runs here (else `aclose` does it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._close(counted))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every instance: the live ones and those still draining."""
        slots, self._slots = list(self._slots.values()), {}
        retired, self._retired = self._retired, []
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        for slot in slots:
            await slot.shown.aclose()
            await slot.counted.aclose()  # the wrappers may not pass aclose on
        for counted in retired:
            await counted.aclose()

    # -- internals ------------------------------------------------------------------------

    def _build(self, backend_id: str, settings: BackendSettings) -> _Counted:
        return _counted(self._registry.create(backend_id, settings), settings, self)

    def _slot(self, counted: _Counted) -> _Slot:
        shown: ExecutionBackend = counted
        for wrap in self._wrappers:
            shown = wrap(shown)
        return _Slot(counted, shown)

    def _retire(self, counted: _Counted, *, reason: str) -> None:
        counted.retired = True
        self._retired.append(counted)
        log.debug("backend_retired", backend=counted.id, reason=reason, draining=counted.in_flight)
        if counted.in_flight == 0:
            self.close_soon(counted)

    async def _close(self, counted: _Counted) -> None:
        try:
            await counted.aclose()
        except Exception as exc:
            with contextlib.suppress(Exception):
                log.error("backend_close_failed", backend=counted.id, error=repr(exc))
            return
        finally:
            with contextlib.suppress(ValueError):
                self._retired.remove(counted)
        log.info("backend_closed", backend=counted.id, environment=self._environment)


def _changed(old: BackendSettings, new: BackendSettings) -> list[str]:
    """What differs between two settings, named as the flag file names it."""
    changed = _changed_options(old.options, new.options)
    if old.legacy_allowed != new.legacy_allowed:
        changed.append("legacy_allowed")
    if old.environment != new.environment:
        changed.append("environment")
    return changed


def _changed_options(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [f"options.{key}" for key in keys if old.get(key, _MISSING) != new.get(key, _MISSING)]


_MISSING = object()
