"""Weekly progression of a prescribed dose (issue 19, item 4): from the prescription's rule and the week's sessions,
the next week's dose to propose to the clinician. Pure: the week's ``session_outcome`` events in, a proposal out.

The rule is the clinician's (``alerts.prompts.prescription.Progression``), applied in this order:

1. **step back** when the highest pain reported after a session this week is above ``step_back_when_pain_above``:
   one step down (not below the smallest dose a prescription allows);
2. **step up** when the week was kept (``MIN_ADHERENCE`` of the prescribed sessions done), the pain stayed at or
   under ``while_pain_at_most`` in every session that reported it, and the quality was good (``MIN_QUALITY`` of the
   verified sessions done to the dose): one step up, never past the maximum;
3. otherwise **keep** the dose, saying which condition held it.

A proposal changes nothing by itself: the clinician accepts or edits it, unless the prescription's progression is
``automatic`` (``Proposal.automatic``). ``kinetic prescription propose`` runs it weekly over the stored outcomes
(docs/exercises.md), publishes each proposal as a ``progression_proposed`` event and keeps the pending ones for
``kinetic prescription accept``. Kinetic's thresholds (adherence, quality) are its choice for a home programme,
stated here so a clinician can see them, not clinical advice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from alerts.prompts.prescription import Prescribed, describe_change, dose_metrics
from ingest.wire import EventV1

Change = Literal["up", "back", "keep"]
MIN_ADHERENCE = 0.8
MIN_QUALITY = 0.8
MIN_HOLD_S = 5.0  # the prescription's own lower bounds (Prescribed.hold_s, .reps)
MIN_REPS = 1


@dataclass(frozen=True, slots=True)
class WeekFacts:
    """One exercise's week: sessions prescribed and done, the highest pain reported (None: none reported), and the
    share of verified sessions that reached the dose (None: none verified)."""

    prescribed: int
    done: int
    max_pain: int | None
    quality: float | None

    @property
    def adherence(self) -> float:
        return self.done / self.prescribed if self.prescribed else 0.0


@dataclass(frozen=True, slots=True)
class Proposal:
    """The next dose: ``prescribed`` (the entry with its new reps or hold), ``change``, ``reason`` (one line for the
    clinician), ``automatic`` (applied without acceptance)."""

    prescribed: Prescribed
    change: Change
    reason: str
    automatic: bool


def sessions_per_week(p: Prescribed, days: int = 7) -> int:
    """How many sessions the prescription asks for in ``days`` days (``per_day`` x days, or ``per_week``)."""
    return p.per_day * days if p.per_day is not None else (p.per_week or 0)


def week_facts(p: Prescribed, events: list[EventV1]) -> WeekFacts:
    """The week's figures for ``p`` from the wearer's ``session_outcome`` events of that week (others ignored)."""
    sessions = [e for e in events if e.kind == "session_outcome" and e.exercise == p.exercise]
    pains = [int(e.metrics["pain"]) for e in sessions if e.metrics and "pain" in e.metrics]
    verified = [e for e in sessions if e.metrics and e.metrics.get("verified") == 1.0]
    quality = sum(1 for e in verified if e.outcome == "done") / len(verified) if verified else None
    return WeekFacts(
        sessions_per_week(p), sum(1 for e in sessions if e.outcome == "done"), max(pains) if pains else None, quality
    )


def propose(p: Prescribed, week: WeekFacts) -> Proposal:
    """The next week's dose for ``p`` given ``week`` (module docstring); ``keep`` without a progression rule."""
    rule = p.progression
    if rule is None:
        return Proposal(p, "keep", "no progression prescribed", False)
    if week.max_pain is not None and week.max_pain > rule.step_back_when_pain_above:
        return Proposal(
            _stepped(p, -1),
            "back",
            f"pain {week.max_pain}/10 reported, above {rule.step_back_when_pain_above}: one step back",
            rule.automatic,
        )
    holds = []
    if week.adherence < MIN_ADHERENCE:
        holds.append(f"{week.done} of {week.prescribed} sessions done (below {MIN_ADHERENCE:.0%})")
    if week.max_pain is not None and week.max_pain > rule.while_pain_at_most:
        holds.append(f"pain {week.max_pain}/10, above {rule.while_pain_at_most}")
    if week.quality is None or week.quality < MIN_QUALITY:
        holds.append(
            "no session verified by the sensor"
            if week.quality is None
            else f"{week.quality:.0%} of verified sessions reached the dose (below {MIN_QUALITY:.0%})"
        )
    if holds:
        return Proposal(p, "keep", "kept: " + "; ".join(holds), False)
    stepped = _stepped(p, +1)
    if stepped == p:
        return Proposal(p, "keep", "kept: at the prescribed maximum", False)
    return Proposal(stepped, "up", "a kept week, pain and quality within the rule: one step up", rule.automatic)


