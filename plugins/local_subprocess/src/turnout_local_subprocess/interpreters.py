"""Which interpreter runs each language, and how it is started and kept reachable.

Interpreters are looked up at their first use, so a host without Node can still run
Python. In namespace mode an interpreter under one of the private scratch directories
(a virtualenv in /tmp) cannot be seen by the program and is refused at once. With an
unprivileged identity the interpreter is started by its real path, and one installed
under a directory the identity cannot search (pyenv under /root) is exposed through an
`ExposureKit`, made at the first use and removed by `close`.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from turnout.errors import ConfigurationError, InfrastructureError
from turnout.models import Language
from turnout.packages import ProbedPackages, interpreter_commands
from turnout_local_subprocess.identity import Identity, expose
from turnout_local_subprocess.limits import node_heap_mb
from turnout_local_subprocess.mounts import ExposureKit
from turnout_local_subprocess.options import BACKEND_ID, LocalSubprocessOptions

__all__ = [
    "DEFAULT_PYTHON",
    "INTERPRETERS",
    "Interpreters",
    "importable_packages",
    "program_environment",
]

# Default Python: the base interpreter turnout itself runs on. Not `python3` from PATH, which
# may be a version-manager shim (pyenv adds ~60 ms and its own variables per start), and not
# turnout's virtualenv, whose packages user code must not see.
DEFAULT_PYTHON = getattr(sys, "_base_executable", None) or sys.executable or "python3"
INTERPRETERS: dict[Language, tuple[str, str]] = {
    "python": ("python", DEFAULT_PYTHON),
    "javascript": ("node", "node"),
}
# HOME of the interpreters' packages probe: absent, like the modules of a fresh program's HOME.
PROBE_HOME = "/nonexistent/turnout-probe-home"


class Interpreters:
    """The interpreters of one backend instance, found once each."""

    def __init__(
        self,
        options: LocalSubprocessOptions,
        *,
        owner: Identity | None,
        scratch: tuple[Path, ...],
    ) -> None:
        self._options = options
        self._owner = owner
        self._scratch = scratch
        self.paths: dict[Language, str] = {}
        self.kits: dict[Language, ExposureKit] = {}

    def find(self, language: Language) -> str:
        """The path to start for `language`, found (and exposed) at the first call."""
        if language not in self.paths:
            option, default = INTERPRETERS[language]
            name = getattr(self._options, option) or default
            found = shutil.which(name)
            if found is None:
                raise ConfigurationError(
                    f"the {BACKEND_ID} backend cannot run {language}: interpreter {name!r} "
                    f"was not found on PATH; set the {option!r} option of the {BACKEND_ID} "
                    "backend in feature_flags.toml to the interpreter's path"
                )
            if self._owner is not None:
                found = str(Path(os.path.realpath(found)))
            hint = self.scratch_hint(found)
            if hint:
                raise InfrastructureError(
                    f"could not start {found!r}{hint}", started=False, backend=BACKEND_ID
                )
            self._expose(language, found, option)
            self.paths[language] = found
        return self.paths[language]

    def argv(self, language: Language, interpreter: str) -> list[str]:
        """The interpreter and its flags, before the program file."""
        if language == "python":
            # -u: output reaches the pipe as it is written (as E2B streams it), so what a
            # timed-out program printed is not lost in its buffer.
            return [interpreter, "-I", "-u"]
        return [interpreter, f"--max-old-space-size={node_heap_mb(self._options.memory_mb)}"]

    def scratch_hint(self, interpreter: str) -> str:
        """Why an interpreter under a directory each execution sees as empty cannot start."""
        paths = (Path(os.path.abspath(interpreter)), Path(os.path.realpath(interpreter)))
        for directory in self._scratch:
            if any(path.is_relative_to(directory) for path in paths):
                return (
                    f": the interpreter lies under {directory}, which each execution sees as "
                    "its own empty copy: install it elsewhere, or set isolate_processes = false"
                )
        return ""

    def close(self) -> None:
        """Remove the exposure kits (no execution may start afterwards)."""
        kits, self.kits = self.kits, {}
        for kit in kits.values():
            kit.remove()

    def _expose(self, language: Language, interpreter: str, option: str) -> None:
        """Prepare the mounts that let the unprivileged identity reach `interpreter`."""
        if self._owner is None:
            return
        try:
            exposure, _ = expose(self._owner, interpreter)
        except ValueError as exc:
            raise ConfigurationError(
                f"the {BACKEND_ID} backend cannot run {language} as uid {self._owner.uid}: "
                f"{exc}; install the interpreter elsewhere and set the {option!r} option, or "
                "set drop_privileges = false"
            ) from None
        if exposure is None:
            return
        try:
            self.kits[language] = ExposureKit.create([exposure])
        except OSError as exc:
            raise InfrastructureError(
                f"could not prepare the interpreter's mounts: {exc}", backend=BACKEND_ID
            ) from exc


def program_environment(home: os.PathLike[str]) -> dict[str, str]:
    """Everything user code gets from the host: an allow-list, never a copy of os.environ."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": os.fspath(home),
        "TZ": "UTC",
    }


def importable_packages(options: LocalSubprocessOptions) -> ProbedPackages:
    """What programs can import: each interpreter asked once per process, when the
    declaration is first read (never by an execution), with the flags and the environment
    programs run with (Python's `-I`; the allow-listed variables). A program's HOME is its
    fresh, empty directory; the probe's is a path that does not exist, which resolves the
    same modules and keeps the answer cacheable."""
    found = {
        language: shutil.which(getattr(options, option) or default)
        for language, (option, default) in INTERPRETERS.items()
    }
    commands = interpreter_commands(found["python"], found["javascript"], isolated=True)
    return ProbedPackages(commands, env=program_environment(Path(PROBE_HOME)), cwd="/")
