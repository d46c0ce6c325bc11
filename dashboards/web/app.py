"""The web app of ``kinetic serve``: Starlette routes over the query layer, the live board and a command publisher.

Pages (docs/web.md): ``/`` the wearers; ``/w/<wearer>/today`` (live over server-sent events from ``/live``),
``/prompts`` (history; Done, Snooze 10 min, Pause 1 h / until a time, Resume), ``/week`` (the weekly report of any
ISO week and the last 8 weeks' trend), ``/settings`` (the policy, edited with validation; devices), ``/session`` (a
guided exercise session: dashboards/web/session.py).

Safety: health data. Listening beyond loopback needs a token or a logins file (``service.check_bind``); with either,
every page but ``/login`` and ``/static`` needs the session cookie a login gives. Per-person logins
(``dashboards/web/logins.py``, issue 20 item 1): a wearer's login is served only its own wearer's pages, sharing and
commands (another wearer's is a 403, audited as refused on that wearer); a staff login every wearer served; the
audit trail names the login for every read and change. Forms carry a CSRF token that must equal the
``kinetic_csrf`` cookie (SameSite=Strict) and a cross-site ``Origin`` is refused. Every response says
``Content-Security-Policy: default-src 'self'`` (no third-party request can be made). Bad input (an unknown wearer,
a malformed week, a bad form value) is a 4xx with one line naming it.

Audit (issue 20, item 4): every page and data answer that shows a wearer's data (Today and its data and live stream,
Prompts, Week and its data, the weekly report, Settings with the devices and phone tokens) adds an entry to the audit
trail (``ingest.audit``) through the one writer the server opened for its life, before the data is sent: if the trail
cannot be written the read is refused (503), no health data leaves unrecorded. Adding and revoking a phone token are
entries too.

Consent (issue 20, item 3): the Sharing page (``consent_routes.py``). A clinic's view (``KINETIC_WEB__CLINIC``, item
2): every page of a wearer asks ``ClinicScope`` first; a wearer the clinic may not read now is refused (403) and the
refusal is an audit entry; the view reads only (no command, policy, phone or consent change).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.prompts import sessions as sessions_rule
from alerts.prompts.catalog import Exercise
from alerts.prompts.commands import CommandRefused, checkin_command, prompt_command
from alerts.prompts.prescription import Prescribed
from dashboards.report import render
from dashboards.report.charts import chart_specs
from dashboards.report.sessions import doses_on_file
from dashboards.report.weekly import weekly_report
from dashboards.web import views
from dashboards.web.consent import ClinicScope, ConsentAccess
from dashboards.web.live import LiveBoard
from dashboards.web.logins import Login, Logins
from ingest.audit import AuditLog
from ingest.errors import IngestError, WireError
from ingest.phone.tokens import TokenStore, TokenStoreError
from ingest.store.queries import Queries, unknown_wearer
from ingest.wire import CommandV1, EventV1, check_id

_LOGGER = logging.getLogger(__name__)

HERE = Path(__file__).parent
SESSION_COOKIE = "kinetic_session"
CSRF_COOKIE = "kinetic_csrf"
SNOOZE_MIN = 10.0
PAUSE_MIN = 60.0
PLATFORMS = {"ios": "iOS", "android": "Android"}
PLACEMENTS = {"thigh": "trouser pocket (thigh)", "trunk": "belt clip or chest pocket (trunk)"}
ANY_ADDRESS = frozenset({"", "0.0.0.0", "::"})
SOURCE = "web"
KNOWN_TTL_S = 10.0
# The Week page's charts: vega-interpreter (vendored as the ES module npm ships) imports the bare name 'vega-util';
# this import map (inline, allowed by its hash below: no other inline script runs) points it at a module that hands
# over the functions the vendored Vega bundle already has (static/vega-util.js). Vega then evaluates expressions with
# the interpreter, never with ``new Function`` (which this CSP forbids: no 'unsafe-eval').
IMPORT_MAP = '{"imports": {"vega-util": "/static/vega-util.js"}}'
_IMPORT_MAP_HASH = base64.b64encode(hashlib.sha256(IMPORT_MAP.encode()).digest()).decode()
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    f"script-src 'self' 'sha256-{_IMPORT_MAP_HASH}'; "
    "connect-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)

Publish = Callable[[CommandV1], Awaitable[None]]
Clock = Callable[[], datetime]


class LiveHub:
    """Who waits for which wearer's changes: each server-sent-events stream has a queue of size 1 (a newer change
    replaces an unsent one: a page wants the newest state, not every step)."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[None]]] = {}

    def subscribe(self, wearer: str) -> asyncio.Queue[None]:
        queue: asyncio.Queue[None] = asyncio.Queue(maxsize=1)
        self._queues.setdefault(wearer, set()).add(queue)
        return queue

    def unsubscribe(self, wearer: str, queue: asyncio.Queue[None]) -> None:
        self._queues.get(wearer, set()).discard(queue)

    def notify(self, wearer: str) -> None:
        for queue in self._queues.get(wearer, ()):
            if queue.empty():
                queue.put_nowait(None)


