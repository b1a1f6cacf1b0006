"""The turnout-e2b-server wheel carries its JavaScript kernel's Node packages (hatch_build.py),
so an installed server never needs npm."""

from __future__ import annotations

import json
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.wheels import ROOT, build_wheel

PROJECT = ROOT / "plugins" / "e2b_server"
JS = "turnout_e2b_server/kernels/js"


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The file names in a freshly built wheel of turnout-e2b-server."""
    wheel = build_wheel(PROJECT, tmp_path_factory.mktemp("wheel"))
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.mark.slow
def test_the_wheel_holds_every_package_of_the_kernels_lock(wheel_names: set[str]) -> None:
    """Every production package of the kernel's package-lock.json is in the wheel."""
    lock = json.loads((PROJECT / "src" / JS / "package-lock.json").read_text())
    packages = [path for path, entry in lock["packages"].items() if path and not entry.get("dev")]
    assert {"node_modules/sucrase", "node_modules/acorn"} <= set(packages)
    missing = [path for path in packages if f"{JS}/{path}/package.json" not in wheel_names]
    assert missing == []


@pytest.mark.slow
def test_the_wheel_holds_no_install_marker_or_tool_links(wheel_names: set[str]) -> None:
    """Only the packages go in: not dev.py's install marker, not npm's .bin links."""
    assert not [n for n in wheel_names if "/.turnout-installed" in n or "node_modules/.bin/" in n]


def test_an_editable_install_copies_nothing_into_site_packages() -> None:
    """A checkout's editable install runs the kernel from the source tree: the build hook
    copies none of the kernel's packages into site-packages."""
    site_packages = Path(sysconfig.get_paths()["purelib"])
    assert not (site_packages / "turnout_e2b_server").exists()
