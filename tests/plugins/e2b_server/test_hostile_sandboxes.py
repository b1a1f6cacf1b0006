"""Hostile code in one sandbox against the server, the host and a concurrent sandbox.

Each test is one attack that code in a local sandbox once carried out against the server
(found its port in /proc/net/tcp, listed and drove other sandboxes, changed the API key,
extended its own lifetime, ran as root: unmounted /proc and /tmp, read other processes'
environments and the host's files, wrote files another sandbox later read, kept a daemon
writing to the host after its node ended). Every attempt must now fail by permission, and
nothing the attacker planted is seen anywhere.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2b_code_interpreter import AsyncSandbox
from turnout_e2b_server.sandbox_mounts import SANDBOX_MAX_PROCESSES
from turnout_e2b_server.testing import ServerProcess

from .support import gone

SECRET = f"turnout-planted-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def planted_file() -> Iterator[Path]:
    """A root-only file on the host holding the secret (as a key file would)."""
    path = Path("/root") / f".{SECRET}"
    path.write_text(SECRET)
    path.chmod(0o600)
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def server(planted_file: Path) -> Iterator[ServerProcess]:
    """A server whose environment holds the secret; its kernels must be confined."""
    env = {**os.environ, "TURNOUT_SERVER_SECRET": SECRET}
    with ServerProcess("--python-pool", "2", "--javascript-pool", "2", env=env) as started:
        if not started.stats()["isolation"]["enabled"]:
            pytest.skip(f"no confinement here: {started.stats()['isolation']['detail']}")
        yield started


@pytest.fixture
async def attacker(server: ServerProcess) -> AsyncIterator[AsyncSandbox]:
    created = await AsyncSandbox.create(**server.sdk_options)
    yield created
    await created.kill()


async def value(sandbox: AsyncSandbox, code: str, language: str = "python") -> Any:
    """The JSON value the cell's last expression (a JSON string) holds."""
    execution = await sandbox.run_code(code, language=language)
    assert execution.error is None, execution.error
    return json.loads(execution.text or "null")


def port_of(server: ServerProcess) -> int:
    return int(server.url.rsplit(":", 1)[1])


CONNECT = """
import json, socket
reached = []
for host in ('127.0.0.1', '::1', 'localhost'):
    try:
        socket.create_connection((host, {port}), timeout=2).close()
        reached.append(host)
    except OSError:
        pass
listening = [l.split()[1] for l in open('/proc/net/tcp').read().splitlines()[1:]
             if l.split()[3] == '0A']
json.dumps({{'reached': reached, 'listening': listening}})
"""

CONNECT_JS = """
const net = require('net');
const tryHost = (host) => new Promise((resolve) => {
  const socket = net.connect({ host, port: PORT, timeout: 2000 });
  socket.on('connect', () => { socket.destroy(); resolve(host); });
  socket.on('error', () => resolve(null));
  socket.on('timeout', () => { socket.destroy(); resolve(null); });
});
JSON.stringify((await Promise.all(['127.0.0.1', '::1'].map(tryHost))).filter(Boolean));
"""


