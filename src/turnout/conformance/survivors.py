"""Finding what an execution left running on this host, by marks its processes cannot shed.

A case that expects `no_survivors` gets a one-line prelude before its code, run as the
code's first statement. It sets `TURNOUT_CONFORMANCE_MARKER` to the case's marker in the
program's environment, which every process the program starts afterwards inherits
(through `fork`, `exec`, `setsid`, a double fork or a `chdir /`), and it opens a file named
after the marker in the working directory and keeps it open, so the program itself carries
the marker in its open files even when its command line is only `python3 program.py` and
its directory has been deleted. After the execution, `host_survivors` looks at every live
process of this host for the marker in its command line (where hostile cases put it), its
environment or its open files, and names each one found: pid, how it was found, and its
command line.

The prelude is one line, so the code's own lines move down by one: a `no_survivors` case
cannot also expect an error line (the loader refuses that combination).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Collection
from pathlib import Path

__all__ = ["HELD_FILE_PREFIX", "MARKER_VARIABLE", "host_survivors", "kill_carriers", "prelude"]

MARKER_VARIABLE = "TURNOUT_CONFORMANCE_MARKER"
HELD_FILE_PREFIX = ".turnout-held-"
_COMMAND_SHOWN = 160


def prelude(language: str, marker: str) -> str:
    """The line put before a `no_survivors` case's code (see the module docstring)."""
    held = f"{HELD_FILE_PREFIX}{marker}"
    if language == "python":
        return (
            f"(lambda os: os.environ.__setitem__({MARKER_VARIABLE!r}, {marker!r}) or "
            f"(os.access('.', os.W_OK) and os.open({held!r}, os.O_WRONLY | os.O_CREAT, 0o600)))"
            "(__import__('os'))\n"
        )
    return (
        f"((fs) => {{ process.env.{MARKER_VARIABLE} = '{marker}'; "
        f"try {{ fs.openSync('{held}', 'w'); }} catch (e) {{}} }})(require('fs'));\n"
    )


def _state(entry: Path) -> str:
    stat = (entry / "stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()[0]


def _holds(entry: Path, marker: str) -> bool:
    with contextlib.suppress(OSError):
        for fd in os.listdir(entry / "fd"):
            with contextlib.suppress(OSError):
                if marker in os.readlink(entry / "fd" / fd):
                    return True
    return False


def _found_by(entry: Path, marker: str, command: str) -> str | None:
    """How `entry` carries `marker`, or None when it does not."""
    if marker in command:
        return "its command line"
    with contextlib.suppress(OSError):
        environment = (entry / "environ").read_bytes()
        if marker.encode() in environment:
            return "its environment"
    if _holds(entry, marker):
        return "a file it holds open"
    return None


def host_survivors(marker: str) -> list[str]:
    """Live processes of this host that carry `marker` (zombies excluded), each as
    `pid N (found by ...): command line`."""
    found: list[str] = []
    own = os.getpid()
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            raw = (entry / "cmdline").read_bytes()
            command = raw.replace(b"\0", b" ").decode("utf-8", "replace")
            how = _found_by(entry, marker, command)
            command = " ".join(command.split())
            if how is None or _state(entry) in ("Z", "X"):
                continue
            shown = command[:_COMMAND_SHOWN] + ("…" if len(command) > _COMMAND_SHOWN else "")
            found.append(f"pid {entry.name} (found by {how}): {shown or '[no command line]'}")
    return found


def kill_carriers(markers: Collection[str]) -> int:
    """SIGKILL every live process of this host carrying one of `markers` (what a backend
    under test failed to stop); returns how many were signalled. Only markers this process
    handed out are ever given, so nothing else is touched."""
    killed = 0
    own = os.getpid()
    wanted = [marker.encode() for marker in markers if marker]
    for entry in Path("/proc").iterdir() if wanted else ():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        with contextlib.suppress(OSError, ValueError):
            marks = [(entry / "cmdline").read_bytes()]
            with contextlib.suppress(OSError):
                marks.append((entry / "environ").read_bytes())
            with contextlib.suppress(OSError):
                marks += [
                    os.readlink(entry / "fd" / fd).encode() for fd in os.listdir(entry / "fd")
                ]
            if any(marker in mark for marker in wanted for mark in marks):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
    return killed
