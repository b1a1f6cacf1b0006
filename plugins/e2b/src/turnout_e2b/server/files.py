"""The envd side of a sandbox ("port 49983"): GET /health and the /files transfer API.

Why: the plugin moves large inputs and outputs as files, and the SDK probes /health after
a dropped stream to tell "sandbox killed" (502) from a network error. Semantics follow
envd as the SDK drives it:

- GET /files?path=P -> the raw bytes; 404 JSON if missing (the SDK raises
  FileNotFoundException), 400 if P is a directory.
- POST /files?path=P, multipart with one or more `file` parts (the part's filename is its
  path when no `path` is given), or a raw `application/octet-stream` body (optionally
  gzip-encoded) -> `[{"name", "type": "file", "path"}]`. Parent directories are created.
- `username` is accepted and ignored: one home directory serves every user.

Paths map into the sandbox's directory (see paths.py). Every route requires the sandbox's
envd token (X-Access-Token, see routing.py).
"""

from __future__ import annotations

import asyncio
import posixpath
import shutil
import zlib
from pathlib import Path
from typing import IO, Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from turnout_e2b.server.errors import ApiError
from turnout_e2b.server.paths import host_path
from turnout_e2b.server.routing import ENVD_PORT, routed_sandbox
from turnout_e2b.server.sandboxes import Sandbox
from turnout_e2b.server.state import ServerState

__all__ = ["envd_routes"]

MAX_MULTIPART_FILES = 1000


def envd_routes(state: ServerState) -> list[Route]:
    """The /health and /files routes of one server."""

    def sandbox_of(request: Request) -> Sandbox:
        return routed_sandbox(request, state.sandboxes, ENVD_PORT)

    async def health(request: Request) -> Response:
        sandbox_of(request)
        return Response(status_code=204)

    async def download(request: Request) -> Response:
        sandbox = sandbox_of(request)
        target, virtual = host_path(sandbox.home, request.query_params.get("path", ""))
        if target.is_dir():
            raise ApiError(400, f"path '{virtual}' is a directory")
        if not target.is_file():
            raise ApiError(404, f"path '{virtual}' does not exist")
        return FileResponse(target, media_type="application/octet-stream")

    async def upload(request: Request) -> Response:
        sandbox = sandbox_of(request)
        path = request.query_params.get("path")
        content_type = request.headers.get("content-type", "")
        written: list[dict[str, Any]] = []
        if content_type.startswith("multipart/form-data"):
            form = await request.form(max_files=MAX_MULTIPART_FILES)
            try:
                parts = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
                if not parts:
                    raise ApiError(400, "the multipart body has no file part")
                for part in parts:
                    raw = path if path and len(parts) == 1 else part.filename
                    if not raw:
                        raise ApiError(400, "a file part has no path (filename)")
                    target, virtual = _writable(sandbox.home, raw)
                    await asyncio.to_thread(_copy, part.file, target)
                    written.append(_write_info(virtual))
            finally:
                await form.close()
        else:
            if not path:
                raise ApiError(400, "path is required for an octet-stream upload")
            target, virtual = _writable(sandbox.home, path)
            gzipped = request.headers.get("content-encoding", "").lower() == "gzip"
            await _stream_to(request, target, gzipped=gzipped)
            written.append(_write_info(virtual))
        return JSONResponse(written)

    return [
        Route("/health", health, methods=["GET"]),
        Route("/files", download, methods=["GET"]),
        Route("/files", upload, methods=["POST"]),
    ]


def _writable(home: Path, raw: str) -> tuple[Path, str]:
    """The host path to write `raw` to, its parents created; 400 if that is impossible."""
    target, virtual = host_path(home, raw)
    if target.is_dir():
        raise ApiError(400, f"path '{virtual}' is a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ApiError(400, f"a parent of '{virtual}' is not a directory") from None
    return target, virtual


def _copy(source: IO[bytes], target: Path) -> None:
    source.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(source, out, length=1 << 20)


async def _stream_to(request: Request, target: Path, *, gzipped: bool) -> None:
    inflater = zlib.decompressobj(wbits=31) if gzipped else None
    with target.open("wb") as out:
        try:
            async for chunk in request.stream():
                out.write(inflater.decompress(chunk) if inflater else chunk)
            if inflater is not None:
                out.write(inflater.flush())
        except zlib.error as exc:
            raise ApiError(400, f"the gzip body is invalid: {exc}") from None


def _write_info(virtual: str) -> dict[str, Any]:
    return {"name": posixpath.basename(virtual), "type": "file", "path": virtual}
