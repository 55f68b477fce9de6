"""The API's door: a JSON body is read whole, at most MAX_API_BODY bytes, and looked at once.

Before any route sees it, a body must
    - fit in MAX_API_BODY bytes                    413 {"field": "body", "limit": ...}
    - nest at most MAX_JSON_DEPTH levels           422 naming where it goes deeper
    - hold no lone UTF-16 surrogate ("\\ud800")    422 naming the field
    - be UTF-8, with integers Python can read       422 {"field": "body"} (these were 400s
      (at most 4,300 digits)                            outside the error contract)
Each of these used to reach a reader that recursed, a driver that could not encode, or memory.
Bodies that are not JSON are left to the route (FastAPI answers them); only /api paths are read.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from il2.api.errors import answer, invalid
from il2.domain.limits import MAX_API_BODY, MAX_JSON_DEPTH, json_too_deep, surrogate_path

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _field(path: tuple[str, ...]) -> str:
    return ".".join(path) or "body"


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(length: int) -> Any:
    return answer(
        413,
        "too_large",
        f"body: {length} bytes or more; the API takes at most {MAX_API_BODY} bytes",
        field="body",
        value=length,
        allowed=f"a body of at most {MAX_API_BODY} bytes",
        limit=MAX_API_BODY,
    )


def _read(body: bytes) -> tuple[Any, Any]:
    """The JSON document in `body` and None, or None and the answer refusing it."""
    try:
        return json.loads(body), None
    except RecursionError:
        deeper = f"JSON nested at most {MAX_JSON_DEPTH} levels deep (it nests far deeper)"
        return None, invalid("body", None, deeper)
    except json.JSONDecodeError:
        return None, None  # not JSON: the route's own parser answers it (422, field "body")
    except UnicodeDecodeError:
        return None, invalid("body", None, "JSON text in UTF-8")
    except ValueError as unreadable:  # e.g. an integer past Python's 4,300-digit limit
        return None, invalid("body", None, f"readable JSON ({unreadable})")


def refusal(body: bytes) -> Any:
    """The answer refusing this JSON body, or None when the route may read it."""
    document, unreadable = _read(body)
    if unreadable is not None or document is None:
        return unreadable
    deep = json_too_deep(document)
    if deep is not None:
        return invalid(_field(deep), None, f"JSON nested at most {MAX_JSON_DEPTH} levels deep")
    bad = surrogate_path(document)
    if bad is not None:
        return invalid(
            _field(bad), "(a lone surrogate)", "a text of Unicode characters (no lone surrogates)"
        )
    return None


class BodyGuard:
    """ASGI middleware: reads each /api write's body under the limits above, then replays it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _WRITES
            or not scope["path"].startswith("/api")
        ):
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > MAX_API_BODY:
            await _too_large(declared)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_API_BODY:
                await _too_large(size)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        refused = refusal(body) if body else None
        if refused is not None:
            await refused(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
