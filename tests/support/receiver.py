"""An HTTP endpoint on loopback whose answer is decided per request: what prompt channels deliver to in tests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Hit:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP endpoint whose answer is decided per request by ``behave``."""

    behave: Callable[[Hit, int], Awaitable[int]]
    hits: list[Hit] = field(default_factory=list)
    ok: list[Hit] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        hit = Hit(time.monotonic(), request.path, dict(request.headers), await request.read())
        self.hits.append(hit)
        status = await self.behave(hit, len(self.hits))
        if status == 200:
            self.ok.append(hit)
        return web.Response(status=status, text="ok" if status == 200 else "nope")


@contextlib.asynccontextmanager
async def receiver(behave: Callable[[Hit, int], Awaitable[int]]) -> AsyncIterator[Receiver]:
    rec = Receiver(behave)
    app = web.Application()
    app.router.add_post("/{tail:.*}", rec.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}/"
    try:
        yield rec
    finally:
        await runner.cleanup()
