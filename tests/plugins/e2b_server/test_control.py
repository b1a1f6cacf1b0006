"""The control plane through the unmodified SDK: create, kill, list, info, timeouts, connect."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2b import AuthenticationException, SandboxNotFoundException, SandboxQuery
from e2b_code_interpreter import AsyncSandbox
from turnout_e2b_server.testing import ServerProcess


def exists(path: str) -> bool:
    """Whether a host path exists (a plain function: the check is instantaneous)."""
    return Path(path).exists()


def tag() -> dict[str, str]:
    """Metadata unique to one test, so listing ignores other tests' sandboxes."""
    return {"test": uuid.uuid4().hex}


class TestCreate:
    async def test_returns_a_running_sandbox(self, sdk: dict[str, Any]) -> None:
        """A created sandbox reports itself running."""
        sandbox = await AsyncSandbox.create(**sdk)
        try:
            assert await sandbox.is_running()
        finally:
            await sandbox.kill()

    async def test_answers_201_with_the_fields_the_sdk_needs(
        self, e2b_server: ServerProcess
    ) -> None:
        """The raw create answer is 201 with templateID, sandboxID, clientID, envdVersion."""
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await client.post(
                f"{e2b_server.url}/v2/sandboxes",
                json={"templateID": "code-interpreter-v1", "metadata": {}, "envVars": {}},
                headers={"X-API-KEY": e2b_server.api_key},
            )
        body = response.json()
        await AsyncSandbox.kill(body["sandboxID"], **e2b_server.sdk_options)
        assert response.status_code == 201
        needed = {"templateID", "sandboxID", "clientID", "envdVersion", "envdAccessToken"}
        assert needed <= set(body)

    async def test_create_delay_is_applied(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """A configured create delay makes create take at least that long."""
        e2b_server.configure(create_delay_ms=300)
        started = time.monotonic()
        sandbox = await AsyncSandbox.create(**sdk)
        elapsed = time.monotonic() - started
        await sandbox.kill()
        assert elapsed >= 0.3


class TestKill:
    async def test_returns_true_and_the_sandbox_is_gone(self, sdk: dict[str, Any]) -> None:
        """kill() returns True and the sandbox stops running."""
        sandbox = await AsyncSandbox.create(**sdk)
        assert await sandbox.kill() is True
        assert not await sandbox.is_running()

    async def test_unknown_id_returns_false(self, sdk: dict[str, Any]) -> None:
        """Killing an id the server does not know returns False (404 JSON body)."""
        assert await AsyncSandbox.kill("nosuchsandbox0000000", **sdk) is False

    async def test_second_kill_returns_false(self, sdk: dict[str, Any]) -> None:
        """A sandbox killed twice answers 404 the second time, which the SDK reports False."""
        sandbox = await AsyncSandbox.create(**sdk)
        await sandbox.kill()
        assert await sandbox.kill() is False

    async def test_slow_kill_fault_delays_the_answer(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """A slow_kill fault makes the next kill take at least its delay."""
        sandbox = await AsyncSandbox.create(**sdk)
        e2b_server.inject({"kind": "slow_kill", "delay_ms": 800})
        started = time.monotonic()
        assert await sandbox.kill() is True
        assert time.monotonic() - started >= 0.8


class TestList:
    async def test_filters_by_metadata(self, sdk: dict[str, Any]) -> None:
        """Only sandboxes whose metadata matches every pair of the query are listed."""
        mine, other = tag(), tag()
        wanted = await AsyncSandbox.create(metadata={**mine, "kind": "x y&z=1"}, **sdk)
        unwanted = await AsyncSandbox.create(metadata=other, **sdk)
        try:
            query = SandboxQuery(metadata={**mine, "kind": "x y&z=1"})
            items = await AsyncSandbox.list(query=query, **sdk).next_items()
        finally:
            await wanted.kill()
            await unwanted.kill()
        assert [item.sandbox_id for item in items] == [wanted.sandbox_id]
        assert items[0].metadata == {**mine, "kind": "x y&z=1"}

    async def test_paginates_with_next_token(self, sdk: dict[str, Any]) -> None:
        """With limit 2, three sandboxes come as a page of two, then a last page of one."""
        mine = tag()
        created = [await AsyncSandbox.create(metadata=mine, **sdk) for _ in range(3)]
        try:
            paginator = AsyncSandbox.list(query=SandboxQuery(metadata=mine), limit=2, **sdk)
            first = await paginator.next_items()
            more_after_first = paginator.has_next
            second = await paginator.next_items()
        finally:
            for sandbox in created:
                await sandbox.kill()
        assert (len(first), more_after_first, len(second), paginator.has_next) == (
            2,
            True,
            1,
            False,
        )
        listed = {item.sandbox_id for item in first + second}
        assert listed == {sandbox.sandbox_id for sandbox in created}

    async def test_omits_killed_sandboxes(self, sdk: dict[str, Any]) -> None:
        """A killed sandbox is no longer listed."""
        mine = tag()
        sandbox = await AsyncSandbox.create(metadata=mine, **sdk)
        await sandbox.kill()
        items = await AsyncSandbox.list(query=SandboxQuery(metadata=mine), **sdk).next_items()
        assert items == []


class TestInfo:
    async def test_reports_template_metadata_and_state(self, sdk: dict[str, Any]) -> None:
        """get_info returns the template, the metadata and the running state."""
        mine = tag()
        sandbox = await AsyncSandbox.create(metadata=mine, **sdk)
        try:
            info = await sandbox.get_info()
        finally:
            await sandbox.kill()
        assert (info.template_id, info.metadata, info.state.value) == (
            "code-interpreter-v1",
            mine,
            "running",
        )

    async def test_unknown_sandbox_raises_not_found(self, sdk: dict[str, Any]) -> None:
        """get_info of an unknown id raises SandboxNotFoundException."""
        with pytest.raises(SandboxNotFoundException):
            await AsyncSandbox.get_info("nosuchsandbox0000000", **sdk)


class TestLifetime:
    async def test_expiry_kills_the_sandbox(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """A sandbox created with a 1 s timeout is gone, directory and all, soon after."""
        sandbox = await AsyncSandbox.create(timeout=1, **sdk)
        home = next(
            s["home"]
            for s in e2b_server.stats()["sandboxes"]
            if s["sandboxID"] == sandbox.sandbox_id
        )
        await asyncio.sleep(1.5)
        assert not await sandbox.is_running()
        assert e2b_server.stats()["counters"]["expired"] == 1
        assert not exists(home)

    async def test_set_timeout_extends_the_lifetime(self, sdk: dict[str, Any]) -> None:
        """set_timeout restarts the clock: a 1 s sandbox extended to 30 s survives 1.5 s."""
        sandbox = await AsyncSandbox.create(timeout=1, **sdk)
        await sandbox.set_timeout(30)
        await asyncio.sleep(1.5)
        try:
            assert await sandbox.is_running()
        finally:
            await sandbox.kill()

    async def test_set_timeout_of_unknown_sandbox_raises_not_found(
        self, sdk: dict[str, Any]
    ) -> None:
        """set_timeout on an unknown id raises SandboxNotFoundException."""
        with pytest.raises(SandboxNotFoundException):
            await AsyncSandbox.set_timeout("nosuchsandbox0000000", 10, **sdk)


class TestConnect:
    async def test_connects_to_a_live_sandbox(self, sdk: dict[str, Any]) -> None:
        """connect() by id returns a handle to the same running sandbox."""
        sandbox = await AsyncSandbox.create(**sdk)
        try:
            again = await AsyncSandbox.connect(sandbox.sandbox_id, **sdk)
            assert again.sandbox_id == sandbox.sandbox_id
            assert await again.is_running()
        finally:
            await sandbox.kill()

    async def test_unknown_sandbox_raises_not_found(self, sdk: dict[str, Any]) -> None:
        """connect() to an unknown id raises SandboxNotFoundException."""
        with pytest.raises(SandboxNotFoundException):
            await AsyncSandbox.connect("nosuchsandbox0000000", **sdk)


class TestAuthentication:
    async def test_missing_key_is_refused_by_the_sdk(
        self, e2b_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An empty API key (and none in the environment) raises AuthenticationException."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        with pytest.raises(AuthenticationException):
            await AsyncSandbox.create(
                api_key="", api_url=e2b_server.url, sandbox_url=e2b_server.url
            )

    def test_request_without_key_gets_401_json(self, e2b_server: ServerProcess) -> None:
        """A control-plane call without X-API-KEY answers 401 with an E2B error body."""
        response = httpx.get(f"{e2b_server.url}/v2/sandboxes", trust_env=False)
        assert response.status_code == 401
        assert response.json()["code"] == 401
        assert isinstance(response.json()["message"], str)

    async def test_wrong_key_raises_authentication_exception(
        self, e2b_server: ServerProcess
    ) -> None:
        """The server takes only its own key: any other raises AuthenticationException."""
        with pytest.raises(AuthenticationException):
            await AsyncSandbox.create(
                api_key="other-key", api_url=e2b_server.url, sandbox_url=e2b_server.url
            )
