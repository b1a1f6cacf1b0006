"""The worker process: one `turnout.Client`, one Temporal worker on one task queue, a
graceful stop.

Lifetime: the worker's `turnout.Client` is made first (flags read, backends constructed, so
a broken deployment fails at start and not at the first activity), then the Temporal
client connects and the worker polls the task queue, taking at most as many activity tasks
as the backends can run at once (`concurrency`). When `stop` is set (SIGTERM or SIGINT from
the command line), the worker stops polling, lets the activities in flight finish for
`grace_s` seconds, cancels the rest (their sandboxes and processes are killed, and they
fail retryably so Temporal runs them on another worker), then closes the client, which
refuses anything new and waits for every sandbox kill. Nothing it started outlives it.

Where Temporal is: the arguments, else Temporal's own client configuration (the
`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*` variables
and the profile file every Temporal SDK and CLI reads), else `localhost:7233`, `default`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client as TemporalClient
from temporalio.envconfig import ClientConfigProfile
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.worker import Worker

import turnout
from turnout.logging import get_logger
from turnout_temporal.activity import CodeNodeActivity
from turnout_temporal.concurrency import answering_backends, max_concurrent_activities
from turnout_temporal.defaults import (
    DEFAULT_ADDRESS,
    DEFAULT_GRACE_S,
    DEFAULT_HEARTBEAT_INTERVAL_S,
    DEFAULT_NAMESPACE,
    DEFAULT_TASK_QUEUE,
)

__all__ = [
    "WorkerSettings",
    "connect",
    "quiet_runtime",
    "run_worker",
]

log = get_logger("turnout.temporal")


@dataclass(frozen=True)
class WorkerSettings:
    """What `turnout worker` is given; None means "Temporal's configuration, else default"."""

    address: str | None = None
    namespace: str | None = None
    task_queue: str = DEFAULT_TASK_QUEUE
    flags_path: str | Path | None = None
    environment: str | None = None
    grace_s: float = DEFAULT_GRACE_S
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S


async def connect(settings: WorkerSettings) -> TemporalClient:
    """A Temporal client per the settings, Temporal's client configuration, the defaults."""
    config: dict[str, Any] = dict(ClientConfigProfile.load().to_client_connect_config())
    config["target_host"] = settings.address or config.get("target_host") or DEFAULT_ADDRESS
    config["namespace"] = settings.namespace or config.get("namespace") or DEFAULT_NAMESPACE
    return await TemporalClient.connect(**config, runtime=quiet_runtime())


@functools.cache
def quiet_runtime() -> Runtime:
    """The SDK's runtime, its core's warnings sent to the `temporalio.core` Python logger
    (stderr unless the application routes it) rather than printed on stdout; one per
    process."""
    forwarding = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=forwarding,
            )
        )
    )


async def run_worker(
    settings: WorkerSettings, stop: asyncio.Event, *, temporal: TemporalClient | None = None
) -> None:
    """Serve `execute_code_node` until `stop` is set, then drain and return.

    Raises `ConfigurationError` for broken flags or backends, and what the Temporal SDK
    raises when the server cannot be reached or the namespace does not exist.
    """
    started = time.monotonic()
    client = turnout.Client(settings.flags_path, settings.environment, grace_s=settings.grace_s)
    try:
        limit = max_concurrent_activities(client.engine)
        temporal = temporal or await connect(settings)
        activity = CodeNodeActivity(client, heartbeat_interval_s=settings.heartbeat_interval_s)
        heartbeat = timedelta(seconds=settings.heartbeat_interval_s)
        worker = Worker(
            temporal,
            task_queue=settings.task_queue,
            activities=[activity.execute_code_node],
            max_concurrent_activities=limit,
            graceful_shutdown_timeout=timedelta(seconds=settings.grace_s),
            max_heartbeat_throttle_interval=heartbeat,
            default_heartbeat_throttle_interval=heartbeat,
        )
        log.info(
            "worker_started",
            address=temporal.service_client.config.target_host,
            namespace=temporal.namespace,
            task_queue=settings.task_queue,
            environment=client.environment,
            backends=answering_backends(client.engine.environment_flags),
            max_concurrent_activities=limit,
        )
        running = asyncio.get_running_loop().create_task(worker.run())
        stopping = asyncio.get_running_loop().create_task(stop.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not running.done():
            log.warning("worker_stopping", grace_s=settings.grace_s)
            await worker.shutdown()  # drains the activities: the client has none left
        await running  # raises what stopped the worker on its own (a fatal error)
    finally:
        await client.aclose()
    log.info("worker_stopped", uptime_s=round(time.monotonic() - started, 1))
