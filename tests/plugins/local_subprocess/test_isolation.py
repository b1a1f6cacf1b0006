from __future__ import annotations

from pathlib import Path

import pytest
from turnout_local_subprocess import isolation
from turnout_local_subprocess.identity import Identity
from turnout_local_subprocess.isolation import (
    INIT_NAME,
    SHELL,
    InitReport,
    Namespaces,
    read_report,
)
from turnout_local_subprocess.workdir import Workspace

from .support import needs_namespaces


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    created = Workspace(tmp_path / "root")
    created.work.mkdir(parents=True)
    created.control.mkdir()
    return created


class TestCommand:
    """The wrapped command line and the private scratch directories it mounts."""

    def test_layout(self, workspace: Workspace):
        """unshare with its flags, then the init shell with its arguments, then the program."""
        namespaces = Namespaces("/usr/bin/unshare", "/usr/bin/mount", ())
        argv = namespaces.command(workspace, ["python3", "-I", "p.py"], limit=("-v", 1024))
        assert argv[:7] == [
            "/usr/bin/unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--ipc",
            "--kill-child",
            "--",
        ]
        assert argv[7:9] == [SHELL, "-c"]
        assert argv[10:16] == [INIT_NAME, "/usr/bin/mount", "", str(workspace.work), "-v", "1024"]
        assert argv[16:] == ["--", "python3", "-I", "p.py"]

    def test_identity_wraps_the_program(self, workspace: Workspace):
        """With an identity, the program (and only the program) is started through setpriv."""
        identity = Identity(65000, 65001, "/usr/bin/setpriv")
        namespaces = Namespaces("unshare", "mount", (), identity)
        argv = namespaces.command(workspace, ["python3", "p.py"], limit=None)
        program = argv[argv.index("--", argv.index(INIT_NAME)) + 1 :]
        assert program == [
            "/usr/bin/setpriv",
            "--reuid=65000",
            "--regid=65001",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            "python3",
            "p.py",
        ]

    def test_mounts_are_planned_in_the_workspace(self, workspace: Workspace):
        """The fstab of `mounts` is passed to the init, with its checks before the program."""
        covering = workspace.root.parent
        namespaces = Namespaces("unshare", "mount", (covering,))
        argv = namespaces.command(workspace, ["true"], limit=None)
        copy = workspace.root / "scratch" / "-".join(covering.parts[1:])
        start = argv.index(INIT_NAME)
        assert argv[start + 2] == str(workspace.control / "fstab")
        assert argv[start + 6 : argv.index("--", start)] == [str(covering), str(copy)]


class TestFind:
    """Whether this host can run programs in namespaces, decided once."""

    def test_missing_unshare_is_explained(self):
        """Without unshare there are no namespaces, and the reason names it."""
        namespaces, problem = isolation.find("no-such-unshare-binary")
        assert namespaces is None
        assert "no-such-unshare-binary" in problem

    @needs_namespaces
    def test_probe_runs_once(self):
        """The probe's verdict is cached: finding again does not run the wrapper again."""
        isolation.find()
        before = isolation._probe.cache_info()
        namespaces, problem = isolation.find()
        after = isolation._probe.cache_info()
        assert namespaces is not None
        assert problem == ""
        assert (after.hits, after.misses) == (before.hits + 1, before.misses)


class TestReadReport:
    """The wrapper's channel: READY once set up, then EXIT with the status, amid messages."""

    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            (b"", InitReport(ready=False, status=None)),
            (b"\0ready\0\0exit 0\0", InitReport(ready=True, status=0)),
            (b"\0ready\0\0exit 137\0", InitReport(ready=True, status=137)),
            (b"\0ready\0", InitReport(ready=True, status=None)),
            (b"\0ready\0\0exit \0", InitReport(ready=True, status=None, said="exit")),
            (b"\0exit 0\0", InitReport(ready=False, status=None)),
            (
                b"\0ready\0unshare: sigprocmask unblock failed: Invalid argument\n",
                InitReport(
                    ready=True,
                    status=None,
                    said="unshare: sigprocmask unblock failed: Invalid argument",
                ),
            ),
            (
                b"mount: /tmp: permission denied.\n",
                InitReport(ready=False, status=None, said="mount: /tmp: permission denied."),
            ),
        ],
    )
    def test_parsing(self, data: bytes, expected: InitReport):
        """Ready needs its frame; a status needs ready and its digits; the rest is said."""
        assert read_report(data) == expected
