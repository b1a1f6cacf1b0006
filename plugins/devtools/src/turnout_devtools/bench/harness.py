"""What every section of `turnout bench` shares: counts, the flag file, the local server.

The bench runs in its own environments (`bench` for local-subprocess, `bench-e2b` and
`bench-pool` for e2b without and with a warm pool), from a flag file it writes to a
temporary directory, so it never depends on (or changes) the operator's
feature_flags.toml. The e2b backend is always pointed at a local E2B-compatible server the
bench starts itself (`turnout_e2b_server.supervisor.ServerProcess`), only once the sections
that need no server are done (its kernels start in the background and would disturb them); the e2b
environments are added to the flag file then. The server requires a random API key
(`ServerProcess` hands it over on the server's standard input); the bench's own processes
get it as `E2B_API_KEY`, which the e2b backend sends to the server its `api_url` names, so
the bench never holds (or talks with) E2B's cloud key.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turnout_e2b_server.supervisor import ServerProcess

__all__ = [
    "BENCH_ENV",
    "E2B_ENV",
    "POOL_ENV",
    "BenchContext",
    "e2b_available",
    "node_path",
    "run_child",
    "settle",
]

BENCH_ENV = "bench"
E2B_ENV = "bench-e2b"
POOL_ENV = "bench-pool"
POOL_SIZE = 2
SERVER_KERNELS = 16
"""Pre-started kernels per language on the bench's server: enough for 16 sandboxes at once
(the server boots a Python and a JavaScript kernel for every sandbox it creates)."""
LANGUAGES = ("python", "javascript")


def e2b_available() -> bool:
    """Whether the e2b plugin and its local server (turnout-e2b-server) are installed."""
    return all(importlib.util.find_spec(name) for name in ("turnout_e2b", "turnout_e2b_server"))


def node_path() -> str | None:
    return shutil.which("node")


@dataclass
class BenchContext:
    """Settings of one bench run and the resources its sections share."""

    quick: bool = False
    iterations: int | None = None
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="turnout-bench-")))
    server: ServerProcess | None = None
    settle_timeouts: int = 0
    """Waits for a quiet server that gave up (the bench reports them)."""
    flags_path: Path | None = None
    notes: list[str] = field(default_factory=list)

    def count(self, full: int, quick: int) -> int:
        """How many repetitions: `--iterations` if given, else the mode's number."""
        if self.iterations is not None:
            return self.iterations
        return quick if self.quick else full

    def child_environment(self) -> dict[str, str]:
        """The environment of child processes: the bench's flag file and environment."""
        env = dict(os.environ)
        env.pop("E2B_API_KEY", None)
        if self.server is not None:
            env["E2B_API_KEY"] = self.server.api_key
        if self.flags_path is not None:
            env["TURNOUT_FLAGS_FILE"] = str(self.flags_path)
        env["TURNOUT_ENV"] = BENCH_ENV
        env.setdefault("NO_PROXY", "127.0.0.1,localhost")
        return env

    def write_flags(self) -> Path:
        """Write the bench's flag file (with the e2b environments once there is a server)."""
        lines = [
            "schema_version = 1",
            "",
            f"[environments.{BENCH_ENV}]",
            'legacy_backend = "local-subprocess"',
            'stage = "off"',
        ]
        if self.server is not None:
            e2b = [
                f"api_url = {json.dumps(self.server.url)}",
                f"sandbox_url = {json.dumps(self.server.url)}",
                'embedded_server = "never"',
            ]
            for environment, extra in ((E2B_ENV, []), (POOL_ENV, [f"pool_size = {POOL_SIZE}"])):
                lines += [
                    "",
                    f'[environments."{environment}"]',
                    'legacy_backend = "local-subprocess"',
                    'stage = "off"',
                    "",
                    f'[environments."{environment}".backends.e2b]',
                    *e2b,
                    *extra,
                ]
        path = self.directory / "feature_flags.toml"
        partial = path.with_suffix(".partial")
        partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
        partial.replace(path)  # a reader never sees half a file
        self.flags_path = path
        return path

    @contextlib.contextmanager
    def process_environment(self) -> Iterator[None]:
        """Point this process at the bench's flag file for the duration (restored after)."""
        names = ("TURNOUT_FLAGS_FILE", "TURNOUT_ENV", "E2B_API_KEY", "NO_PROXY")
        saved = {name: os.environ.get(name) for name in names}
        os.environ.pop("E2B_API_KEY", None)
        os.environ.update({k: v for k, v in self.child_environment().items() if k in names})
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def start_server(self) -> ServerProcess:
        """Start the local E2B-compatible server (`turnout_e2b_server.supervisor`), with
        `SERVER_KERNELS` pre-started kernels per language (the server boots a sandbox's
        kernels at create, from this pool), and add the e2b environments to the flags."""
        from turnout_e2b_server.supervisor import ServerProcess

        arguments = [f"--{language}-pool={SERVER_KERNELS}" for language in LANGUAGES]
        self.server = ServerProcess(*arguments).start()
        # This process's e2b backends send it too (process_environment restores the
        # variable when the bench ends).
        os.environ["E2B_API_KEY"] = self.server.api_key
        self.write_flags()
        return self.server

    def server_quiet(self, *, live: int = 0, kernels: int | None = None) -> bool:
        """At most `live` sandboxes alive (none being killed), and at least `kernels`
        kernels ready per language (or all `SERVER_KERNELS`, so that no kernel is starting
        in the background)."""
        assert self.server is not None
        stats = self.server.stats()
        if int(stats["live_sandboxes"]) > live:
            return False
        pool = stats["pool"]
        unavailable = pool.get("unavailable") or {}
        wanted = SERVER_KERNELS if kernels is None else min(kernels, SERVER_KERNELS)
        return all(
            int(pool["idle"].get(language, 0)) >= wanted
            for language in LANGUAGES
            if language not in unavailable
        )

    def close(self) -> None:
        """Stop the server (its leak check's findings become a note) and remove the files."""
        from turnout_e2b_server.supervisor import ServerLeakError

        server, self.server = self.server, None
        if server is not None:
            try:
                server.stop()
            except ServerLeakError as exc:
                self.notes.append(f"the local server left something behind: {exc}")
        shutil.rmtree(self.directory, ignore_errors=True)


def run_child(
    context: BenchContext, task: str, arguments: dict[str, Any], timeout_s: float = 600.0
) -> dict[str, Any]:
    """Run `python -m turnout_devtools.bench.child TASK JSON` and return the JSON it prints last.

    A child that printed its result and then failed while exiting still gave a complete
    measurement: the result is kept, with `exit_status` added so the report shows it.
    """
    completed = subprocess.run(
        [sys.executable, "-m", "turnout_devtools.bench.child", task, json.dumps(arguments)],
        capture_output=True,
        text=True,
        env=context.child_environment(),
        timeout=timeout_s,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (completed.stderr or completed.stdout)[-2000:]
        raise RuntimeError(f"bench child {task!r} failed ({completed.returncode}): {tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    if completed.returncode != 0:
        result["exit_status"] = completed.returncode
        result["exit_stderr_tail"] = completed.stderr[-1000:]
    return result


async def settle(
    predicate: Callable[[], bool], timeout_s: float = 30.0, interval_s: float = 0.05
) -> bool:
    """Poll `predicate` (in a thread: it may call the admin API) until it holds or
    `timeout_s` passes, keeping the event loop free for background kills; whether it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if await asyncio.to_thread(predicate):
                return True
        await asyncio.sleep(interval_s)
    return False
