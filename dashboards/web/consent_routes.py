"""The wearer's Sharing page (``/w/<wearer>/consent``): who may see which of their data, from and until when, every
change, and who read their data (the audit trail's entries for them; as JSON at ``/w/<wearer>/consent/audit.json``).

A grant or a withdrawal posted here goes through ``kinetic consent``'s ledger and checks (dashboards/web/consent.py),
is published as its event, and is an entry in the audit trail; a form value the ledger refuses re-shows the page
(400) with the one line saying why. Viewing the page is a read of the wearer's data: audited before it is shown. A
clinic's view (``KINETIC_WEB__CLINIC``) has no Sharing page: consent is the wearer's to set (403).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from dashboards.web.app import WebState, _audit, _form, _page, _state, _text, _wearer, _zone
from dashboards.web.consent import (
    CATEGORY_TEXT,
    ConsentAccess,
    audit_items,
    check_categories,
    clinic_names,
    parse_local,
    sharing_view,
)
from ingest.errors import ConfigError, IngestError, WireError

TAKEN_BACK_REFUSED = -1  # the ``taken`` query value when this app's credential could not move the clinic's copy


def _access(state: WebState) -> ConsentAccess:
    if state.scope is not None:
        raise HTTPException(403, f"this is clinic {state.scope.clinic}'s view: consent is set by the wearer")
    if state.consent is None:
        raise HTTPException(404, "this app has no consent records (KINETIC_STORE__CONSENT_PATH)")
    return state.consent


async def _sharing_wearer(request: Request, state: WebState) -> str:
    """The path's wearer (``app._wearer``), or one the store does not hold yet whom the consent records or the
    clinics file's rosters name: under the wall this app's store (the operations database) holds no wearer, and a
    wearer decides about sharing before any of their data is stored."""
    try:
        return await _wearer(request)
    except HTTPException as exc:
        if exc.status_code != 404 or state.consent is None:
            raise
        wearer = str(request.path_params["wearer"])
        clinics = state.consent.clinics
        on_roster = clinics is not None and wearer in clinics.roster()
        if on_roster or len(await asyncio.to_thread(state.consent.ledger.changes, wearer)) > 0:
            return wearer
        raise


def _now_ms(state: WebState) -> int:
    return round(state.clock().timestamp() * 1000)


async def _trail(state: WebState, wearer: str) -> list[dict[str, Any]]:
    if state.audit is None:
        return []
    return await asyncio.to_thread(state.audit.for_wearer, wearer)


async def consent_page(request: Request) -> Response:
    state = _state(request)
    access = _access(state)
    wearer = await _sharing_wearer(request, state)
    query = request.query_params
    notice = {"recorded": query.get("recorded", "")[:20], "taken": query.get("taken", "")[:12]}
    return await _show(request, state, access, wearer, {}, {}, notice)


async def _show(
    request: Request,
    state: WebState,
    access: ConsentAccess,
    wearer: str,
    values: dict[str, Any],
    errors: dict[str, str],
    notice: dict[str, str],
    status: int = 200,
) -> Response:
    zone = _zone(state, wearer)
    await _audit(request, state, "consent", wearer, "sharing and who read")
    try:
        record = await asyncio.to_thread(access.ledger.read, wearer, _now_ms(state))
    except ConfigError as exc:
        raise HTTPException(503, str(exc)) from None
    view = sharing_view(record, access.clinics, zone)
    context = {
        "wearer": wearer,
        "page": "consent",
        "day": None,
        "sharing": view,
        "clinics": clinic_names(access.clinics),
        "categories": CATEGORY_TEXT,
        "values": {"clinic": "", "data": list(CATEGORY_TEXT), "since": "", "until": "", **values},
        "errors": errors,
        "notice": notice,
        "can_take_back": access.take_back is not None,
        "taken_refused": str(TAKEN_BACK_REFUSED),
        "trail": audit_items(await _trail(state, wearer), zone),
        "timezone": state.board.policy(wearer).timezone,
    }
    return _page(request, "consent.html", context, status)


async def consent_post(request: Request) -> Response:
    """A grant (``action=grant``: clinic, data, since, until) or a withdrawal (``action=withdraw``: clinic, data,
    ``delete_shared``) -> the ledger, its event on the wearer's events topic, an audit entry; then the page."""
    state = _state(request)
    access = _access(state)
    wearer = await _sharing_wearer(request, state)
    form = await _form(request)
    action = _text(form, "action", 20)
    clinic = _text(form, "clinic", 64).strip()
    data = [d for d in form.getlist("data") if isinstance(d, str)][: len(CATEGORY_TEXT) + 1]
    now_ms = _now_ms(state)
    zone = _zone(state, wearer)
    values: dict[str, Any] = {"clinic": clinic, "data": data}
    try:
        if action == "grant":
            values |= {"since": _text(form, "since", 40), "until": _text(form, "until", 40)}
            since_ms = parse_local(values["since"], zone, "since") or now_ms
            until_ms = parse_local(values["until"], zone, "until")
            change = await asyncio.to_thread(
                access.ledger.grant, wearer, clinic, check_categories(data), since_ms, until_ms, now_ms
            )
        elif action == "withdraw":
            delete_shared = form.get("delete_shared") == "on"
            change = await asyncio.to_thread(
                access.ledger.withdraw, wearer, clinic, check_categories(data), now_ms, delete_shared
            )
        else:
            raise HTTPException(400, f"action {action[:20]!r}: expected grant or withdraw")
    except (ConfigError, WireError) as exc:
        message = str(exc).replace("--since", "since").replace("--until", "until")
        return await _show(request, state, access, wearer, values, {action: message}, {}, 400)
    detail = f"{change.action} {change.clinic}: {', '.join(change.data)}"
    await _audit(request, state, "consent changed", wearer, detail)
    try:
        await access.publish(change.event())
    except IngestError as exc:
        raise HTTPException(
            503, f"the change is recorded but the services were not told ({exc}): send it again in a moment"
        ) from None
    query: dict[str, str] = {"recorded": change.action}
    if action == "withdraw" and form.get("delete_shared") == "on" and access.take_back is not None:
        try:
            query["taken"] = str(await access.take_back(wearer))
        except IngestError:  # a read-only credential (the web app's usual one): the operator finishes it
            query["taken"] = str(TAKEN_BACK_REFUSED)
    return RedirectResponse(f"/w/{wearer}/consent?{urlencode(query)}", status_code=303)


async def audit_json(request: Request) -> Response:
    """Who read the wearer's data: the audit trail's entries for them, oldest first (``time`` in Unix ms, ``actor``,
    ``action``, ``detail``), as ``kinetic data audit`` gives them. Itself an entry."""
    state = _state(request)
    _access(state)
    wearer = await _sharing_wearer(request, state)
    await _audit(request, state, "audit export", wearer, "who read")
    entries = await _trail(state, wearer)
    name = f"kinetic-audit-{wearer}-{time.strftime('%Y%m%d')}.json"
    return JSONResponse(
        {"wearer": wearer, "entries": entries},
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


ROUTES = [
    Route("/w/{wearer}/consent", consent_page, methods=["GET"]),
    Route("/w/{wearer}/consent", consent_post, methods=["POST"]),
    Route("/w/{wearer}/consent/audit.json", audit_json, methods=["GET"]),
]