class TestTheServerIsOutOfReach:
    async def test_python_finds_and_reaches_no_server_port(
        self, server: ServerProcess, attacker: AsyncSandbox
    ) -> None:
        """/proc/net/tcp does not list the server's port (only the sandbox's own network is
        there), and that port cannot be connected to on any loopback address."""
        port = port_of(server)
        seen = await value(attacker, CONNECT.format(port=port))
        assert seen["reached"] == []
        assert not [a for a in seen["listening"] if a.endswith(f":{port:04X}")]

    async def test_javascript_reaches_no_server_port(
        self, server: ServerProcess, attacker: AsyncSandbox
    ) -> None:
        """The JavaScript kernel cannot connect to the server's port either."""
        code = CONNECT_JS.replace("PORT", str(port_of(server)))
        assert await value(attacker, code, "js") == []

    async def test_loopback_works_inside_the_sandbox(self, attacker: AsyncSandbox) -> None:
        """The sandbox's own loopback is up: a server it starts is reachable from it."""
        code = (
            "import json, socket\n"
            "listener = socket.create_server(('127.0.0.1', 0))\n"
            "client = socket.create_connection(listener.getsockname(), timeout=2)\n"
            "peer, _ = listener.accept()\n"
            "client.sendall(b'ok')\n"
            "json.dumps(peer.recv(2).decode())"
        )
        assert await value(attacker, code) == "ok"

    async def test_a_sandbox_cannot_extend_its_own_lifetime(
        self, server: ServerProcess, attacker: AsyncSandbox
    ) -> None:
        """With no way to the control plane, set_timeout from inside fails; the lifetime
        the creator set stays."""
        before = next(
            s["endAt"] for s in server.stats()["sandboxes"] if s["sandboxID"] == attacker.sandbox_id
        )
        code = (
            "import json, urllib.request\n"
            f"request = urllib.request.Request('{server.url}/sandboxes/{attacker.sandbox_id}"
            "/timeout', data=b'{\"timeout\": 3600}', method='POST',\n"
            "    headers={'X-API-KEY': 'guess', 'Content-Type': 'application/json'})\n"
            "try:\n"
            "    urllib.request.urlopen(request, timeout=3)\n"
            "    outcome = 'extended'\n"
            "except Exception as exc:\n"
            "    outcome = type(exc).__name__\n"
            "json.dumps(outcome)"
        )
        assert await value(attacker, code) == "URLError"
        after = next(
            s["endAt"] for s in server.stats()["sandboxes"] if s["sandboxID"] == attacker.sandbox_id
        )
        assert after == before


FIND_STRINGS = """
import glob, json, os
wanted = {wanted!r}
found = []
paths = glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline')
for top in ('/home/user', '/tmp', '/var/tmp', '/dev/shm', '/run'):
    for folder, _, files in os.walk(top):
        paths += [os.path.join(folder, name) for name in files]
for path in paths:
    try:
        with open(path, 'rb') as handle:
            data = handle.read(1 << 20).decode('utf-8', 'replace')
    except OSError:
        continue
    found += [path for secret in wanted if secret in data]
json.dumps([sorted(set(found)), len(paths)])
"""


class TestControlPlaneSecrets:
    async def test_the_key_and_the_sandboxs_tokens_are_nowhere_its_code_can_read(
        self, server: ServerProcess, attacker: AsyncSandbox
    ) -> None:
        """The server's API key and the sandbox's own envd and traffic tokens are in no
        environment or command line it can read, nor in any file of its home or scratch
        directories or /run: with them it could drive the server or other routes."""
        wanted = [server.api_key, attacker._envd_access_token, attacker.traffic_access_token]
        assert all(wanted)
        found, looked_at = await value(attacker, FIND_STRINGS.format(wanted=wanted))
        assert found == []
        assert looked_at > 0


