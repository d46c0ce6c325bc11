"""Weekly progression (alerts.prompts.progression): up after a kept, pain-free, good week; back when pain rises;
kept otherwise with the reason; never past the maximum; facts from session_outcome events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.prompts.prescription import Prescribed
from alerts.prompts.progression import WeekFacts, proposal_event, propose, proposed_changes, week_facts
from ingest.wire import EventV1

HOLD = Prescribed.model_validate(
    {
        "exercise": "side-plank-hold",
        "sets": 3,
        "hold_s": 20,
        "per_week": 3,
        "progression": {"add_hold_s": 5, "max_hold_s": 30, "while_pain_at_most": 3, "step_back_when_pain_above": 5},
    }
)
REPS = Prescribed.model_validate(
    {
        "exercise": "controlled-sit-to-stand",
        "reps": 8,
        "per_day": 1,
        "progression": {"add_reps": 2, "max_reps": 9, "automatic": True},
    }
)


def test_a_good_week_steps_up_and_never_past_the_maximum() -> None:
    up = propose(HOLD, WeekFacts(3, 3, 2, 1.0))
    assert up.change == "up" and up.prescribed.hold_s == 25 and not up.automatic
    again = propose(up.prescribed, WeekFacts(3, 3, 2, 1.0))
    assert again.prescribed.hold_s == 30
    top = propose(again.prescribed, WeekFacts(3, 3, 2, 1.0))
    assert top.change == "keep" and "maximum" in top.reason
    reps = propose(REPS, WeekFacts(7, 7, 0, 1.0))
    assert reps.change == "up" and reps.prescribed.reps == 9 and reps.automatic


def test_pain_steps_back_and_other_shortfalls_keep_the_dose_with_the_reason() -> None:
    back = propose(HOLD, WeekFacts(3, 3, 6, 1.0))
    assert back.change == "back" and back.prescribed.hold_s == 15 and "pain 6/10" in back.reason
    kept = propose(HOLD, WeekFacts(3, 1, 4, 0.5))
    assert kept.change == "keep" and kept.prescribed == HOLD
    assert "1 of 3 sessions" in kept.reason and "pain 4/10" in kept.reason and "50%" in kept.reason
    unverified = propose(HOLD, WeekFacts(3, 3, None, None))
    assert unverified.change == "keep" and "no session verified" in unverified.reason
    low = Prescribed.model_validate({**HOLD.model_dump(), "hold_s": 5})
    assert propose(low, WeekFacts(3, 3, 9, 1.0)).prescribed.hold_s == 5  # not below the smallest hold


def test_without_a_rule_nothing_changes() -> None:
    plain = Prescribed.model_validate({"exercise": "controlled-sit-to-stand", "reps": 5, "per_day": 1})
    assert propose(plain, WeekFacts(7, 7, 0, 1.0)).change == "keep"


def test_the_week_is_read_from_session_outcome_events() -> None:
    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)

    def outcome(day: int, what: str, pain: int, verified: float = 1.0, exercise: str = "side-plank-hold") -> EventV1:
        return EventV1(
            kind="session_outcome",
            wearer="ann",
            t=t0 + timedelta(days=day),
            exercise=exercise,
            session=f"s{day}",
            outcome=what,  # type: ignore[arg-type]
            metrics={"pain": pain, "verified": verified},
        )

    events = [
        outcome(0, "done", 1),
        outcome(2, "partial", 3),
        outcome(4, "done", 2, verified=0.0),
        outcome(5, "done", 7, exercise="controlled-sit-to-stand"),
    ]
    facts = week_facts(HOLD, events)
    assert facts == WeekFacts(prescribed=3, done=2, max_pain=3, quality=0.5)
    assert propose(HOLD, facts).change == "keep"


def test_a_proposal_is_an_event_with_its_dose_and_the_fields_it_changes() -> None:
    at = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    up = propose(HOLD, WeekFacts(3, 3, 2, 1.0))
    event = proposal_event("ann", HOLD, up, "2026-W49", at)
    assert event.kind == "progression_proposed" and event.exercise == "side-plank-hold"
    assert event.reason == "2026-W49: hold_s 20 -> 25: a kept week, pain and quality within the rule: one step up"
    assert event.metrics is not None and event.metrics["hold_s"] == 25 and event.metrics["step"] == 1
    assert event.metrics["automatic"] == 0
    assert proposed_changes(up) == {"hold_s": 25}
    back = propose(REPS, WeekFacts(7, 7, 8, 1.0))
    assert proposed_changes(back) == {"reps": 6} and proposal_event("ann", REPS, back, "w", at).metrics["step"] == -1  # type: ignore[index]
    kept = propose(HOLD, WeekFacts(3, 1, 2, 1.0))
    assert proposed_changes(kept) == {} and proposal_event("ann", HOLD, kept, "2026-W49", at).reason.startswith(  # type: ignore[union-attr]
        "2026-W49: keep: kept: 1 of 3 sessions done"
    )
