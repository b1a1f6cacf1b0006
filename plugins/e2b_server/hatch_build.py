"""Build hook: the JavaScript kernel's Node packages go into the wheel.

Why at build time: an installed server must never need npm (or the network) to run its
JavaScript kernel, and must never write into site-packages. The kernel's production
packages (`npm ci --omit=dev` from its package-lock.json) are put into the wheel under
turnout_e2b_server/kernels/js/node_modules.

Where they come from: the source checkout's own node_modules when `python3 dev.py sync`
installed it from the same lock (its marker file holds a copy of the lock it installed),
so a build on a development machine or in CI needs no network; otherwise a fresh
`npm ci --omit=dev` into a temporary directory (the source tree is never written to).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

KERNEL_JS = Path("src/turnout_e2b_server/kernels/js")
WHEEL_JS = "turnout_e2b_server/kernels/js"
# Written by dev.py after `npm ci`: a copy of the package-lock.json it installed from.
MARKER = ".turnout-installed"
# Links to the packages' command-line tools: the kernel runs none of them.
SKIPPED = (".bin", MARKER)


class NodeModulesHook(BuildHookInterface):  # type: ignore[misc]
    """Adds the kernel's node_modules to the wheel (not to the sdist, which has the lock)."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # An editable install (a checkout's `dev.py sync`) runs the kernel from the source
        # tree, whose node_modules dev.py installs: nothing is copied into site-packages.
        if self.target_name != "wheel" or version == "editable":
            return
        project = Path(self.root) / KERNEL_JS
        modules = _installed(project) or self._install(project)
        force_include = build_data.setdefault("force_include", {})
        for path in sorted(modules.rglob("*")):
            relative = path.relative_to(modules)
            if path.is_file() and not path.is_symlink() and relative.parts[0] not in SKIPPED:
                force_include[str(path)] = f"{WHEEL_JS}/node_modules/{relative.as_posix()}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        staging = getattr(self, "_staging", None)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)

    def _install(self, project: Path) -> Path:
        """`npm ci --omit=dev` from the project's lock, in a temporary directory."""
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "building turnout-e2b-server needs npm (Node 20) to bundle the JavaScript "
                f"kernel's packages, or {project / 'node_modules'} installed by "
                "`python3 dev.py sync`"
            )
        self._staging = Path(tempfile.mkdtemp(prefix="turnout-e2b-server-npm-"))
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(project / name, self._staging / name)
        subprocess.run(
            [npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--prefix", str(self._staging)],
            check=True,
        )
        return self._staging / "node_modules"


def _installed(project: Path) -> Path | None:
    """The project's node_modules if dev.py installed it from the current lock."""
    modules = project / "node_modules"
    marker = modules / MARKER
    lock = project / "package-lock.json"
    if marker.is_file() and marker.read_bytes() == lock.read_bytes():
        return modules
    return None
