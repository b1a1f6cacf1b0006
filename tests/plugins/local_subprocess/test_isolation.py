from __future__ import annotations

import stat
from pathlib import Path

import pytest
from turnout_local_subprocess import isolation
from turnout_local_subprocess.isolation import (
    INIT_NAME,
    SHELL,
    InitReport,
    Namespaces,
    read_report,
    start_failure,
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
        assert argv[:6] == [
            "/usr/bin/unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "--",
        ]
        assert argv[6:8] == [SHELL, "-c"]
        assert argv[9:15] == [INIT_NAME, "/usr/bin/mount", "", str(workspace.work), "-v", "1024"]
        assert argv[15:] == ["--", "python3", "-I", "p.py"]

    def test_scratch_copies_and_anchor(self, workspace: Workspace):
        """Each covered directory gets a world-writable sticky copy; the workspace, which
        lies under one of them, is bind-mounted onto its own path inside that copy first."""
        covering = workspace.root.parent
        other = Path("/nonexistent-scratch")
        namespaces = Namespaces("unshare", "mount", (other, covering))
        argv = namespaces.command(workspace, ["true"], limit=None)
        fstab = workspace.control / "fstab"
        copy = workspace.root / "scratch" / "-".join(covering.parts[1:])
        anchor = copy / workspace.root.relative_to(covering)
        assert fstab.read_text().splitlines() == [
            f"{workspace.root} {anchor} none bind 0 0",
            f"{workspace.root / 'scratch' / 'nonexistent-scratch'} {other} none rbind 0 0",
            f"{copy} {covering} none rbind 0 0",
        ]
        assert anchor.is_dir()
        assert stat.S_IMODE(copy.stat().st_mode) == 0o1777
        start = argv.index(INIT_NAME) + 6  # after mount, fstab, workdir, flag and KiB
        checks = argv[start : argv.index("--", start)]
        assert checks == [
            str(other),
            str(workspace.root / "scratch" / "nonexistent-scratch"),
            str(covering),
            str(copy),
        ]

    def test_fstab_escapes_whitespace_and_backslashes(self):
        """Paths go into fstab with octal escapes, as libmount expects."""
        field = isolation._fstab_field(Path("/tmp/a b\tc\\d\ne"))
        assert field == "/tmp/a\\040b\\011c\\134d\\012e"


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


class TestStartFailure:
    """Telling the init's exec failure from the program's own exit."""

    def test_exec_failure_is_recognised(self):
        """127 with the init's message first in stderr is a failure to start."""
        said = f"{INIT_NAME}: 16: exec: /x/python: not found\n"
        assert start_failure(127, said) == said.strip()

    @pytest.mark.parametrize(
        ("returncode", "stderr"),
        [(0, f"{INIT_NAME}: x"), (127, "Traceback: ..."), (None, f"{INIT_NAME}: x")],
    )
    def test_program_exits_are_not(self, returncode: int | None, stderr: str):
        """A clean exit, or a failure whose stderr the program wrote, is the program's."""
        assert start_failure(returncode, stderr) is None


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
