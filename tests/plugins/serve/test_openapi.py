"""The committed API description is the service's: docs/openapi.json is what the app
generates, and the TypeScript client's types are what the generator makes of it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from turnout_serve.openapi import document, render

ROOT = Path(__file__).resolve().parents[3]
DOCUMENT = ROOT / "docs" / "openapi.json"
TS_CLIENT = ROOT / "clients" / "typescript"


class TestCommittedDocument:
    def test_docs_openapi_json_is_current(self) -> None:
        """docs/openapi.json equals `turnout serve --openapi`; regenerate it with
        `.venv/bin/turnout serve --openapi > docs/openapi.json`."""
        assert DOCUMENT.read_text(encoding="utf-8") == render()

    def test_every_error_answer_is_the_error_body(self) -> None:
        """No route documents FastAPI's `{"detail": ...}` body: every error status is
        described by `ErrorBody`."""
        spec = document()
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                for status, response in operation["responses"].items():
                    if status.startswith(("4", "5")):
                        schema = response["content"]["application/json"]["schema"]
                        assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (
                            path,
                            method,
                            status,
                        )

    def test_the_typescript_types_are_generated_from_it(self, tmp_path: Path) -> None:
        """clients/typescript/src/schema.ts is openapi-typescript's output for the document;
        regenerate it with `npm run generate` there."""
        generated = tmp_path / "schema.ts"
        subprocess.run(
            [
                str(TS_CLIENT / "node_modules" / ".bin" / "openapi-typescript"),
                str(DOCUMENT),
                "--output",
                str(generated),
            ],
            cwd=TS_CLIENT,
            check=True,
            capture_output=True,
            timeout=120,
        )
        committed = (TS_CLIENT / "src" / "schema.ts").read_text(encoding="utf-8")
        assert generated.read_text(encoding="utf-8") == committed
