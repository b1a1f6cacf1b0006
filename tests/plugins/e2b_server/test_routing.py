"""Sandbox calls need the sandbox's own tokens: knowing its id drives nothing."""

from __future__ import annotations

from typing import Any

import httpx
from e2b_code_interpreter import AsyncSandbox
from turnout_e2b_server.testing import ServerProcess

from .support import JUPYTER_PORT, execute_body, sandbox_headers


async def forged(server: ServerProcess, victim: str, attacker: str) -> list[int]:
    """Statuses of Jupyter calls to `victim` made with `attacker`'s tokens."""
    headers = {**sandbox_headers(server, attacker, JUPYTER_PORT), "E2b-Sandbox-Id": victim}
    async with httpx.AsyncClient(trust_env=False, base_url=server.url, timeout=30) as client:
        responses = [
            await client.post(
                "/execute",
                json=execute_body("victim_state = 'FORGED by attacker'", language="js"),
                headers=headers,
            ),
            await client.post("/contexts", json={"language": "python"}, headers=headers),
            await client.get("/contexts", headers=headers),
        ]
    return [response.status_code for response in responses]


class TestSandboxTokens:
    async def test_create_answers_both_tokens(self, sdk: dict[str, Any]) -> None:
        """Create gives the SDK an envd token and a traffic token, and the SDK uses them."""
        sandbox = await AsyncSandbox.create(**sdk)
        try:
            assert sandbox._envd_access_token
            assert sandbox.traffic_access_token
            assert (await sandbox.run_code("1 + 1")).text == "2"
            context = await sandbox.create_code_context(language="python")
            assert context.id in [c.id for c in await sandbox.list_code_contexts()]
        finally:
            await sandbox.kill()

    async def test_another_sandboxs_tokens_cannot_drive_its_kernels(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """Execute and contexts calls to a victim with an attacker's tokens answer 401, and
        the victim's kernel state is untouched."""
        victim = await AsyncSandbox.create(**sdk)
        attacker = await AsyncSandbox.create(**sdk)
        try:
            await victim.run_code("var victim_state = 'mine'", language="js")
            statuses = await forged(e2b_server, victim.sandbox_id, attacker.sandbox_id)
            assert statuses == [401, 401, 401]
            assert (await victim.run_code("victim_state", language="js")).text == "mine"
            assert len(await victim.list_code_contexts()) == 2  # the two default ones
        finally:
            await victim.kill()
            await attacker.kill()

    def test_a_call_without_tokens_is_refused(
        self, e2b_server: ServerProcess, shared_sandbox_id: str
    ) -> None:
        """The routing headers alone (the sandbox id) open no Jupyter or envd route."""
        bare = {"E2b-Sandbox-Id": shared_sandbox_id}
        with httpx.Client(trust_env=False, base_url=e2b_server.url) as client:
            statuses = [
                client.post("/execute", json=execute_body("1"), headers=bare).status_code,
                client.get("/contexts", headers=bare).status_code,
                client.get("/health", headers=bare).status_code,
                client.get("/files", params={"path": "x"}, headers=bare).status_code,
            ]
        assert statuses == [401, 401, 401, 401]
