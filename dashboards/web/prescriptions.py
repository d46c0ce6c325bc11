"""The Prescriptions page (issue 19, items 1 and 4): ``/w/<wearer>/prescriptions`` shows the wearer's prescribed
exercises with their dose and progression rule and the progression proposals waiting for the clinician; its forms
prescribe an exercise or change its dose (``set``), stop it (``remove``), and accept (edited or not) or reject a
pending proposal, exactly as ``kinetic prescription set|remove|accept|reject``: the same code path
(``alerts.prompts.prescription.plan_change`` / ``plan_decision``: the edited entry and the whole file validated,
the ``prescription_changed`` event made), the event published on the wearer's events topic (confirmed by the broker
within ``COMMAND_TIMEOUT_S``) and only then the file written. A refused edit re-shows the page (400) with the one
line naming the file, the wearer, the entry and the reason; nothing is published or written. The forms carry the
CSRF token as the other forms; the page and each change are entries in the audit trail. With per-person logins a
wearer's login sees the page without its forms and a change from it is refused (403): prescribing is a clinician's or
the operator's (a staff login).

The form's fields are the file's keys (docs/exercises.md): ``sets``, ``reps``, ``hold_s``, ``tempo.down_s`` /
``pause_s`` / ``up_s``, ``rest_s``, ``per_day``, ``per_week``; an emptied field removes the key; the other keys
(``progression.add_reps=1``, ``day_types=[capacity]``) go in "More" as ``KEY=VALUE`` pairs, read as the CLI reads
them (``alerts.cli.prescription_changes``).
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import aiomqtt
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from alerts.cli import prescription_changes
from alerts.errors import AlertsError
from alerts.prompts.prescription import (
    PlannedChange,
    Prescribed,
    dose_text,
    load_pending,
    load_prescriptions,
    plan_change,
    plan_decision,
)
from dashboards.web import app as web
from ingest.errors import ConfigError, IngestError

_LOGGER = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 3.0  # the broker confirms the event within this, or nothing is written (as the commands)
# (form field, label): the dose's keys, as the file names them
DOSE_FIELDS: tuple[tuple[str, str], ...] = (
    ("sets", "Sets"),
    ("reps", "Repetitions"),
    ("hold_s", "Hold (s)"),
    ("tempo.down_s", "Down (s)"),
    ("tempo.pause_s", "Pause (s)"),
    ("tempo.up_s", "Up (s)"),
    ("rest_s", "Rest (s)"),
    ("per_day", "Per day"),
    ("per_week", "Per week"),
)
ACTIONS = ("set", "remove", "accept", "reject")
WHO = "the clinician (web)"  # who made a change, in its event's reason (the CLI's: "the clinician (cli)")


@dataclass(frozen=True, slots=True)
class PrescriptionItem:
    """One prescribed exercise as the page shows it: its dose in words, the form's current values, its progression
    rule in words and the pending proposal (None: none)."""

    exercise: str
    title: str
    dose: str
    values: dict[str, str]
    rule: str
    pending: str | None


def dose_values(p: Prescribed) -> dict[str, str]:
    """The form's values of a prescription (``""``: not set)."""
    nested: dict[str, Any] = p.model_dump()
    out: dict[str, str] = {}
    for name, _ in DOSE_FIELDS:
        head, _, key = name.partition(".")
        value = (nested.get(head) or {}).get(key) if key else nested.get(head)
        out[name] = "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    return out


def form_changes(form: dict[str, str], current: dict[str, str], more: str) -> dict[str, Any]:
    """The form's fields that differ from ``current`` (``""``: removed) and the "More" pairs -> changes for
    ``plan_change``, values read as ``kinetic prescription set`` reads them. Raises ConfigError naming a bad pair."""
    pairs = [
        f"{name}={form[name].strip() or 'default'}"
        for name, _ in DOSE_FIELDS
        if form.get(name, "").strip() != current.get(name, "")
    ]
    try:
        pairs += shlex.split(more)
    except ValueError as exc:
        raise ConfigError(f"prescription setting {more[:80]!r}: {exc}") from None
    return prescription_changes(pairs)


def _rule(p: Prescribed) -> str:
    if p.progression is None:
        return "no progression rule"
    hold = p.hold_s is not None
    step = p.progression.add_hold_s if hold else p.progression.add_reps
    top = p.progression.max_hold_s if hold else p.progression.max_reps
    unit = " s" if hold else " reps"
    auto = ", automatic" if p.progression.automatic else ", proposed for acceptance"
    return f"+{step:g}{unit} a week up to {top:g}{unit}{auto}"


