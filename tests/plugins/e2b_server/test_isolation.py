"""Sandboxes as machines: own processes, /proc and /tmp; kernels running from create on."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from e2b_code_interpreter import AsyncSandbox
from turnout_e2b_server import isolation as isolation_module
from turnout_e2b_server.isolation import Isolation, IsolationError
from turnout_e2b_server.testing import ServerProcess

from .support import gone

CANARY = f"turnout-canary-{uuid.uuid4().hex}"
# Python code giving, as JSON, the pids visible under /proc and the kernel's own.
VISIBLE_PIDS = (
    "import json, os; json.dumps([sorted(int(p) for p in os.listdir('/proc') if p.isdigit()), "
    "os.getpid()])"
)


@pytest.fixture(scope="module")
def canary_server() -> Iterator[ServerProcess]:
    """A server whose own environment holds a canary value that user code must not find."""
    env = {**os.environ, "TURNOUT_SERVER_SECRET": CANARY}
    with ServerProcess("--python-pool", "1", "--javascript-pool", "1", env=env) as server:
        if not server.stats()["isolation"]["enabled"]:
            pytest.skip(f"no namespaces here: {server.stats()['isolation']['detail']}")
        yield server


@pytest.fixture
def isolated(e2b_server: ServerProcess) -> ServerProcess:
    """The session server, which must run its kernels in namespaces (else the test skips)."""
    state = e2b_server.stats()["isolation"]
    if not state["enabled"]:
        pytest.skip(f"no namespaces here: {state['detail']}")
    return e2b_server


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Isolation:
    """This host's isolation tools, probed (the tests skip where there are none)."""
    found, why = isolation_module.find(tmp_path_factory.mktemp("probe"))
    if found is None:
        pytest.skip(f"no namespaces here: {why}")
    return found


async def result(sandbox: AsyncSandbox, code: str, language: str | None = None) -> str | None:
    """The text of the cell's result (None without one); the cell must not fail."""
    execution = await sandbox.run_code(code, language=language)
    assert execution.error is None, execution.error
    text = execution.text
    return None if text is None else str(text)


def entry(server: ServerProcess, sandbox_id: str) -> dict[str, Any]:
    """The sandbox's line in the admin stats."""
    return next(s for s in server.stats()["sandboxes"] if s["sandboxID"] == sandbox_id)


def host_processes_with(server: ServerProcess, sandbox_id: str, marker: str) -> list[int]:
    """Host pids of the sandbox's processes whose command line contains `marker`."""
    found = []
    for kernel in entry(server, sandbox_id)["kernel_pids"]:
        for process in psutil.Process(kernel).children(recursive=True):
            try:
                if marker in " ".join(process.cmdline()):
                    found.append(process.pid)
            except psutil.NoSuchProcess:
                pass
    return found