class TestNeverRoot:
    async def test_both_kernels_run_as_the_sandboxs_unprivileged_user(
        self, attacker: AsyncSandbox
    ) -> None:
        """uid and gid are not 0, no capability is held and privileges cannot be gained."""
        python = await value(
            attacker,
            "import json, os\n"
            "status = dict(l.split(':\\t', 1) for l in open('/proc/self/status').read()"
            ".splitlines() if ':\\t' in l)\n"
            "json.dumps([os.getuid(), os.getgid(), os.getgroups(), status['CapEff'].strip(),"
            " status['NoNewPrivs'].strip()])",
        )
        javascript = await value(
            attacker, "JSON.stringify([process.getuid(), process.getgid()])", "js"
        )
        uid, gid, groups, capabilities, no_new_privs = python
        assert uid != 0
        assert gid != 0
        assert groups in ([], [gid])
        assert (capabilities, no_new_privs) == ("0000000000000000", "1")
        assert javascript == [uid, gid]

    @pytest.mark.parametrize("target", ["/proc", "/tmp", "/home/user"])
    async def test_mounts_cannot_be_undone(self, attacker: AsyncSandbox, target: str) -> None:
        """umount of the private /proc, /tmp or /home/user is refused by permission."""
        code = (
            "import json, subprocess\n"
            f"done = subprocess.run(['umount', '{target}'], capture_output=True, text=True)\n"
            "json.dumps([done.returncode, done.stderr])"
        )
        status, said = await value(attacker, code)
        assert status != 0
        assert "must be superuser" in said or "not permitted" in said

    async def test_no_environment_or_host_file_holds_the_secret(
        self, attacker: AsyncSandbox, planted_file: Path
    ) -> None:
        """Every /proc/*/environ and cmdline it can read, /root and the planted root-only
        file: the secret is nowhere, and the reads fail by permission or absence."""
        code = (
            "import glob, json, os\n"
            f"secret = {SECRET!r}\n"
            "found, refused = [], []\n"
            "for path in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline')"
            f" + ['{planted_file}', '/proc/1/root/{planted_file}']:\n"
            "    try:\n"
            "        if secret in open(path, 'rb').read().decode('utf-8', 'replace'):\n"
            "            found.append(path)\n"
            "    except OSError as exc:\n"
            "        refused.append(path)\n"
            "json.dumps([found, os.listdir('/root'), len(refused) > 0])"
        )
        found, root_listing, refused_some = await value(attacker, code)
        assert found == []
        assert all(not name.startswith(".turnout-planted") for name in root_listing)
        assert refused_some

    async def test_nothing_outside_the_sandbox_is_writable(self, attacker: AsyncSandbox) -> None:
        """Writing to the host's directories (world-writable ones included) fails by
        permission or a read-only file system, and no cgroup limit is writable (checked
        with access(), never by writing); /home/user and /tmp work."""
        marker = f"turnout-hostile-{uuid.uuid4().hex}"
        places = ["/etc", "/usr/local", "/var/lib", "/run/lock", "/root", "/home", "/"]
        code = (
            "import glob, json, os\n"
            f"places = {places!r} + glob.glob('/sys/fs/cgroup/*')\n"
            "written = []\n"
            "for place in places + ['/home/user', '/tmp', '/var/tmp', '/dev/shm']:\n"
            "    try:\n"
            f"        with open(os.path.join(place, '{marker}'), 'w') as handle:\n"
            "            handle.write('x')\n"
            "        written.append(place)\n"
            "    except OSError:\n"
            "        pass\n"
            "limits = glob.glob('/sys/fs/cgroup/*/*.max') + glob.glob('/sys/fs/cgroup/*/*/*.max')\n"
            "written += [path for path in limits if os.access(path, os.W_OK)]  # never written\n"
            "json.dumps(written)"
        )
        try:
            written = await value(attacker, code)
        finally:
            for place in places:  # there only if the confinement failed
                await asyncio.to_thread(Path(place, marker).unlink, missing_ok=True)
        assert written == ["/home/user", "/tmp", "/var/tmp", "/dev/shm"]


FORK_UNTIL_REFUSED = """
import json, os, signal, time
children, refused = [], None
for _ in range({attempts}):
    try:
        child = os.fork()
    except OSError as exc:
        refused = exc.errno
        break
    if child == 0:
        time.sleep(60)
        os._exit(0)
    children.append(child)
for child in children:
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
json.dumps([len(children), refused])
"""


class TestProcessLimit:
    async def test_a_fork_loop_stops_at_the_sandboxs_process_limit(
        self, attacker: AsyncSandbox
    ) -> None:
        """Processes and threads of one sandbox are bounded (its uid's RLIMIT_NPROC): forking
        more than the limit is refused with EAGAIN, so a fork bomb cannot fill the host."""
        attempts = SANDBOX_MAX_PROCESSES + 64
        started, refused = await value(attacker, FORK_UNTIL_REFUSED.format(attempts=attempts))
        assert refused == errno.EAGAIN
        assert started < SANDBOX_MAX_PROCESSES

    async def test_a_killed_sandboxs_uid_is_not_given_to_the_next_one(
        self, server: ServerProcess
    ) -> None:
        """Uids are handed out in turn: the processes of a killed sandbox may still be being
        torn down, counting against its uid's limit, when the next sandbox is created."""
        uids = []
        for _ in range(2):
            sandbox = await AsyncSandbox.create(**server.sdk_options)
            try:
                uids.append(await value(sandbox, "import os; str(os.getuid())"))
            finally:
                await sandbox.kill()
        assert uids[0] != uids[1]

    async def test_the_limit_is_per_sandbox(self, server: ServerProcess) -> None:
        """A sandbox holding processes up to its limit does not use up another's."""
        hog, other = [await AsyncSandbox.create(**server.sdk_options) for _ in range(2)]
        hold = FORK_UNTIL_REFUSED.replace("for child in children:", "for child in []:")
        try:
            held, _ = await value(hog, hold.format(attempts=SANDBOX_MAX_PROCESSES))
            started, refused = await value(other, FORK_UNTIL_REFUSED.format(attempts=32))
        finally:
            await hog.kill()
            await other.kill()
        assert held > SANDBOX_MAX_PROCESSES // 2
        assert (started, refused) == (32, None)


