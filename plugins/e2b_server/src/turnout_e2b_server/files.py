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

Paths map into the sandbox's directory (see paths.py), opened without following a link
its code could have planted (see home_files.py); what the server writes there belongs to
the sandbox's user. Every route requires the sandbox's envd token (X-Access-Token, see
routing.py).
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import shutil
import zlib
from collections.abc import AsyncIterator
from typing import IO, Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from turnout_e2b_server.errors import ApiError
from turnout_e2b_server.home_files import open_for_reading, open_for_writing
from turnout_e2b_server.routing import ENVD_PORT, routed_sandbox
from turnout_e2b_server.sandboxes import Sandbox
from turnout_e2b_server.state import ServerState

__all__ = ["envd_routes"]

MAX_MULTIPART_FILES = 1000
CHUNK_BYTES = 1 << 20


def envd_routes(state: ServerState) -> list[Route]:
    """The /health and /files routes of one server."""

    def sandbox_of(request: Request) -> Sandbox:
        return routed_sandbox(request, state.sandboxes, ENVD_PORT)

    async def health(request: Request) -> Response:
        sandbox_of(request)
        return Response(status_code=204)

    async def download(request: Request) -> Response:
        sandbox = sandbox_of(request)
        path = request.query_params.get("path", "")
        fd, _ = await asyncio.to_thread(open_for_reading, sandbox.home, path)
        size = os.fstat(fd).st_size
        return StreamingResponse(
            _chunks(fd),
            media_type="application/octet-stream",
            headers={"Content-Length": str(size)},
        )

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
                    fd, virtual = await asyncio.to_thread(
                        open_for_writing, sandbox.home, raw, sandbox.owner
                    )
                    await asyncio.to_thread(_copy, part.file, fd)
                    written.append(_write_info(virtual))
            finally:
                await form.close()
        else:
            if not path:
                raise ApiError(400, "path is required for an octet-stream upload")
            fd, virtual = await asyncio.to_thread(
                open_for_writing, sandbox.home, path, sandbox.owner
            )
            gzipped = request.headers.get("content-encoding", "").lower() == "gzip"
            await _stream_to(request, fd, gzipped=gzipped)
            written.append(_write_info(virtual))
        return JSONResponse(written)

    return [
        Route("/health", health, methods=["GET"]),
        Route("/files", download, methods=["GET"]),
        Route("/files", upload, methods=["POST"]),
    ]


async def _chunks(fd: int) -> AsyncIterator[bytes]:
    """The file's bytes, a chunk at a time (read off the event loop); closes `fd`."""
    try:
        while chunk := await asyncio.to_thread(os.read, fd, CHUNK_BYTES):
            yield chunk
    finally:
        os.close(fd)


def _copy(source: IO[bytes], fd: int) -> None:
    """Copy an uploaded part into `fd`, then close it."""
    source.seek(0)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out, length=CHUNK_BYTES)


async def _stream_to(request: Request, fd: int, *, gzipped: bool) -> None:
    """Write the request body (inflated if gzipped) into `fd`, then close it."""
    inflater = zlib.decompressobj(wbits=31) if gzipped else None
    with os.fdopen(fd, "wb") as out:
        try:
            async for chunk in request.stream():
                out.write(inflater.decompress(chunk) if inflater else chunk)
            if inflater is not None:
                out.write(inflater.flush())
        except zlib.error as exc:
            raise ApiError(400, f"the gzip body is invalid: {exc}") from None


def _write_info(virtual: str) -> dict[str, Any]:
    return {"name": posixpath.basename(virtual), "type": "file", "path": virtual}
