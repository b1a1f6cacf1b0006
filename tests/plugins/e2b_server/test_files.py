"""envd's file API through the unmodified SDK: uploads, downloads and path mapping."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from e2b import FileNotFoundException, InvalidArgumentException, SandboxException
from e2b_code_interpreter import AsyncSandbox
from turnout_e2b_server.testing import ServerProcess

from .support import ENVD_PORT, sandbox_headers

TEN_MB = 10 * 1024 * 1024


class TestFileTransfer:
    async def test_ten_megabytes_round_trip(self, sandbox: AsyncSandbox) -> None:
        """10 MB of random bytes come back identical."""
        data = os.urandom(TEN_MB)
        await sandbox.files.write("/home/user/big.bin", data)
        assert bytes(await sandbox.files.read("/home/user/big.bin", format="bytes")) == data

    async def test_octet_stream_upload_round_trips(self, sandbox: AsyncSandbox) -> None:
        """An application/octet-stream upload is stored like a multipart one."""
        await sandbox.files.write("raw.txt", b"raw bytes", use_octet_stream=True)
        assert await sandbox.files.read("raw.txt") == "raw bytes"

    async def test_gzip_upload_is_decompressed(self, sandbox: AsyncSandbox) -> None:
        """A gzip-encoded octet-stream upload is stored decompressed."""
        await sandbox.files.write("zipped.txt", b"compressed " * 1000, gzip=True)
        assert await sandbox.files.read("zipped.txt") == "compressed " * 1000

    async def test_several_files_in_one_multipart_upload(self, sandbox: AsyncSandbox) -> None:
        """write_files stores every part under its own path."""
        await sandbox.files.write_files(
            [
                {"path": "m/one.txt", "data": "1"},
                {"path": "/home/user/m/two.txt", "data": "2"},
            ]
        )
        assert [await sandbox.files.read(p) for p in ("m/one.txt", "m/two.txt")] == ["1", "2"]

    async def test_write_reports_name_type_and_path(self, sandbox: AsyncSandbox) -> None:
        """write() returns the file's name, type and absolute sandbox path."""
        info = await sandbox.files.write("out/result.json", "{}")
        assert (info.name, info.type and info.type.value, info.path) == (
            "result.json",
            "file",
            "/home/user/out/result.json",
        )

    async def test_relative_and_absolute_paths_are_the_same_file(
        self, sandbox: AsyncSandbox
    ) -> None:
        """A relative path is relative to /home/user."""
        await sandbox.files.write("nested/dir/a.txt", "same")
        assert await sandbox.files.read("/home/user/nested/dir/a.txt") == "same"

    async def test_code_sees_uploaded_files_in_its_cwd(self, sandbox: AsyncSandbox) -> None:
        """A file uploaded to /home/user is readable by code under its relative name."""
        await sandbox.files.write("/home/user/input.txt", "from the host")
        execution = await sandbox.run_code("open('input.txt').read()")
        assert execution.text == "from the host"

    async def test_files_written_by_code_can_be_downloaded(self, sandbox: AsyncSandbox) -> None:
        """A file the code writes in its cwd is downloadable as /home/user/<name>."""
        await sandbox.run_code("open('made.txt', 'w').write('by code')")
        assert await sandbox.files.read("/home/user/made.txt") == "by code"