@dataclass
class WebState:
    """What the routes use: the query layer, the live board fed from MQTT, the hub, how to send a command."""

    queries: Queries
    board: LiveBoard
    publish: Publish
    hub: LiveHub = field(default_factory=LiveHub)
    token: str | None = None
    clock: Clock = field(default=lambda: datetime.now(UTC))
    # session cookie -> the login as it was when the session began (per-person logins) or None (the one token); kept
    # in memory only. A session counts while the file holds that login unchanged (removed or renewed: it ends).
    sessions: dict[str, Login | None] = field(default_factory=dict)
    logins: Logins | None = None  # per-person logins (KINETIC_WEB__LOGINS_PATH; None: the token, or no login)
    login_refusals: int = 0  # wrong names or passwords since start (each logged as one line)
    closing: asyncio.Event = field(default_factory=asyncio.Event)  # set on stop: the live streams end
    audit: AuditLog | None = None  # the server's one audit writer (None: reads are not recorded, unit tests only)
    actor: str = "web"  # who reads, as the trail names them (the audit actor setting, else user@host of the server)
    tokens: TokenStore | None = None  # the phones' per-device push tokens (None: no phone section on Settings)
    push_host: str = "127.0.0.1"  # where ``kinetic phone`` listens for pushes (KINETIC_PHONE__HTTP_HOST / _PORT)
    push_port: int = 0  # 0: HTTP push is off
    consent: ConsentAccess | None = None  # the Sharing page's records (None: no Sharing page)
    scope: ClinicScope | None = None  # a clinic's view: only the wearers it may read now (None: the wearer's own app)
    # the guided session page (dashboards/web/session.py, issue 19): the exercise catalog, and the wearers'
    # prescriptions as they are now (None: no prescriptions file, every catalog exercise may be started)
    catalog: dict[str, Exercise] = field(default_factory=dict)
    prescriptions: Callable[[], Mapping[str, list[Prescribed]]] | None = None
    # the Prescriptions page (dashboards/web/prescriptions.py): the file it edits and how its events are published
    prescriptions_path: Path | None = None
    publish_event: Callable[[EventV1], Awaitable[None]] | None = None
    _known: tuple[float, list[str]] | None = None

    async def stored_wearers(self) -> list[str]:
        """The store's wearers, asked at most every KNOWN_TTL_S (on the embedded store it is a scan of every point)."""
        now = time.monotonic()
        if self._known is None or now - self._known[0] > KNOWN_TTL_S:
            self._known = (now, await self.queries.wearers())
        return self._known[1]