def _stepped(p: Prescribed, direction: int) -> Prescribed:
    rule = p.progression
    assert rule is not None
    if p.hold_s is not None and rule.add_hold_s is not None and rule.max_hold_s is not None:
        hold = min(rule.max_hold_s, max(MIN_HOLD_S, p.hold_s + direction * rule.add_hold_s))
        return p.model_copy(update={"hold_s": hold})
    if p.reps is not None and rule.add_reps is not None and rule.max_reps is not None:
        reps = min(rule.max_reps, max(MIN_REPS, p.reps + direction * rule.add_reps))
        return p.model_copy(update={"reps": reps})
    return p


STEPS: dict[Change, float] = {"up": 1.0, "back": -1.0, "keep": 0.0}


def proposed_changes(proposal: Proposal) -> dict[str, float | int]:
    """The fields a proposal changes in its prescription (``hold_s`` or ``reps``; nothing for ``keep``), as
    ``alerts.prompts.prescription.edit_prescriptions`` takes them."""
    if proposal.change == "keep":
        return {}
    p = proposal.prescribed
    return {"hold_s": p.hold_s} if p.hold_s is not None else {"reps": p.reps} if p.reps is not None else {}


def proposal_event(wearer: str, current: Prescribed, proposal: Proposal, week: str, at: datetime) -> EventV1:
    """The ``progression_proposed`` event of ``proposal`` for ``current`` after ``week`` (``2026-W49``), at ``at``:
    ``reason`` says the week, the change and why; ``metrics`` the proposed dose, ``step`` (+1 up, -1 back, 0 keep)
    and ``automatic`` (1: applied without acceptance)."""
    change = describe_change(current, proposal.prescribed) if proposal.change != "keep" else "keep"
    reason = f"{week}: {change}: {proposal.reason}"
    return EventV1(
        kind="progression_proposed",
        wearer=wearer,
        t=at,
        exercise=current.exercise,
        reason=reason if len(reason) <= 200 else reason[:199] + "…",
        metrics={
            **dose_metrics(proposal.prescribed),
            "step": STEPS[proposal.change],
            "automatic": 1.0 if proposal.automatic else 0.0,
        },
    )


def adherence_event(
    wearer: str, exercise: str, week: str, t: datetime, done: int, prescribed: int, partial: int = 0, skipped: int = 0
) -> EventV1:
    """The ``session_adherence`` event of ``exercise`` in ``week`` (``2026-W49``): ``done`` of ``prescribed`` sessions
    (the sessions per week of the dose in force at the week's end), ``partial`` and ``skipped`` beside them. ``t``:
    the middle of the week judged (Thursday 12:00 on the wearer's clock), so that a calendar week cut in any clinic
    zone holds it. ``metrics``: sessions_done, sessions_prescribed, sessions_partial, sessions_skipped and
    adherence_pct (100 x done / prescribed, 0 for a prescribed week with nothing done). Raises ValueError for a
    ``prescribed`` under 1 (no sessions asked: no adherence to state)."""
    if prescribed < 1:
        raise ValueError(f"session_adherence of {wearer} / {exercise} ({week}): {prescribed} sessions prescribed")
    return EventV1(
        kind="session_adherence",
        wearer=wearer,
        t=t,
        exercise=exercise,
        reason=f"{week}: {done} of {prescribed} sessions done",
        metrics={
            "sessions_done": float(done),
            "sessions_prescribed": float(prescribed),
            "sessions_partial": float(partial),
            "sessions_skipped": float(skipped),
            "adherence_pct": 100.0 * done / prescribed,
        },
    )
