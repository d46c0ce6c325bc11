"""The callback server: ntfy's Done, Snooze and Start buttons POST here; each becomes a command on the wearer's commands
topic, so it takes the same path (and the same persistence) as ``kinetic prompts done|snooze``.

    POST /v1/prompts/<prompt id>/done?wearer=<id>&sig=<hmac>     -> CommandV1 ack
    POST /v1/prompts/<prompt id>/snooze?wearer=<id>&sig=<hmac>   -> CommandV1 snooze (10 min)
    POST /v1/prompts/<prompt id>/start?wearer=<id>&sig=<hmac>    -> CommandV1 session_start of the prompt's exercise
                                                                     (the alert service resolves it from the prompt)
    POST /v1/checkin/<answer>?wearer=<id>&sig=<hmac>              -> CommandV1 checkin (answer: stress-low,
                                                                     stress-medium, stress-high, pain-0 .. pain-10)
    GET  /healthz                                                 -> 200 "ok"

Over HTTPS when ``KINETIC_ALERTS__CALLBACK_TLS_CERT`` / ``KINETIC_ALERTS__CALLBACK_TLS_KEY`` are set (then the
``KINETIC_ALERTS__CALLBACK_URL`` the buttons call is https://).

The signature is an HMAC of (wearer, prompt id, action) with ``KINETIC_ALERTS__CALLBACK_SECRET``: a button works
for its own prompt only, and nobody can ack or snooze a prompt without the URL Kinetic sent.

The server is reachable from the wearer's phone, so from anyone who finds it: every refused request is counted
(``RefusedRequests``) and logged at most once per kind every ``LOG_EVERY_S`` (30 s, as dead letters are), and what
the request chose (wearer, prompt id) is quoted with ``repr``: a line feed in a URL never writes a log line.
"""

from __future__ import annotations

import hmac
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from aiohttp import web

from alerts.channels.http import CHECKIN_SUBJECT, callback_signature
from ingest.errors import ConfigError, WireError
from ingest.listen import start_site
from ingest.wire import PAIN_MAX, CommandKind, CommandV1, check_id

_LOGGER = logging.getLogger(__name__)

SendCommand = Callable[[CommandV1], Awaitable[bool]]  # False: cannot forward right now (broker down)
ACTIONS: dict[str, CommandKind] = {"done": "ack", "snooze": "snooze", "start": "session_start"}
SNOOZE_MIN = 10.0
CALLBACK_TLS_SETTINGS = "KINETIC_ALERTS__CALLBACK_TLS_CERT / KINETIC_ALERTS__CALLBACK_TLS_KEY"
QUOTED_MAX = 80  # characters of a request's own text quoted in a log line


@dataclass
class RefusedRequests:
    """Requests the callback server refused, counted per kind (``bad wearer``, ``unknown action``, ``bad
    signature``); a warning per kind at most every ``LOG_EVERY_S`` seconds of ``clock`` (monotonic), saying how many
    more came meanwhile: a scanner's thousand requests cost a line, not a thousand."""

    clock: Callable[[], float] = time.monotonic
    count: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    _logged: dict[str, tuple[float, int]] = field(default_factory=dict, repr=False)

    LOG_EVERY_S: ClassVar[float] = 30.0

    def refuse(self, kind: str, detail: str) -> None:
        """Count one refused request; ``detail`` is quoted already (what the request chose, through ``repr``)."""
        self.count += 1
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        now = self.clock()
        last, quiet = self._logged.get(kind, (now - self.LOG_EVERY_S, 0))
        if now - last >= self.LOG_EVERY_S:
            more = f" (and {quiet} more like it in the last {now - last:.0f} s)" if quiet else ""
            _LOGGER.warning("callback: %s, refused: %s%s", kind, detail, more)
            self._logged[kind] = (now, 0)
        else:
            self._logged[kind] = (last, quiet + 1)


def checkin_answer(answer: str) -> dict[str, object] | None:
    """A check-in button's answer as the command's fields (``stress-high`` -> stress high, ``pain-6`` -> pain 6), or
    None for anything else."""
    kind, _, value = answer.partition("-")
    if kind == "stress" and value in ("low", "medium", "high"):
        return {"stress": value}
    if kind == "pain" and value.isascii() and value.isdigit() and len(value) <= 2 and 0 <= int(value) <= PAIN_MAX:
        return {"pain": int(value)}
    return None