class Guard:
    """ASGI middleware: the login check (with a token or per-person logins) and the security headers on every
    response. With logins, the session's login is read again from the file at each request (``Logins.get``): a removed
    or renewed login's sessions end at once; the login goes to the routes in ``scope["state"]["login"]``."""

    def __init__(self, app: ASGIApp, state: WebState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        state = self.state
        if (
            (state.token is not None or state.logins is not None)
            and path != "/login"
            and not path.startswith("/static/")
        ):
            session = Request(scope).cookies.get(SESSION_COOKIE)
            login = state.sessions.get(session or "")
            current = state.logins.get(login.name) if state.logins is not None and login is not None else None
            if session not in state.sessions or (state.logins is not None and (login is None or current != login)):
                response: Response = (
                    RedirectResponse("/login", status_code=303)
                    if scope["method"] == "GET"
                    else PlainTextResponse("log in first: the session cookie is missing or expired\n", 401)
                )
                await response(scope, receive, self._with_headers(send))
                return
            scope.setdefault("state", {})["login"] = login
        await self.app(scope, receive, self._with_headers(send))

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"cache-control", b"no-store"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        return wrapped


templates = Jinja2Templates(directory=HERE / "templates")
# every time a page prints goes through this filter (the wearer's zone, never Unix ms): {{ t_ms | wearer_time(tz) }}
templates.env.filters["wearer_time"] = views.time_text


def _state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def _login(request: Request) -> Login | None:
    """The person logged in for this request (per-person logins; None: the one token, or no login on loopback)."""
    login: Login | None = request.scope.get("state", {}).get("login")
    return login


def _actor(request: Request, state: WebState) -> str:
    """Who the audit trail names for this request: the login (``web login ann``), else the server's actor."""
    login = _login(request)
    return login.actor if login is not None else state.actor


def _csrf(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE)
    return token if token and len(token) == 43 else secrets.token_urlsafe(32)


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    csrf = _csrf(request)
    scope = _state(request).scope
    login = _login(request)
    extra = {
        "csrf": csrf,
        "clinic_view": scope.clinic if scope is not None else None,
        "login": login.name if login is not None else None,
    }
    response = templates.TemplateResponse(request, name, {**context, **extra}, status_code=status)
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


async def _form(request: Request) -> FormData:
    """The posted form, once its CSRF token and origin are checked (403 otherwise)."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin is not None and origin != own:
        raise HTTPException(403, f"a form from {origin[:80]!r} is refused: only this app's own pages may post")
    form = await request.form()
    sent, cookie = form.get("csrf"), request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not cookie or not hmac.compare_digest(sent, cookie):
        raise HTTPException(403, "the form's CSRF token is missing or stale: reload the page and try again")
    return form


def _text(form: FormData, name: str, limit: int = 200) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise HTTPException(400, f"form field {name!r} must be text")
    if len(value) > limit:
        raise HTTPException(400, f"form field {name!r}: at most {limit} characters")
    return value


async def _wearer(request: Request) -> str:
    """The path's wearer: a valid id (400) that the login may see (403, audited), that a clinic's view may read (403)
    and that the store or the live stream knows (404)."""
    raw = request.path_params["wearer"]
    try:
        wearer = check_id(raw)
    except WireError:
        raise HTTPException(
            400, f"wearer {raw[:64]!r} is not a wearer id (lower-case letters, digits, - and _)"
        ) from None
    state = _state(request)
    login = _login(request)
    if login is not None and login.wearer is not None and login.wearer != wearer:  # first: not even whether it exists
        await _audit(request, state, "read refused", wearer, f"{request.method} {request.url.path}: not this login's")
        raise HTTPException(403, f"login {login.name!r} is {login.wearer}'s: it shows and changes only their data")
    if state.scope is not None:  # a clinic's view learns nothing of a wearer it may not read, not even a name
        await _in_scope(request, state, wearer)
    if wearer in state.board.wearers():
        return wearer
    known = await state.stored_wearers()
    if wearer not in known:
        others = [*known, *state.board.wearers()] if state.scope is None else []
        raise HTTPException(404, str(unknown_wearer(wearer, others, "this app's store")))
    return wearer


async def _in_scope(request: Request, state: WebState, wearer: str) -> None:
    """A clinic's view serves a wearer only while they are its patient and grant it their posture data (asked at each
    read), and only to look: 403 otherwise, and a refused read is an audit entry (the wearer sees who tried)."""
    if state.scope is None:
        return
    if request.method != "GET":
        raise HTTPException(403, f"clinic {state.scope.clinic}'s view only reads: it sends nothing for {wearer}")
    refusal = await state.scope.refusal(wearer, round(state.clock().timestamp() * 1000))
    if refusal is not None:
        await _audit(request, state, "read refused", wearer, f"{request.url.path}: {refusal}")
        raise HTTPException(403, f"{refusal}: clinic {state.scope.clinic}'s view does not show their data")


async def _audit(request: Request, state: WebState, action: str, wearer: str, detail: str = "") -> None:
    """One entry in the audit trail for a read (or a token change) of ``wearer``'s data through this app: the actor,
    ``web <action>``, the detail and the client's address. Written in a worker thread (SQLite); a trail that cannot be
    written refuses the request (503) rather than show data unrecorded."""
    if state.audit is None:
        return
    client = request.client.host if request.client else "unknown"
    text = f"{detail} (from {client})" if detail else f"from {client}"
    if state.scope is not None:
        text = f"for clinic {state.scope.clinic}: {text}"
    try:
        await asyncio.to_thread(state.audit.record, _actor(request, state), f"web {action}", wearer, text)
    except sqlite3.Error as exc:
        _LOGGER.warning("web %s: the audit trail %s could not be written (%s)", wearer, state.audit.path, exc)
        raise HTTPException(503, f"the audit trail could not be written ({exc}): nothing is shown unrecorded") from None


def _zone(state: WebState, wearer: str) -> ZoneInfo:
    return state.board.policy(wearer).zone


async def _day(request: Request, state: WebState, wearer: str) -> date:
    """The ``day`` parameter, else the wearer's current day: the newest data's (live, else the newest the store has
    seen of their sensors: the demo's day after ``kinetic demo``), else this host's today."""
    text = request.query_params.get("day")
    if text:
        try:
            return views.parse_day(text)
        except views.BadInput as exc:
            raise HTTPException(400, str(exc)) from None
    live = state.board.get(wearer)
    now_ms = live.now_ms if live and live.now_ms else None
    if now_ms is None:
        seen = [d.last_seen_ms for d in await state.queries.devices(wearer)]
        now_ms = max(seen) if seen else round(state.clock().timestamp() * 1000)
    return views.local_day(now_ms, _zone(state, wearer))


def _nav(wearer: str, page: str, day: date | None = None) -> dict[str, Any]:
    return {"wearer": wearer, "page": page, "day": day.isoformat() if day else None}


async def index(request: Request) -> Response:
    state = _state(request)
    login = _login(request)
    if login is not None and login.wearer is not None:  # a wearer's login: their own pages, no list of others
        return RedirectResponse(f"/w/{login.wearer}/today", status_code=303)
    wearers = sorted({*await state.stored_wearers(), *state.board.wearers()})
    if state.scope is not None:  # a clinic's view lists only whom it may read now
        now_ms = round(state.clock().timestamp() * 1000)
        wearers = [w for w in wearers if await state.scope.refusal(w, now_ms) is None]
    if len(wearers) == 1:
        return RedirectResponse(f"/w/{wearers[0]}/today", status_code=303)
    return _page(request, "index.html", {"wearers": wearers, "page": "index", "wearer": None})


async def today(request: Request) -> Response:
    state = _state(request)
    wearer = await _wearer(request)
    day = await _day(request, state, wearer)
    context = {
        **_nav(wearer, "today", day),
        "previous": (day - timedelta(days=1)).isoformat(),
        "next": (day + timedelta(days=1)).isoformat(),
        "snapshot": state.board.snapshot(wearer),
    }
    await _audit(request, state, "today", wearer, day.isoformat())
    return _page(request, "today.html", context)


async def today_json(request: Request) -> Response:
    state = _state(request)
    wearer = await _wearer(request)
    day = await _day(request, state, wearer)
    zone = _zone(state, wearer)
    start, end = views.day_bounds(day, zone)
    q = state.queries
    await _audit(request, state, "today data", wearer, day.isoformat())
    data = views.today_data(
        zone,
        day,
        await q.bouts(wearer, start, end + 24 * 3_600_000),  # a bout that ends tomorrow began today
        await q.minutes(wearer, start, end),
        await q.prompts(wearer, start, end),
        await q.outcomes(wearer, start, end),
        await q.devices(wearer),
    )
    return JSONResponse({**data, "live": state.board.snapshot(wearer)})


async def live(request: Request) -> Response:
    state = _state(request)
    wearer = await _wearer(request)
    await _audit(request, state, "live", wearer, "live stream opened")

    return EventSourceResponse(
        live_events(state.hub, state.closing, lambda: state.board.snapshot(wearer), wearer), ping=15
    )


async def live_events(
    hub: LiveHub, closing: asyncio.Event, snapshot: Callable[[], object], wearer: str
) -> AsyncIterator[dict[str, str]]:
    """The live stream's events for ``wearer``: ``snapshot()`` now and after each change the hub signals, until
    ``closing`` is set or the client goes (the task iterating is cancelled). Leaves no task behind either way (a
    waiter left pending was logged as "Task was destroyed but it is pending!" when a tab closed)."""
    queue = hub.subscribe(wearer)
    closed = asyncio.ensure_future(closing.wait())
    change: asyncio.Future[None] | None = None
    try:
        while not closing.is_set():
            yield {"event": "live", "data": _json(snapshot())}
            change = asyncio.ensure_future(queue.get())
            await asyncio.wait({change, closed}, return_when=asyncio.FIRST_COMPLETED)
            change.cancel()
    finally:
        closed.cancel()
        if change is not None:
            change.cancel()
        hub.unsubscribe(wearer, queue)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def startable_exercises(state: WebState, wearer: str) -> set[str]:
    """The exercises the guided session page (``/w/<wearer>/session``) can start for ``wearer``: in the catalog and,
    when a prescriptions file is set, prescribed to them (the alert service refuses any other session: issue 19). An
    open prompt for one of them offers Start beside Done and Snooze, as its ntfy notification does."""
    prescriptions = None if state.prescriptions is None else state.prescriptions()
    return set(sessions_rule.startable_exercises(state.catalog, prescriptions, wearer))


async def prompts_page(request: Request) -> Response:
    state = _state(request)
    wearer = await _wearer(request)
    day = await _day(request, state, wearer)
    zone = _zone(state, wearer)
    start, end = views.day_bounds(day, zone)
    start -= 6 * 24 * 3_600_000  # the week up to the day
    await _audit(request, state, "prompts", wearer, f"week up to {day.isoformat()}")
    events = await state.queries.prompt_events(wearer, start, end)
    items = views.prompt_items(
        await state.queries.prompts(wearer, start, end), await state.queries.outcomes(wearer, start, end), zone, events
    )
    context = {
        **_nav(wearer, "prompts", day),
        "items": items,
        "startable": startable_exercises(state, wearer),
        "waits": views.wait_items(events, zone),
        "snapshot": state.board.snapshot(wearer),
        "sent": request.query_params.get("sent", "")[:20],
        "timezone": state.board.policy(wearer).timezone,
    }
    return _page(request, "prompts.html", context)


def _local_until(text: str, zone: ZoneInfo) -> datetime:
    """A ``datetime-local`` field ('2026-11-23T15:30') in the wearer's zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(
            400, f"pause until {text[:40]!r}: expected a date and time such as 2026-11-23T15:30"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


async def command(request: Request) -> Response:
    """A button on the Prompts or Today page -> the CLI's command (alerts.prompts.commands) on MQTT."""
    state = _state(request)
    wearer = await _wearer(request)
    form = await _form(request)
    action = _text(form, "action", 20)
    prompt_id = _text(form, "prompt_id", 128) or None
    until_text = _text(form, "until", 40)
    kwargs: dict[str, Any] = {}
    if action == "snooze":
        kwargs["minutes"] = SNOOZE_MIN
    elif action == "pause_1h":
        action, kwargs["pause_for_min"] = "pause", PAUSE_MIN
    elif action == "pause" and until_text:
        kwargs["until"] = _local_until(until_text, _zone(state, wearer))
    elif action not in ("done", "resume", "checkin"):
        raise HTTPException(
            400, f"action {action!r}: expected done, snooze, pause_1h, pause (with until), resume or checkin"
        )
    try:
        if action == "checkin":  # issue 17: pain 0-10 and stress, as `kinetic prompts checkin` and ntfy send them
            pain, stress = _text(form, "pain", 2) or None, _text(form, "stress", 6) or None
            cmd = checkin_command(wearer, state.clock(), source=SOURCE, pain=pain, stress=stress)
        else:
            cmd = prompt_command(action, wearer, state.clock(), source=SOURCE, prompt_id=prompt_id, **kwargs)
    except CommandRefused as exc:  # a check-in's refusal names itself ("checkin: pain 11: ...")
        raise HTTPException(400, str(exc) if action == "checkin" else f"{action}: {exc}") from None
    await _send(state, cmd)
    back = _text(form, "back", 200)
    target = back if back.startswith(f"/w/{wearer}/") and "//" not in back else f"/w/{wearer}/prompts"
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}{urlencode({'sent': action})}", status_code=303)


