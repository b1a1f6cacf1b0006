"""Whether each environment's backends can be built: the warnings of `turnout flags validate`.

A valid flag file can still send an environment's executions to a backend that cannot be
built there: the e2b backend without `E2B_API_KEY` where the local server is not allowed
(anywhere but development and test), or a deprecated backend where legacy may not load.
Every execution that needs it would then fail, and a shadow candidate would compare
nothing. `backend_warnings` builds each backend an environment's reachable stages use
(`EnvironmentFlags.stages_using`), with that environment's settings, closes it again at
once, and turns each refusal into a warning naming the environment's stages that need it.

The check runs in the calling process, with its environment variables: a key set only on
the workers is missing here, so the warning says where it was checked. Building a backend
is cheap by contract (no sandbox, no connection; see docs/writing-a-backend.md); its log
events and Python warnings are kept out of the report. Not imported by `turnout.flags`
itself: it needs the registry, which the flag schema does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Iterator

from turnout.errors import TurnoutError
from turnout.flags.schema import EnvironmentFlags, FlagFile
from turnout.flags.stages import Stage
from turnout.log_output import preserved
from turnout.registry import BackendRegistry

__all__ = ["backend_warnings", "option_notes"]


def backend_warnings(flags: FlagFile, registry: BackendRegistry) -> dict[str, list[str]]:
    """For each environment, one warning per backend it uses that cannot be built."""
    return {
        name: [
            _warning(environment, backend_id, stages, reason)
            for backend_id, stages in environment.stages_using().items()
            if (reason := _refusal(environment, backend_id, registry)) is not None
        ]
        for name, environment in flags.environments.items()
    }


def option_notes(flags: FlagFile, registry: BackendRegistry) -> dict[str, list[str]]:
    """For each environment, a note per options table that no options model checks."""
    models = registry.option_models
    return {
        name: [
            f"options of backend {backend_id!r} are not checked here: its class declares no "
            "options_model, so a mistake in them shows only when it is built"
            for backend_id in environment.backends
            if backend_id in registry and backend_id not in models
        ]
        for name, environment in flags.environments.items()
    }


def _refusal(
    environment: EnvironmentFlags, backend_id: str, registry: BackendRegistry
) -> str | None:
    """Why `backend_id` cannot be built in `environment` (None: it can)."""
    if backend_id not in registry:
        return None  # without the registry's ids the schema let it through; nothing to try
    with warnings.catch_warnings(), _silenced():
        warnings.simplefilter("ignore")
        try:
            instance = registry.create(backend_id, environment.backend_settings(backend_id))
        except TurnoutError as exc:
            return exc.message
        except Exception as exc:  # a plugin's constructor may fail in any way
            return f"{type(exc).__name__}: {exc}"
        try:
            asyncio.run(instance.aclose())
        except Exception as exc:
            return f"it was built but could not be closed again: {type(exc).__name__}: {exc}"
    return None


def _warning(
    environment: EnvironmentFlags, backend_id: str, stages: list[Stage], reason: str
) -> str:
    roles = [f"at {stage} it {_role(environment, backend_id, stage)}" for stage in stages]
    return (
        f"backend {backend_id!r} cannot be built here ({'; '.join(roles)}): {reason} "
        "(checked in this process, with its environment variables)"
    )


def _role(environment: EnvironmentFlags, backend_id: str, stage: Stage) -> str:
    if environment.answering_backend(stage) == backend_id:
        return "answers"
    if stage == "live":
        return "runs the shadow comparison and is the fallback"
    return "runs the shadow comparison"


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """No event of turnout's reaches any handler meanwhile: a trial construction's events
    (a deprecation notice, a warm-up) are not the operator's business, its answer is."""
    with preserved() as logger:
        logger.handlers = [logging.NullHandler()]
        logger.propagate = False
        yield