class TestNothingSurvives:
    async def test_a_daemon_writes_nothing_to_the_host_and_dies_with_the_sandbox(
        self, server: ServerProcess
    ) -> None:
        """A setsid daemon that tries to keep writing to a host file cannot write it, and it
        is gone once the sandbox is killed."""
        marker = f"turnout-daemon-{uuid.uuid4().hex}"
        target = Path("/run/lock") / marker  # world-writable on the host
        sandbox = await AsyncSandbox.create(**server.sdk_options)
        loop = (
            "import time\n"
            "while True:\n"
            "    try:\n"
            f"        open({str(target)!r}, 'a').write('x')\n"
            "    except OSError:\n"
            "        pass\n"
            "    time.sleep(0.1)\n"
        )
        code = (
            "import json, subprocess, sys\n"
            f"child = subprocess.Popen([sys.executable, '-c', {loop!r}, {marker!r}],"
            " start_new_session=True)\n"
            "json.dumps(child.pid)"
        )
        try:
            await value(sandbox, code)
            kernels = next(
                s["kernel_pids"]
                for s in server.stats()["sandboxes"]
                if s["sandboxID"] == sandbox.sandbox_id
            )
            daemons = [
                child.pid
                for kernel in kernels
                for child in __import__("psutil").Process(kernel).children(recursive=True)
                if marker in " ".join(child.cmdline())
            ]
        finally:
            await sandbox.kill()
        try:
            assert len(daemons) == 1
            assert gone(daemons)
            assert not target.exists()
        finally:
            target.unlink(missing_ok=True)


VICTIM = """
const fs = require('fs');
await new Promise((resolve) => setTimeout(resolve, 3000));
JSON.stringify(JSON.parse(fs.readFileSync('/home/user/input.json', 'utf8')));
"""

ATTACK = """
import glob, json, os, socket
found = {{}}
def attempt(name, action):
    try:
        found[name] = action()
    except Exception as exc:
        found[name] = 'refused: ' + type(exc).__name__
attempt('victim input by its host path', lambda: open({victim_home!r} + '/input.json').read())
attempt('server root listing', lambda: os.listdir({root!r}))
attempt('other sandboxes in /tmp', lambda: sorted(glob.glob('/tmp/turnout-e2b-*')))
attempt('server port', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=2).close())
attempt('plant for the victim', lambda: open({victim_home!r} + '/input.json', 'w').write('{{}}'))
json.dumps(found)
"""


class TestTwoSandboxes:
    async def test_an_attacker_cannot_touch_a_concurrent_victim(
        self, server: ServerProcess, attacker: AsyncSandbox
    ) -> None:
        """While a victim sandbox runs, an attacker that even knows the victim's host path
        and the server's port reads, changes and reaches nothing; the victim's result is
        exactly its own input."""
        victim = await AsyncSandbox.create(**server.sdk_options)
        try:
            await victim.files.write("/home/user/input.json", json.dumps({"secret": SECRET}))
            stats = server.stats()
            home = next(
                s["home"] for s in stats["sandboxes"] if s["sandboxID"] == victim.sandbox_id
            )
            running = asyncio.ensure_future(victim.run_code(VICTIM, language="js", timeout=30))
            attack = ATTACK.format(victim_home=home, root=stats["root"], port=port_of(server))
            attempts = await value(attacker, attack)
            outcome = await running
        finally:
            await victim.kill()
        assert outcome.error is None
        assert json.loads(outcome.text or "null") == {"secret": SECRET}
        assert attempts["other sandboxes in /tmp"] == []
        refused = {k: v for k, v in attempts.items() if k != "other sandboxes in /tmp"}
        assert all(str(v).startswith("refused: ") for v in refused.values()), attempts
        assert SECRET not in json.dumps(attempts)