async def _send(state: WebState, cmd: CommandV1) -> None:
    try:
        await state.publish(cmd)
    except IngestError as exc:
        raise HTTPException(503, f"the command could not be sent: {exc}") from None
    _LOGGER.info("web %s: %s sent", cmd.wearer, cmd.kind)


async def week_page(request: Request) -> Response:
    state = _state(request)
    wearer = await _wearer(request)
    zone = _zone(state, wearer)
    week = request.query_params.get("week") or views.iso_week(await _day(request, state, wearer))
    try:
        monday = views.parse_week(week)
    except views.BadWeek as exc:
        raise HTTPException(400, str(exc).replace("--week", "week")) from None
    first = monday - timedelta(weeks=views.TREND_WEEKS - 1)
    await _audit(request, state, "week", wearer, views.iso_week(monday))
    hours = await state.queries.hours(
        wearer, views.day_start_ms(first, zone), views.day_start_ms(monday + timedelta(days=7), zone)
    )
    trend = views.week_trend(monday, zone, hours)
    context = {
        **_nav(wearer, "week"),
        "week": views.iso_week(monday),
        "previous": views.iso_week(monday - timedelta(weeks=1)),
        "next": views.iso_week(monday + timedelta(weeks=1)),
        "trend": trend,
        "import_map": IMPORT_MAP,
    }
    return _page(request, "week.html", context)