class TestFileErrors:
    async def test_missing_file_raises_file_not_found(self, sandbox: AsyncSandbox) -> None:
        """Reading a file that does not exist raises FileNotFoundException."""
        with pytest.raises(FileNotFoundException):
            await sandbox.files.read("/home/user/missing.txt")

    @pytest.mark.parametrize("path", ["../escape.txt", "/home/user/../../etc/passwd", "/etc/x"])
    async def test_paths_outside_the_home_are_refused(
        self, sandbox: AsyncSandbox, path: str
    ) -> None:
        """Paths that leave /home/user raise InvalidArgumentException."""
        with pytest.raises(InvalidArgumentException):
            await sandbox.files.write(path, "no")

    async def test_symlink_out_of_the_home_is_refused(self, sandbox: AsyncSandbox) -> None:
        """A symlink pointing outside the sandbox directory cannot be followed."""
        await sandbox.run_code("import os; os.symlink('/etc', 'etc-link')")
        with pytest.raises(InvalidArgumentException):
            await sandbox.files.read("/home/user/etc-link/hostname")

    async def test_a_link_inside_the_home_is_followed_in_the_sandboxs_view(
        self, sandbox: AsyncSandbox
    ) -> None:
        """A link to /home/user/... (a path of the sandbox's machine) is followed, as envd
        follows it at E2B, for reading and for writing."""
        await sandbox.run_code(
            "import os; os.makedirs('data'); open('data/f.txt', 'w').write('through');"
            " os.symlink('/home/user/data', 'alias')"
        )
        assert await sandbox.files.read("alias/f.txt") == "through"
        await sandbox.files.write("/home/user/alias/g.txt", "written")
        assert (await sandbox.run_code("open('data/g.txt').read()")).text == "written"

    @pytest.mark.parametrize("target", ["/tmp", "../../..", "/proc/self/root"])
    async def test_writing_through_a_link_out_of_the_home_is_refused(
        self, sandbox: AsyncSandbox, target: str
    ) -> None:
        """A link leading out of /home/user is never written through."""
        await sandbox.run_code(f"import os; os.symlink({target!r}, 'out')")
        with pytest.raises(InvalidArgumentException):
            await sandbox.files.write("out/escaped.txt", "no")

    async def test_uploads_belong_to_the_sandboxs_user(self, sandbox: AsyncSandbox) -> None:
        """Uploaded files and the directories made for them are the code's own: it can
        change and remove them."""
        await sandbox.files.write("made/up.txt", "up")
        execution = await sandbox.run_code(
            "import os, shutil\n"
            "owners = {os.stat(p).st_uid for p in ('made', 'made/up.txt')}\n"
            "open('made/up.txt', 'a').write('+')\n"
            "shutil.rmtree('made')\n"
            "owners == {os.getuid()}"
        )
        assert execution.error is None
        assert execution.text == "True"

    async def test_reading_a_directory_is_refused(self, sandbox: AsyncSandbox) -> None:
        """Reading a directory raises InvalidArgumentException (400)."""
        await sandbox.files.write("dir/file.txt", "x")
        with pytest.raises(InvalidArgumentException):
            await sandbox.files.read("dir")

    async def test_killed_sandbox_files_are_unreachable(self, sdk: dict[str, Any]) -> None:
        """After a kill, file calls fail with the SDK's sandbox-gone exception."""
        sandbox = await AsyncSandbox.create(**sdk)
        await sandbox.files.write("a.txt", "x")
        await sandbox.kill()
        with pytest.raises(SandboxException, match="was not found"):
            await sandbox.files.read("a.txt")


class TestAccessToken:
    async def test_files_need_the_sandboxs_envd_token(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """The SDK's calls carry the envd token; a call without it gets 401."""
        sandbox = await AsyncSandbox.create(**sdk)
        try:
            await sandbox.files.write("secret.txt", "s")
            async with httpx.AsyncClient(trust_env=False) as client:
                response = await client.get(
                    f"{e2b_server.url}/files",
                    params={"path": "secret.txt"},
                    headers={"E2b-Sandbox-Id": sandbox.sandbox_id, "E2b-Sandbox-Port": "49983"},
                )
            assert await sandbox.files.read("secret.txt") == "s"
        finally:
            await sandbox.kill()
        assert response.status_code == 401

    async def test_another_sandboxs_token_opens_nothing(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """One sandbox's tokens read no file, and write none, of another sandbox."""
        victim = await AsyncSandbox.create(**sdk)
        attacker = await AsyncSandbox.create(**sdk)
        try:
            await victim.files.write("input.json", "victim data")
            stolen = sandbox_headers(e2b_server, attacker.sandbox_id, ENVD_PORT)
            wrong = {**stolen, "E2b-Sandbox-Id": victim.sandbox_id}
            async with httpx.AsyncClient(trust_env=False, base_url=e2b_server.url) as client:
                read = await client.get("/files", params={"path": "input.json"}, headers=wrong)
                written = await client.post(
                    "/files",
                    params={"path": "input.json"},
                    content=b"forged",
                    headers={**wrong, "Content-Type": "application/octet-stream"},
                )
                health = await client.get("/health", headers=wrong)
            assert [read.status_code, written.status_code, health.status_code] == [401] * 3
            assert await victim.files.read("input.json") == "victim data"
        finally:
            await victim.kill()
            await attacker.kill()


class TestHealth:
    def test_live_sandbox_answers_204(
        self, e2b_server: ServerProcess, shared_sandbox_id: str
    ) -> None:
        """GET /health of a live sandbox answers 204."""
        response = httpx.get(
            f"{e2b_server.url}/health",
            headers=sandbox_headers(e2b_server, shared_sandbox_id, ENVD_PORT),
            trust_env=False,
        )
        assert response.status_code == 204

    def test_wrong_port_is_reported_as_not_open(
        self, e2b_server: ServerProcess, shared_sandbox_id: str
    ) -> None:
        """A sandbox call naming a port the route does not serve answers 502 "not open"."""
        response = httpx.get(
            f"{e2b_server.url}/health",
            headers={
                **sandbox_headers(e2b_server, shared_sandbox_id, ENVD_PORT),
                "E2b-Sandbox-Port": "8080",
            },
            trust_env=False,
        )
        assert response.status_code == 502
        assert "port 8080 is not open" in response.json()["message"]
