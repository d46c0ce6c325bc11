"""One HTTP request through an ASGI app in process (the web app's unit tests): no server, no socket."""

from __future__ import annotations

import asyncio
from typing import Any


async def asgi_request(
    app: Any, method: str, path: str, body: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """``method`` ``path`` (with ``?query``) to ``app`` as if from 127.0.0.1 to 127.0.0.1:8765 (``host`` is added to
    ``headers``): (status, body, response headers). After the body, ``receive`` waits as a client
    that stays connected does."""
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:8765"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
        "root_path": "",
    }
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if given:
            await asyncio.sleep(3600)
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"), answer