def _on_file(state: WebState, wearer: str) -> dict[str, dict[str, float]] | None:
    """The wearer's doses in the prescriptions file: a hand-written prescription's until its first recorded change."""
    return None if state.prescriptions is None else doses_on_file(state.prescriptions().get(wearer, []))


async def week_report(request: Request) -> Response:
    """The weekly report's HTML (dashboards.report) for the ``week`` parameter, shown in the Week page's frame."""
    state = _state(request)
    wearer = await _wearer(request)
    week = request.query_params.get("week", "")
    try:
        views.parse_week(week)
        await _audit(request, state, "report weekly", wearer, week)
        report = await weekly_report(
            state.queries, wearer, week, state.board.policy(wearer).timezone, on_file=_on_file(state, wearer)
        )
    except views.BadWeek as exc:
        raise HTTPException(400, str(exc).replace("--week", "week")) from None
    return HTMLResponse(render.html(report))


async def week_charts(request: Request) -> Response:
    """The weekly report's charts for the ``week`` parameter: the very Vega-Lite specs the printed report renders to
    SVG (``dashboards.report.charts.chart_specs``), for vega-embed on the Week page. ``{"week", "charts": [{"name",
    "title", "empty", "spec"}]}`` in report order."""
    state = _state(request)
    wearer = await _wearer(request)
    week = request.query_params.get("week", "")
    try:
        views.parse_week(week)
        await _audit(request, state, "report charts", wearer, week)
        report = await weekly_report(
            state.queries, wearer, week, state.board.policy(wearer).timezone, on_file=_on_file(state, wearer)
        )
    except views.BadWeek as exc:
        raise HTTPException(400, str(exc).replace("--week", "week")) from None
    charts = []
    for name, spec in chart_specs(report).items():
        title = spec.get("title")
        text = title.get("text", "") if isinstance(title, dict) else title
        charts.append(
            {"name": name, "title": str(text or name), "empty": spec["usermeta"]["kinetic"]["empty"], "spec": spec}
        )
    return JSONResponse({"week": week, "charts": charts})


