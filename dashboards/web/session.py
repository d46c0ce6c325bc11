"""The guided session page (issue 19, item 2): ``/w/<wearer>/session`` lists the wearer's exercises (the prescribed
ones when a prescriptions file is set, else the catalog); ``?exercise=<id>`` shows what to do, the dose, a timer
that follows the prescribed tempo phase by phase with a breathing cue for each phase, and Start / End buttons that
send the same ``session_start`` / ``session_end`` commands as ``kinetic session`` (End with the effort and pain the
wearer reports, 0-10). The alert service verifies the session from its stream (docs/exercises.md).

``guide`` is pure (the exercise and its prescription in, the timer's phases out); the timer itself runs in the
browser (static/session.js) and only shows time: the outcome comes from the sensor, not from the page.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from alerts.prompts.catalog import Exercise
from alerts.prompts.prescription import Prescribed, dose_text
from alerts.prompts.sessions import SessionRefused, may_start, session_command, startable_exercises
from dashboards.web import app as web

BREATH_IN_S = 4.0  # the breathing reset's cycle: 4 s in, 6 s out = 6 breaths a minute, the usual slow-breathing aim
BREATH_OUT_S = 6.0
MAX_PHASES = 2_000  # a 10 x 50 repetition set at 3 phases each, with rests, stays under it


@dataclass(frozen=True, slots=True)
class Phase:
    """One step of the timer: what to do (``label``), for how long (``seconds``) and the breathing cue."""

    label: str
    seconds: float
    cue: str


def guide(exercise: Exercise, prescribed: Prescribed | None) -> list[Phase]:
    """The timer's phases for ``exercise`` at the ``prescribed`` dose (None: the catalog's duration, one phase).

    Repetitions with a tempo: lower (breathe in), pause (keep breathing), rise (breathe out on the effort) per
    repetition, the sets separated by the rest; holds: each hold with a long-exhale cue (no breath-holding: the brief's
    *breathing as support*); the breathing reset: 4 s in, 6 s out for the exercise's duration."""
    if exercise.verify == "breathing":
        cycles = max(1, round(exercise.duration_s / (BREATH_IN_S + BREATH_OUT_S)))
        return [
            phase
            for _ in range(cycles)
            for phase in (
                Phase("Breathe in", BREATH_IN_S, "through the nose, belly first"),
                Phase("Breathe out", BREATH_OUT_S, "slowly, longer than the in-breath"),
            )
        ]
    if prescribed is None:
        return [Phase(exercise.title, float(exercise.duration_s), exercise.breathing)]
    out: list[Phase] = []
    for n in range(prescribed.sets):
        if n:
            out.append(Phase("Rest", prescribed.rest_s, "breathe easily"))
        if prescribed.hold_s is not None:
            out.append(Phase("Hold", prescribed.hold_s, "breathe slowly with a long exhale; do not hold your breath"))
            continue
        tempo = prescribed.tempo or exercise.rep_tempo  # the prescription's, else the catalog's own
        for rep in range(prescribed.reps or 0):
            label = f"set {n + 1}, repetition {rep + 1}"
            if tempo is None:
                out.append(Phase(f"Repetition ({label})", 4.0, "breathe out on the effort"))
                continue
            out.append(Phase(f"Lower ({label})", tempo.down_s, "breathe in, slowly and under control"))
            if tempo.pause_s:
                out.append(Phase(f"Pause ({label})", tempo.pause_s, "keep breathing"))
            out.append(Phase(f"Rise ({label})", tempo.up_s, "breathe out on the effort"))
    return out[:MAX_PHASES]


def _prescribed(state: web.WebState, wearer: str) -> list[Prescribed] | None:
    return None if state.prescriptions is None else state.prescriptions().get(wearer, [])


async def session_page(request: Request) -> Response:
    state = web._state(request)
    wearer = await web._wearer(request)
    prescribed = _prescribed(state, wearer)
    choice = request.query_params.get("exercise")
    session = request.query_params.get("session")
    context: dict[str, object] = {"page": "session", "wearer": wearer, "session": session, "ended": None}
    if not choice:
        names = startable_exercises(state.catalog, None if prescribed is None else {wearer: prescribed}, wearer)
        context["choices"] = [state.catalog[n] for n in names]
        context["prescribed_only"] = prescribed is not None
        return web._page(request, "session.html", context)
    exercise = state.catalog.get(choice)
    if exercise is None:
        raise HTTPException(404, f"exercise {choice[:64]!r} is not in the catalog")
    entry = next((p for p in prescribed or [] if p.exercise == choice), None)
    if not may_start(state.catalog, None if prescribed is None else {wearer: prescribed}, wearer, choice):
        raise HTTPException(404, f"exercise {choice[:64]!r} is not prescribed to {wearer}")
    phases = guide(exercise, entry)
    context |= {
        "exercise": exercise,
        "dose": dose_text(entry) if entry is not None else f"about {exercise.duration_s} s",
        "phases": json.dumps([asdict(p) for p in phases]),
        "total_s": round(sum(p.seconds for p in phases)),
        "ended": request.query_params.get("ended"),
    }
    return web._page(request, "session.html", context)


async def session_post(request: Request) -> Response:
    """Start or End -> the CLI's session command (alerts.prompts.sessions.session_command) on MQTT."""
    state = web._state(request)
    wearer = await web._wearer(request)
    form = await web._form(request)
    action = web._text(form, "action", 10)
    exercise = web._text(form, "exercise", 64)
    session = web._text(form, "session", 64) or None
    numbers: dict[str, int | None] = {}
    for name in ("effort", "pain"):
        raw = web._text(form, name, 3)
        if raw and not raw.isdigit():
            raise HTTPException(400, f"{name} {raw!r}: expected a whole number from 0 to 10")
        numbers[name] = int(raw) if raw else None
    if action not in ("start", "end"):
        raise HTTPException(400, f"action {action!r}: expected start or end")
    try:
        cmd = session_command(
            action,
            wearer,
            state.clock().astimezone(UTC),
            source=web.SOURCE,
            exercise=exercise if action == "start" else None,
            session=session,
            **(numbers if action == "end" else {}),
        )
    except SessionRefused as exc:
        raise HTTPException(400, str(exc)) from None
    await web._send(state, cmd)
    query = (
        f"exercise={exercise}&session={cmd.session}" if action == "start" else f"exercise={exercise}&ended={session}"
    )
    return RedirectResponse(f"/w/{wearer}/session?{query}", status_code=303)
