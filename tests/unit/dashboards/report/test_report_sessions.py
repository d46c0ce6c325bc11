"""The weekly report's exercise programme (issue 19, item 5): adherence against the dose in force, the dose
achieved, the sensor's quality, pain after sessions against the week before, proposals pending until decided."""

from __future__ import annotations

from dashboards.report.sessions import exercise_weeks
from ingest.store.queries import PrescriptionRow, SessionRow

DAY = 86_400_000
START = 1_795_132_800_000  # a Monday 00:00 UTC
END = START + 7 * DAY
STS = "controlled-sit-to-stand"


def session(day: int, outcome: str, reps: float, pain: float, verified: float = 1.0) -> SessionRow:
    figures = {"reps": reps, "reps_prescribed": 5.0, "within_tempo": 2 * reps, "pain": pain, "effort": 4.0}
    return SessionRow(
        START + day * DAY, STS, outcome, None if outcome == "done" else "sensor lost", figures | {"verified": verified}
    )


def changed(t_ms: int, reps: float, per_week: float = 3) -> PrescriptionRow:
    dose = {"sets": 1.0, "reps": reps, "rest_s": 30.0, "per_week": per_week}
    return PrescriptionRow(t_ms, "prescription_changed", STS, f"reps -> {reps:g}", dose)


def proposed(t_ms: int, step: float, automatic: float = 0.0) -> PrescriptionRow:
    figures = {"sets": 1.0, "reps": 6.0, "per_week": 3.0, "step": step, "automatic": automatic}
    return PrescriptionRow(t_ms, "progression_proposed", STS, "W: reps 5 -> 6: a kept week", figures)


def test_adherence_dose_quality_pain_and_a_pending_proposal() -> None:
    week = [session(0, "done", 5, 2), session(2, "done", 5, 1), session(4, "partial", 2, 4)]
    before = [session(-5, "done", 5, 5)]
    history = [changed(START - 30 * DAY, 4), changed(START - 2 * DAY, 5), proposed(END + DAY, +1)]
    (e,) = exercise_weeks(week, before, history, END - 1)
    assert (e.dose, e.prescribed, e.done, e.partial, e.skipped) == ("1 x 5 reps, 3 per week", 3, 2, 1, 0)
    assert e.adherence_pct is not None and round(e.adherence_pct) == 67
    assert e.dose_pct == 100  # the median of 100, 100 and 40 %
    assert e.quality.startswith("100 % of movements within the tempo")
    assert e.pain == (2, 1, 4) and e.pain_before == 5 and e.effort == (4, 4, 4)
    assert e.pending == "W: reps 5 -> 6: a kept week" and e.incomplete == ("sensor lost",)


def test_a_decided_or_automatic_proposal_is_not_pending_and_an_unknown_dose_says_so() -> None:
    week = [session(1, "done", 5, 2)]
    (decided,) = exercise_weeks(week, [], [changed(0, 5), proposed(END + DAY, 1), changed(END + 2 * DAY, 6)], END - 1)
    assert decided.pending is None and decided.dose == "1 x 5 reps, 3 per week"  # the dose of the week, not after
    (automatic,) = exercise_weeks(week, [], [changed(0, 5), proposed(END + DAY, 1, automatic=1)], END - 1)
    assert automatic.pending is None
    (kept,) = exercise_weeks(week, [], [changed(0, 5), proposed(END + DAY, 0)], END - 1)
    assert kept.pending is None  # a kept dose waits for no one
    (unknown,) = exercise_weeks(week, [], [], END - 1)
    assert unknown.dose is None and unknown.prescribed is None and unknown.adherence_pct is None
    # prescribed and not done at all: a row of zeros, adherence 0 %
    (missed,) = exercise_weeks([], [], [changed(0, 5)], END - 1)
    assert (missed.done, missed.adherence_pct, missed.dose_pct) == (0, 0.0, None)
    # an unverified session counts for adherence, not for the dose achieved
    (unverified,) = exercise_weeks([session(1, "done", 0, 2, verified=0.0)], [], [changed(0, 5)], END - 1)
    assert unverified.done == 1 and unverified.dose_pct is None


ON_FILE = {STS: {"sets": 1.0, "reps": 5.0, "rest_s": 30.0, "per_week": 3.0}}


def test_a_hand_written_prescription_shows_the_files_dose_until_its_first_recorded_change() -> None:
    week = [session(1, "done", 4, 2)]
    (e,) = exercise_weeks(week, [], [], END - 1, ON_FILE)
    assert (e.dose, e.prescribed, e.from_file, e.amount, e.unit) == ("1 x 5 reps, 3 per week", 3, True, 5.0, "reps")
    assert e.dose_pct == 80 and e.achieved_amount == 4.0
    # prescribed on file and not done: it is listed, adherence 0 %
    (missed,) = exercise_weeks([], [], [], END - 1, ON_FILE)
    assert (missed.from_file, missed.adherence_pct) == (True, 0.0)
    # once a change is recorded (even after the week), the record is the truth: the file is not used any more
    (recorded,) = exercise_weeks(week, [], [changed(END + DAY, 6)], END - 1, ON_FILE)
    assert recorded.dose is None and not recorded.from_file
    (later,) = exercise_weeks(week, [], [changed(0, 4)], END - 1, ON_FILE)
    assert later.dose == "1 x 4 reps, 3 per week" and not later.from_file