async def week_json(request: Request) -> Response:
    state = _state(request)
    wearer = await _wearer(request)
    zone = _zone(state, wearer)
    try:
        monday = views.parse_week(request.query_params.get("week", ""))
    except views.BadWeek as exc:
        raise HTTPException(400, str(exc).replace("--week", "week")) from None
    first = monday - timedelta(weeks=views.TREND_WEEKS - 1)
    await _audit(request, state, "week data", wearer, views.iso_week(monday))
    hours = await state.queries.hours(
        wearer, views.day_start_ms(first, zone), views.day_start_ms(monday + timedelta(days=7), zone)
    )
    trend = views.week_trend(monday, zone, hours)

    def series(name: str) -> list[float | None]:
        return [getattr(t, name) if t.has_data else None for t in trend]  # no data: a gap, not a zero

    names = ("worn_h", "sitting_h", "breaks", "bouts_60_plus", "lean_10deg_min")
    return JSONResponse({"weeks": [t.week for t in trend], **{name: series(name) for name in names}})


async def settings_page(request: Request) -> Response:
    state = _state(request)
    wearer = await _wearer(request)
    revoked = request.query_params.get("revoked", "")[:64]
    return await _settings(
        request, state, wearer, None, {}, request.query_params.get("saved") == "1", extra={"revoked": revoked}
    )


