"""The one JSON response class of the service: UTF-8 when it can be, escapes when it cannot.

A node may return what UTF-8 cannot encode (a lone surrogate: `return "\\ud800"` in
JavaScript or Python). Starlette's JSONResponse would fail to encode it and the caller
would get a 500 for a result that exists; like `turnout run --json`, the document is then
written with `\\uXXXX` escapes instead, which every JSON parser reads back as the same
string. Non-finite numbers never reach here (the contract turns them into null).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["TurnoutJSONResponse"]


class TurnoutJSONResponse(JSONResponse):
    """`application/json`, compact, UTF-8, with `\\uXXXX` escapes only when needed."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")