def _items(state: web.WebState, wearer: str) -> list[PrescriptionItem]:
    path = state.prescriptions_path
    assert path is not None
    prescribed = load_prescriptions(path, state.catalog).get(wearer, []) if path.exists() else []
    pending = load_pending(path).get(wearer, {})
    out = []
    for p in prescribed:
        waiting = pending.get(p.exercise)
        exercise = state.catalog.get(p.exercise)
        out.append(
            PrescriptionItem(
                exercise=p.exercise,
                title=exercise.title if exercise is not None else p.exercise,
                dose=dose_text(p),
                values=dose_values(p),
                rule=_rule(p),
                pending=f"{waiting['week']}: {waiting['reason']}" if waiting is not None else None,
            )
        )
    return out


async def _render(request: Request, wearer: str, error: str | None = None, status: int = 200) -> Response:
    state = web._state(request)
    context: dict[str, Any] = {
        **web._nav(wearer, "prescriptions"),
        "error": error,
        "configured": False,
        "can_prescribe": _prescriber_refusal(request) is None,
    }
    if state.prescriptions_path is not None:
        try:
            items = await asyncio.to_thread(_items, state, wearer)
        except AlertsError as exc:
            raise HTTPException(503, str(exc)) from None
        taken = {i.exercise for i in items}
        context |= {
            "configured": True,
            "items": items,
            "fields": DOSE_FIELDS,
            "choices": [e for name, e in sorted(state.catalog.items()) if name not in taken],
            "saved": request.query_params.get("saved", "")[:200],
        }
    await web._audit(request, state, "prescriptions", wearer, "prescriptions and pending proposals")
    return web._page(request, "prescriptions.html", context, status)


async def prescriptions_page(request: Request) -> Response:
    wearer = await web._wearer(request)
    return await _render(request, wearer)


def _prescriber_refusal(request: Request) -> str | None:
    """Why this request's login may not change prescriptions (a wearer's login), None if it may."""
    login = web._login(request)
    if login is None or login.wearer is None:
        return None
    return f"login {login.name!r} is a wearer's: prescriptions are changed by a clinician or the operator (staff)"


async def prescriptions_post(request: Request) -> Response:
    """A change from one of the page's forms -> the CLI's plan, its event published, then the file written."""
    state = web._state(request)
    wearer = await web._wearer(request)
    refusal = _prescriber_refusal(request)
    if refusal is not None:
        await web._audit(request, state, "prescription change refused", wearer, refusal)
        raise HTTPException(403, refusal)
    form = await web._form(request)
    path = state.prescriptions_path
    if path is None:
        raise HTTPException(404, "no prescriptions file: set KINETIC_ALERTS__PRESCRIPTIONS_FILE for kinetic serve")
    action = web._text(form, "action", 10)
    exercise = web._text(form, "exercise", 64)
    if action not in ACTIONS:
        raise HTTPException(400, f"action {action[:10]!r}: expected one of {', '.join(ACTIONS)}")
    fields = {name: web._text(form, name, 20) for name, _ in DOSE_FIELDS}
    more = web._text(form, "more", 500)
    now = state.clock().astimezone(UTC)

    def plan() -> PlannedChange:
        if action in ("accept", "reject"):
            edits = form_changes({}, {}, more) if action == "accept" else {}
            return plan_decision(path, state.catalog, wearer, exercise, action == "accept", edits, now, WHO)
        if action == "remove":
            return plan_change(path, state.catalog, wearer, exercise, None, f"removed by {WHO}", now)
        item = next((i for i in _items(state, wearer) if i.exercise == exercise), None)
        changes = form_changes(fields, item.values if item is not None else {}, more)
        return plan_change(path, state.catalog, wearer, exercise, changes, f"set by {WHO}", now)

    try:
        planned = await asyncio.to_thread(plan)
    except (AlertsError, ConfigError) as exc:
        return await _render(request, wearer, str(exc), 400)
    await _publish(state, planned)
    await asyncio.to_thread(planned.commit)
    await web._audit(request, state, "prescription changed", wearer, planned.text)
    _LOGGER.info("web %s: %s", wearer, planned.text)
    return RedirectResponse(f"/w/{wearer}/prescriptions?saved={exercise}", status_code=303)


async def _publish(state: web.WebState, planned: PlannedChange) -> None:
    """The change's event, confirmed by the broker, or a 503 and nothing written (every change is an event)."""
    if state.publish_event is None:
        raise HTTPException(503, "this server cannot publish events: nothing was changed")
    try:
        async with asyncio.timeout(COMMAND_TIMEOUT_S):
            await state.publish_event(planned.event)
    except (IngestError, TimeoutError, aiomqtt.MqttError) as exc:
        raise HTTPException(
            503, f"prescription_changed not confirmed by the MQTT broker ({exc or 'timeout'}): nothing was changed"
        ) from None