async def _settings(
    request: Request,
    state: WebState,
    wearer: str,
    values: dict[str, str] | None,
    errors: dict[str, str],
    saved: bool,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    policy = state.board.policy(wearer)
    await _audit(request, state, "settings", wearer, "policy and devices")
    phones = None
    if state.tokens is not None:
        try:
            phones = views.phone_items(await asyncio.to_thread(state.tokens.devices, wearer), policy.zone)
        except TokenStoreError as exc:
            raise HTTPException(503, str(exc)) from None
    context = {
        **_nav(wearer, "settings"),
        "fields": views.POLICY_FORM,
        "origin": state.board.policy_origin(wearer),
        "sources": views.POLICY_SOURCES,
        "timezone": policy.timezone,
        "values": values or views.policy_form_values(policy),
        "errors": errors,
        "saved": saved,
        "devices": views.device_items(await state.queries.devices(wearer), policy.zone),
        "phones": phones,
        "platforms": PLATFORMS,
        "placements": PLACEMENTS,
        "phone_values": {"device": f"{wearer}-phone"[:64], "platform": "", "placement": "thigh"},
        "phone_errors": {},
        "new_phone": None,
        "revoked": "",
        **(extra or {}),
    }
    return _page(request, "settings.html", context, status)


def _push_url(request: Request, state: WebState, wearer: str, token: str) -> str | None:
    """The Sensor Logger push URL of ``kinetic phone`` for this wearer and token (None: push is off). An any-address
    listener is reached by this page's host name."""
    if not state.push_port:
        return None
    host = (request.url.hostname or "127.0.0.1") if state.push_host in ANY_ADDRESS else state.push_host
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{state.push_port}/sensorlogger/{wearer}?{urlencode({'token': token})}"


def _tokens(state: WebState) -> TokenStore:
    if state.tokens is None:
        raise HTTPException(404, "this app has no phone token store (KINETIC_PHONE__TOKENS_PATH)")
    return state.tokens


async def phone_add(request: Request) -> Response:
    """ "Add a phone": a device with a new push token; the page that answers shows the token and the push URL once
    (never in a URL or a log: only the hash is kept). Audited."""
    state = _state(request)
    wearer = await _wearer(request)
    form = await _form(request)
    tokens = _tokens(state)
    values = {
        "device": _text(form, "device", 64).strip(),
        "platform": _text(form, "platform", 10),
        "placement": _text(form, "placement", 10),
    }
    standardised = form.get("standardised") == "on"
    errors = {}
    try:
        check_id(values["device"])
    except WireError:
        errors["device"] = "a device name: lower-case letters, digits, - and _ (at most 64), e.g. ann-pixel"
    if values["platform"] not in PLATFORMS:
        errors["platform"] = "choose iOS or Android"
    if values["placement"] not in PLACEMENTS:
        errors["placement"] = "choose where the phone is worn: thigh or trunk"
    if not errors:
        try:
            token = await asyncio.to_thread(
                tokens.add,
                wearer,
                values["device"],
                values["platform"],  # type: ignore[arg-type]  # checked above
                values["placement"],  # type: ignore[arg-type]
                standardised=standardised,
            )
        except TokenStoreError as exc:
            errors["device"] = str(exc)
    if errors:
        extra = {"phone_values": values, "phone_errors": errors}
        return await _settings(request, state, wearer, None, {}, False, 400, extra)
    try:
        await _audit(request, state, "phone token added", wearer, values["device"])
    except HTTPException:
        await asyncio.to_thread(tokens.revoke, wearer, values["device"])  # no token without its audit entry
        raise
    _LOGGER.info("web %s: phone %s added", wearer, values["device"])
    new_phone = {"device": values["device"], "token": token, "url": _push_url(request, state, wearer, token)}
    return await _settings(request, state, wearer, None, {}, False, extra={"new_phone": new_phone})


async def phone_revoke(request: Request) -> Response:
    """Revoke a phone's token: its pushes are refused (401) from the next one. Audited."""
    state = _state(request)
    wearer = await _wearer(request)
    form = await _form(request)
    device = _text(form, "device", 64)
    if not await asyncio.to_thread(_tokens(state).revoke, wearer, device):
        raise HTTPException(404, f"wearer {wearer!r} has no phone {device[:64]!r} with a token")
    await _audit(request, state, "phone token revoked", wearer, device)
    _LOGGER.info("web %s: phone %s revoked", wearer, device)
    return RedirectResponse(f"/w/{wearer}/settings?{urlencode({'revoked': device})}", status_code=303)


async def settings_post(request: Request) -> Response:
    state = _state(request)
    wearer = await _wearer(request)
    form = await _form(request)
    values = {name: _text(form, name) for name in views.POLICY_FORM if name in form}
    policy = state.board.policy(wearer)
    overrides, errors = views.policy_overrides(policy, values)
    if errors:
        return await _settings(
            request, state, wearer, {**views.policy_form_values(policy), **values}, errors, False, 400
        )
    if overrides:
        try:
            cmd = prompt_command("policy", wearer, state.clock(), source=SOURCE, settings=overrides, policy=policy)
        except CommandRefused as exc:
            raise HTTPException(400, str(exc)) from None
        await _send(state, cmd)
        state.board.feed(cmd)  # shown at once; the alert service gets the same command
    return RedirectResponse(f"/w/{wearer}/settings?saved=1", status_code=303)


def _login_context(state: WebState, failed: bool) -> dict[str, Any]:
    return {"page": "login", "wearer": None, "failed": failed, "per_person": state.logins is not None}


async def login_page(request: Request) -> Response:
    return _page(request, "login.html", _login_context(_state(request), False))


async def login_post(request: Request) -> Response:
    """The one token, or a login name and its password (checked in a worker thread: scrypt is slow on purpose). A
    refusal is a 401 that says only that they do not match (never which), counted and logged as one line without the
    password; a known wearer's refused login is an audit entry for them."""
    state = _state(request)
    form = await _form(request)
    given = _text(form, "token" if state.logins is None else "password", 400)
    login: Login | None = None
    if state.logins is not None:
        typed = _text(form, "name", 64).strip().lower()
        login = await asyncio.to_thread(state.logins.verify, typed, given)
        if login is None:
            known = await asyncio.to_thread(state.logins.get, typed)
            return await _login_refused(request, state, known)
        _LOGGER.info(
            "web login %s: logged in (from %s)", login.name, request.client.host if request.client else "unknown"
        )
    elif state.token is None or not hmac.compare_digest(given.encode(), state.token.encode()):
        return await _login_refused(request, state, None)
    session = secrets.token_urlsafe(32)
    state.sessions[session] = login
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


async def _login_refused(request: Request, state: WebState, known: Login | None) -> Response:
    state.login_refusals += 1
    client = request.client.host if request.client else "unknown"
    who = (
        f"login {known.name}"
        if known is not None
        else "an unknown login name"
        if state.logins is not None
        else "the token"
    )
    _LOGGER.warning("web login: refused for %s from %s (%d refused since start)", who, client, state.login_refusals)
    if known is not None and known.wearer is not None and state.audit is not None:
        await _audit(request, state, "login refused", known.wearer, f"a wrong password for login {known.name}")
    return _page(request, "login.html", _login_context(state, True), 401)


async def logout(request: Request) -> Response:
    """End this browser's session (the cookie is forgotten by the server)."""
    await _form(request)
    state = _state(request)
    state.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return PlainTextResponse(f"{exc.detail}\n", exc.status_code)


async def _ingest_error(request: Request, exc: Exception) -> Response:
    _LOGGER.warning("web %s: the store could not answer (%s)", request.url.path, exc)
    return PlainTextResponse(f"the store could not answer: {exc}\n", 503)


def build_app(state: WebState) -> Starlette:
    """The app over ``state``; ``app.state.web`` is it."""
    from dashboards.web import prescriptions, session  # noqa: PLC0415 - they build on this module's helpers

    routes = [
        Route("/", index),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/w/{wearer}/today", today),
        Route("/w/{wearer}/today.json", today_json),
        Route("/w/{wearer}/live", live),
        Route("/w/{wearer}/prompts", prompts_page),
        Route("/w/{wearer}/command", command, methods=["POST"]),
        Route("/w/{wearer}/week", week_page),
        Route("/w/{wearer}/week.json", week_json),
        Route("/w/{wearer}/week/report", week_report),
        Route("/w/{wearer}/week/charts.json", week_charts),
        Route("/w/{wearer}/settings", settings_page, methods=["GET"]),
        Route("/w/{wearer}/settings", settings_post, methods=["POST"]),
        Route("/w/{wearer}/phones", phone_add, methods=["POST"]),
        Route("/w/{wearer}/phones/revoke", phone_revoke, methods=["POST"]),
        Route("/w/{wearer}/session", session.session_page, methods=["GET"]),
        Route("/w/{wearer}/session", session.session_post, methods=["POST"]),
        Route("/w/{wearer}/prescriptions", prescriptions.prescriptions_page, methods=["GET"]),
        Route("/w/{wearer}/prescriptions", prescriptions.prescriptions_post, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    from dashboards.web.consent_routes import ROUTES  # noqa: PLC0415 - its handlers use this module's helpers

    routes[-1:-1] = ROUTES
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, IngestError: _ingest_error},
    )
    app.state.web = state
    app.add_middleware(Guard, state=state)
    return app