def _quoted(text: str) -> str:
    """A request's own text for a log line: ``repr`` (a line feed is ``\\n``), cut to ``QUOTED_MAX``."""
    quoted = repr(text)
    return quoted if len(quoted) <= QUOTED_MAX else quoted[: QUOTED_MAX - 3] + "..."


def make_app(
    secret: bytes,
    send: SendCommand,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    refused: RefusedRequests | None = None,
) -> web.Application:
    """The callback app; ``refused`` counts (and rate-limits the log lines of) the requests it refuses."""
    refusals = refused if refused is not None else RefusedRequests()

    async def action(request: web.Request) -> web.Response:
        prompt_id, name = request.match_info["prompt_id"], request.match_info["action"]
        wearer, sig = request.query.get("wearer", ""), request.query.get("sig", "")
        try:
            check_id(wearer)
        except WireError:
            refusals.refuse("bad wearer", f"wearer {_quoted(wearer)}")
            return web.Response(status=400, text="bad wearer\n")
        if name not in ACTIONS:
            refusals.refuse("unknown action", f"action {_quoted(name)}")
            return web.Response(status=404, text="unknown action\n")
        expected = callback_signature(secret, wearer, prompt_id, name)
        if not hmac.compare_digest(sig.encode(), expected.encode()):  # bytes: any text in the query is compared
            refusals.refuse("bad signature", f"{name} of prompt {_quoted(prompt_id)} for {wearer}")
            return web.Response(status=403, text="bad signature\n")
        now = clock()
        command = CommandV1(
            kind=ACTIONS[name],
            wearer=wearer,
            at=now,
            prompt_id=prompt_id,
            minutes=SNOOZE_MIN if name == "snooze" else None,
            session=f"{now:%Y%m%dt%H%M%S}-prompt" if name == "start" else None,  # the stream's label (issue 19)
            source="ntfy",
        )
        if not await send(command):
            return web.Response(status=503, text="cannot reach the broker, try again\n")
        return web.Response(status=202, text=f"{name}: noted\n")

    async def checkin(request: web.Request) -> web.Response:
        """A check-in button (``NtfyChannel.checkin_message``): signed for (wearer, ``CHECKIN_SUBJECT``, answer)."""
        answer = request.match_info["answer"]
        wearer, sig = request.query.get("wearer", ""), request.query.get("sig", "")
        try:
            check_id(wearer)
        except WireError:
            refusals.refuse("bad wearer", f"wearer {_quoted(wearer)}")
            return web.Response(status=400, text="bad wearer\n")
        what = checkin_answer(answer)
        if what is None:
            refusals.refuse("unknown check-in answer", f"answer {_quoted(answer)}")
            return web.Response(status=404, text="unknown check-in answer\n")
        expected = callback_signature(secret, wearer, CHECKIN_SUBJECT, answer)
        if not hmac.compare_digest(sig.encode(), expected.encode()):
            refusals.refuse("bad signature", f"check-in {_quoted(answer)} for {wearer}")
            return web.Response(status=403, text="bad signature\n")
        command = CommandV1(kind="checkin", wearer=wearer, at=clock(), source="ntfy", **what)
        if not await send(command):
            return web.Response(status=503, text="cannot reach the broker, try again\n")
        return web.Response(status=202, text="check-in: noted\n")

    async def health(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application()
    app.router.add_post("/v1/prompts/{prompt_id}/{action}", action)
    app.router.add_post("/v1/checkin/{answer}", checkin)
    app.router.add_get("/healthz", health)
    return app


@asynccontextmanager
async def callback_server(
    app: web.Application, host: str, port: int, tls: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """Run the app, over HTTPS with ``tls`` (``ingest.listen.server_tls`` of the callback_tls_* settings); yields the
    port it listens on."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=tls)
    try:
        await start_site(site, host, port, "KINETIC_ALERTS__CALLBACK_PORT / KINETIC_ALERTS__CALLBACK_HOST")
    except ConfigError:
        await runner.cleanup()
        raise
    try:
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        yield sockets[0].getsockname()[1] if sockets else port
    finally:
        await runner.cleanup()
