"""What `pip install turnout turnout-e2b` installs: the backend, never the local server.

The local E2B-compatible server (starlette, uvicorn, jupyter, ipykernel) is its own
distribution, which turnout-e2b reaches only through its `local-server` extra; the wheels
a release would build say so in their metadata.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.wheels import ROOT, build_wheel, metadata, unconditional_requirements

SERVER_ONLY = {"starlette", "uvicorn", "jupyter-client", "ipykernel", "turnout-e2b-server"}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Fresh wheels of turnout and turnout-e2b."""
    out = tmp_path_factory.mktemp("wheels")
    return {
        "turnout": build_wheel(ROOT, out / "turnout"),
        "turnout-e2b": build_wheel(ROOT / "plugins" / "e2b", out / "turnout-e2b"),
    }


@pytest.mark.slow
@pytest.mark.parametrize("distribution", ["turnout", "turnout-e2b"])
def test_no_server_package_is_required_outside_an_extra(
    wheels: dict[str, Path], distribution: str
) -> None:
    """Neither wheel requires the server or what it runs on unless an extra is asked for."""
    assert unconditional_requirements(wheels[distribution]) & SERVER_ONLY == set()


@pytest.mark.slow
def test_the_local_server_extra_requires_the_server_distribution(
    wheels: dict[str, Path],
) -> None:
    """turnout-e2b[local-server] is how the local server is installed with the backend."""
    requirements = metadata(wheels["turnout-e2b"])["Requires-Dist"]
    assert "local-server" in metadata(wheels["turnout-e2b"])["Provides-Extra"]
    assert any(
        r.startswith("turnout-e2b-server") and "extra == 'local-server'" in r.replace('"', "'")
        for r in requirements
    )