class TestProcessView:
    async def test_no_readable_environ_holds_the_servers_secret(
        self, canary_server: ServerProcess
    ) -> None:
        """No /proc/<pid>/environ that sandbox code can read holds the server's variables."""
        sandbox = await AsyncSandbox.create(**canary_server.sdk_options)
        try:
            found = await result(
                sandbox,
                "import os\n"
                "found = []\n"
                "for pid in os.listdir('/proc'):\n"
                "    try:\n"
                "        with open(f'/proc/{pid}/environ', 'rb') as f:\n"
                f"            if b'{CANARY}' in f.read():\n"
                "                found.append(pid)\n"
                "    except OSError:\n"
                "        pass\n"
                "len(found)",
            )
        finally:
            await sandbox.kill()
        assert found == "0"

    async def test_the_servers_process_is_not_visible(self, canary_server: ServerProcess) -> None:
        """The server's own pid does not exist in the sandbox's /proc."""
        sandbox = await AsyncSandbox.create(**canary_server.sdk_options)
        try:
            seen = await result(
                sandbox, f"__import__('os').path.exists('/proc/{canary_server.pid}')"
            )
        finally:
            await sandbox.kill()
        assert seen == "False"

    async def test_python_sees_only_its_init_and_itself(
        self, isolated: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """The Python kernel's /proc lists PID 1 (the namespace's init) and its own process."""
        visible, own = json.loads(await result(sandbox, VISIBLE_PIDS) or "")
        assert visible == sorted({1, own})

    async def test_javascript_sees_only_its_init_and_itself(
        self, isolated: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """The JavaScript kernel's /proc lists PID 1 (the namespace's init) and its own process."""
        text = await result(
            sandbox,
            "JSON.stringify([require('fs').readdirSync('/proc').filter((n) => /^\\d+$/.test(n))"
            ".map(Number).sort((a, b) => a - b), process.pid])",
            language="js",
        )
        visible, own = json.loads(text or "")
        assert visible == sorted({1, own})


class TestScratchDirectories:
    async def test_tmp_files_do_not_cross_sandboxes(
        self, isolated: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """A file one sandbox writes to /tmp is not in another sandbox's /tmp."""
        first = await AsyncSandbox.create(**sdk)
        second = await AsyncSandbox.create(**sdk)
        try:
            await result(first, "open('/tmp/left-behind', 'w').write('x')")
            seen = await result(second, "__import__('os').path.exists('/tmp/left-behind')")
        finally:
            await first.kill()
            await second.kill()
        assert seen == "False"

    @pytest.mark.parametrize("directory", ["/var/tmp", "/dev/shm"])
    async def test_other_scratch_directories_are_private_too(
        self, isolated: ServerProcess, sdk: dict[str, Any], directory: str
    ) -> None:
        """/var/tmp and /dev/shm are each sandbox's own as well."""
        first = await AsyncSandbox.create(**sdk)
        second = await AsyncSandbox.create(**sdk)
        try:
            await result(first, f"open('{directory}/left-behind', 'w').write('x')")
            seen = await result(second, f"__import__('os').path.exists('{directory}/left-behind')")
        finally:
            await first.kill()
            await second.kill()
        assert seen == "False"

    async def test_python_and_javascript_share_tmp(
        self, isolated: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """The sandbox's two kernels see the same /tmp, as processes of one machine do."""
        await result(sandbox, "open('/tmp/shared', 'w').write('from python')")
        text = await result(sandbox, "require('fs').readFileSync('/tmp/shared', 'utf8')", "js")
        assert text == "from python"

    async def test_a_created_context_shares_tmp(
        self, isolated: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """A context created later gets the sandbox's /tmp, not a fresh one."""
        await result(sandbox, "open('/tmp/shared', 'w').write('x')")
        context = await sandbox.create_code_context()
        execution = await sandbox.run_code(
            "__import__('os').path.exists('/tmp/shared')", context=context
        )
        assert execution.text == "True"

    async def test_a_restarted_javascript_kernel_keeps_tmp(
        self, isolated: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """After the JavaScript kernel dies and restarts, its /tmp is still the sandbox's."""
        await result(sandbox, "open('/tmp/shared', 'w').write('kept')")
        died = await sandbox.run_code("process.exit(3)", language="js")
        assert died.error is not None
        assert died.error.name == "ContextRestarting"
        text = await result(sandbox, "require('fs').readFileSync('/tmp/shared', 'utf8')", "js")
        assert text == "kept"

    async def test_tmp_is_deleted_with_the_sandbox(
        self, isolated: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """Killing a sandbox removes its scratch directories from the server's temp root."""
        sandbox = await AsyncSandbox.create(**sdk)
        await result(sandbox, "open('/tmp/left-behind', 'w').write('x')")
        scratch = Path(isolated.stats()["root"]) / "scratch" / sandbox.sandbox_id
        existed = scratch.is_dir()
        await sandbox.kill()
        assert (existed, scratch.exists()) == (True, False)


class TestKill:
    async def test_a_setsid_child_dies_with_its_sandbox(
        self, isolated: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """A Python child in a session of its own (setsid) does not outlive its sandbox."""
        marker = f"setsid-{uuid.uuid4().hex}"
        sandbox = await AsyncSandbox.create(**sdk)
        await result(
            sandbox,
            "import subprocess, sys\n"
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', "
            f"'{marker}'], start_new_session=True).pid",
        )
        pids = host_processes_with(isolated, sandbox.sandbox_id, marker)
        await sandbox.kill()
        assert len(pids) == 1
        assert gone(pids)

    async def test_a_detached_node_child_dies_with_its_sandbox(
        self, isolated: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """A detached, unref'd child of the JavaScript kernel does not outlive its sandbox."""
        marker = f"detached-{uuid.uuid4().hex}"
        sandbox = await AsyncSandbox.create(**sdk)
        await result(
            sandbox,
            "require('child_process').spawn(process.execPath, ['-e', "
            f"'setInterval(() => {{}}, 1000)', '{marker}'], "
            "{ stdio: 'ignore', detached: true }).unref(); 'started'",
            language="js",
        )
        pids = host_processes_with(isolated, sandbox.sandbox_id, marker)
        await sandbox.kill()
        assert len(pids) == 1
        assert gone(pids)


class TestBoot:
    def test_kernels_run_as_soon_as_create_answers(self, isolated: ServerProcess) -> None:
        """Right after create, before any execution, the sandbox has both kernels."""
        with httpx.Client(base_url=isolated.url, trust_env=False, timeout=30.0) as client:
            response = client.post(
                "/v2/sandboxes",
                json={"templateID": "code-interpreter-v1"},
                headers={"X-API-KEY": isolated.api_key},
            )
            response.raise_for_status()
            sandbox_id = response.json()["sandboxID"]
            pids = entry(isolated, sandbox_id)["kernel_pids"]
            client.delete(f"/sandboxes/{sandbox_id}", headers={"X-API-KEY": isolated.api_key})
        assert len(set(pids)) == 2

    async def test_create_takes_its_kernels_from_a_full_pool(
        self, isolated: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """With the pool full, a create takes one ready kernel per language, starting none."""
        isolated.wait_for_pool()
        isolated.reset()
        sandbox = await AsyncSandbox.create(**sdk)
        counters = isolated.stats()["counters"]
        await sandbox.kill()
        pool = {k: v for k, v in counters.items() if k.startswith("kernel_pool_")}
        assert pool == {"kernel_pool_hits.javascript": 1, "kernel_pool_hits.python": 1}

    async def test_the_first_execution_takes_no_kernel(
        self, isolated: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """The first execution in each language runs on a kernel the create already started."""
        before = isolated.stats()["counters"]
        await result(sandbox, "1")
        await result(sandbox, "1", "js")
        after = isolated.stats()["counters"]
        pool_counters = [k for k in {*before, *after} if k.startswith("kernel_pool_")]
        assert all(before.get(k) == after.get(k) for k in pool_counters)


class TestNamespaces:
    def test_the_wrapped_program_is_not_the_namespaces_init(self, tools: Isolation) -> None:
        """A wrapped program runs in a new PID namespace, under its init (PID 1)."""
        completed = subprocess.run(
            tools.command(["/bin/sh", "-c", 'echo "$$ $PPID"']),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        pid, parent = completed.stdout.split()
        assert int(pid) > 1
        assert parent == "1"

    def test_the_wrapped_program_gets_no_jupyter_parent_pid(self, tools: Isolation) -> None:
        """JPY_PARENT_PID, which would make ipykernel stop itself under PID 1, is removed."""
        completed = subprocess.run(
            tools.command(["/bin/sh", "-c", 'echo "${JPY_PARENT_PID-unset}"']),
            capture_output=True,
            text=True,
            env={"PATH": os.environ["PATH"], "JPY_PARENT_PID": "1234"},
            timeout=30,
            check=True,
        )
        assert completed.stdout.strip() == "unset"

    def test_entering_refuses_a_process_of_the_servers_namespaces(
        self, tools: Isolation, tmp_path: Path
    ) -> None:
        """Mounting is refused for a process that shares the server's namespaces."""
        (tmp_path / "home").mkdir()
        mounts = tools.sandbox(tmp_path / "scratch", tmp_path / "home", 1, 1)
        with pytest.raises(IsolationError, match="namespace of its own"):
            mounts.check_namespaces(os.getpid())


class TestSandboxLayout:
    def tools(self, root: Path) -> Isolation:
        return Isolation(
            unshare="unshare",
            setpriv="setpriv",
            covered=(root / "covered", Path("/var/tmp")),
            hidden=(Path("/root"), Path("/home")),
            anchors=(root / "covered" / "venv", Path("/root/.pyenv")),
        )

    def test_the_home_goes_on_home_user_then_the_scratch_copies(self, tmp_path: Path) -> None:
        """A sandbox mounts its directory on /home/user, then one scratch copy per path."""
        root = Path(os.path.realpath(tmp_path))
        (root / "home").mkdir()
        mounts = self.tools(root).sandbox(root / "scratch", root / "home", 7, 8)
        assert [target for target, _ in mounts.mounts] == [
            Path("/home/user"),
            root / "covered",
            Path("/var/tmp"),
        ]
        assert mounts.mounts[0][1] == root / "home"
        assert (mounts.uid, mounts.gid) == (7, 8)

    def test_scratch_directories_are_world_writable_and_sticky(self, tmp_path: Path) -> None:
        """Each private copy has /tmp's mode, 1777."""
        (tmp_path / "home").mkdir()
        mounts = self.tools(tmp_path).sandbox(tmp_path / "scratch", tmp_path / "home", 1, 1)
        assert oct(mounts.mounts[1][1].stat().st_mode & 0o7777) == oct(0o1777)

    def test_root_and_home_are_hidden_and_home_user_made(self, tmp_path: Path) -> None:
        """/root and /home are covered (/home/user made in its cover), and every anchor
        (the interpreter under /root, a venv under /tmp) is kept."""
        root = Path(os.path.realpath(tmp_path))
        (root / "home").mkdir()
        mounts = self.tools(root).sandbox(root / "scratch", root / "home", 1, 1)
        assert dict(mounts.covers) == {"/root": [], "/home": ["/home/user"]}
        assert set(mounts.keep) == {root / "covered" / "venv", Path("/root/.pyenv")}

    def test_find_says_which_tools_are_missing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without util-linux where it looks, find returns None and names the tools."""
        monkeypatch.setattr(isolation_module, "TOOL_PATH", str(tmp_path))
        monkeypatch.setenv("PATH", str(tmp_path))
        found, why = isolation_module.find(tmp_path)
        assert found is None
        assert "unshare" in why
        assert "setpriv" in why

    def test_a_server_that_is_not_root_cannot_confine(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without root there are no namespaces to make: the reason says so up front, so the
        e2b backend does not declare confined sandboxes it cannot have."""
        monkeypatch.setattr(isolation_module.os, "geteuid", lambda: 1000)
        assert "root" in (isolation_module.unavailable_reason() or "")

    def test_a_linux_older_than_5_12_cannot_confine(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The mount API the confinement uses came with Linux 5.12."""
        monkeypatch.setattr(isolation_module, "_linux_release", lambda: (5, 10))
        monkeypatch.setattr(isolation_module, "_holds_sys_admin", lambda: True)
        monkeypatch.setattr(isolation_module.os, "geteuid", lambda: 0)
        assert "5.12" in (isolation_module.unavailable_reason() or "")

    def test_a_root_without_cap_sys_admin_cannot_confine(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A container's root (no CAP_SYS_ADMIN) cannot make namespaces either: the reason
        says so, so the embedded server keeps running its kernels unconfined there, declared
        as such, instead of refusing to start."""
        monkeypatch.setattr(isolation_module, "_holds_sys_admin", lambda: False)
        monkeypatch.setattr(isolation_module.os, "geteuid", lambda: 0)
        assert "CAP_SYS_ADMIN" in (isolation_module.unavailable_reason() or "")
