"""The callback server: ntfy's Done and Snooze buttons POST here; each becomes a command on the wearer's commands
topic, so it takes the same path (and the same persistence) as ``kinetic prompts done|snooze``.

    POST /v1/prompts/<prompt id>/done?wearer=<id>&sig=<hmac>     -> CommandV1 ack
    POST /v1/prompts/<prompt id>/snooze?wearer=<id>&sig=<hmac>   -> CommandV1 snooze (10 min)
    GET  /healthz                                                 -> 200 "ok"

The signature is an HMAC of (wearer, prompt id, action) with ``KINETIC_ALERTS__CALLBACK_SECRET``: a button works
for its own prompt only, and nobody can ack or snooze a prompt without the URL Kinetic sent.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from aiohttp import web

from alerts.channels.http import callback_signature
from ingest.errors import WireError
from ingest.wire import CommandKind, CommandV1, check_id

_LOGGER = logging.getLogger(__name__)

SendCommand = Callable[[CommandV1], Awaitable[bool]]  # False: cannot forward right now (broker down)
ACTIONS: dict[str, CommandKind] = {"done": "ack", "snooze": "snooze"}
SNOOZE_MIN = 10.0


def make_app(
    secret: bytes, send: SendCommand, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> web.Application:
    async def action(request: web.Request) -> web.Response:
        prompt_id, name = request.match_info["prompt_id"], request.match_info["action"]
        wearer, sig = request.query.get("wearer", ""), request.query.get("sig", "")
        try:
            check_id(wearer)
        except WireError:
            return web.Response(status=400, text="bad wearer\n")
        if name not in ACTIONS:
            return web.Response(status=404, text="unknown action\n")
        expected = callback_signature(secret, wearer, prompt_id, name)
        if not hmac.compare_digest(sig.encode(), expected.encode()):  # bytes: any text in the query is compared
            _LOGGER.warning("callback: bad signature for %s %s (%s)", wearer, prompt_id, name)
            return web.Response(status=403, text="bad signature\n")
        command = CommandV1(
            kind=ACTIONS[name],
            wearer=wearer,
            at=clock(),
            prompt_id=prompt_id,
            minutes=SNOOZE_MIN if name == "snooze" else None,
            source="ntfy",
        )
        if not await send(command):
            return web.Response(status=503, text="cannot reach the broker, try again\n")
        return web.Response(status=202, text=f"{name}: noted\n")

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_post("/v1/prompts/{prompt_id}/{action}", action)
    app.router.add_get("/healthz", health)
    return app


@asynccontextmanager
async def callback_server(app: web.Application, host: str, port: int) -> AsyncIterator[int]:
    """Run the app; yields the port it listens on."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        yield sockets[0].getsockname()[1] if sockets else port
    finally:
        await runner.cleanup()
