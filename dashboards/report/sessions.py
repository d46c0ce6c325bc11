"""The clinician's view of a wearer's exercise programme in one week (issue 19, item 5): per prescribed exercise,
adherence (sessions done / partial / skipped against the sessions prescribed), the dose achieved against the dose
prescribed, the quality figures the sensor measured, the pain and effort reported after sessions (with the week
before), and the progression proposals waiting for the clinician. Pure: stored rows in, figures out.

The dose in force is the one of the latest ``prescription_changed`` at or before the week's end (``kinetic
prescription`` and the web app record every change). A prescription written by hand, of which no change was ever
recorded, takes its dose from the prescriptions file as it is now (``on_file``, marked ``from_file``): such a file is
the dose in force since Kinetic has known it, as the alert service judges sessions by it, and the report says where
the dose came from. Its start is not known, so the file's dose counts for a week only when that week is the report's
own or has sessions of the exercise (``weekly_report`` passes it so). A proposal is pending until a later
``prescription_changed`` of its exercise (accepted, edited, rejected) or a later proposal replaces it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alerts.prompts.prescription import Prescribed, dose_metrics
from ingest.store.queries import PrescriptionRow, SessionRow

# the session outcome's dose achieved and prescribed, by how the exercise is verified (docs/wire.md)
DOSE_PAIRS = (("reps", "reps_prescribed"), ("holds", "holds_prescribed"), ("cycles", "cycles_prescribed"))


@dataclass(frozen=True, slots=True)
class ExerciseWeek:
    """One exercise's week. ``prescribed``: sessions the dose in force asks for in the week (None: not recorded);
    ``dose_pct``: the median over verified sessions of the dose achieved in % of the prescribed (None: no verified
    session with a prescribed dose); ``quality``: the sensor's figures in words; ``pain`` / ``effort``: reported
    after each session (0-10), in time order; ``pain_before``: the mean of the week before (None: none reported);
    ``pending``: the pending proposal in words (None: none)."""

    exercise: str
    dose: str | None
    prescribed: int | None
    done: int
    partial: int
    skipped: int
    dose_pct: float | None
    quality: str
    pain: tuple[float, ...]
    effort: tuple[float, ...]
    pain_before: float | None
    pending: str | None
    incomplete: tuple[str, ...]  # why sessions were marked incomplete (sensor lost, no stream), as stored
    amount: float | None = None  # the dose's size: repetitions per set, or the hold in s (None: not recorded)
    unit: str = ""  # "reps" or "s hold"
    from_file: bool = False  # the dose is the prescriptions file's: no change of it was ever recorded

    @property
    def achieved_amount(self) -> float | None:
        """The dose achieved in the dose's unit: ``amount`` x ``dose_pct`` (None when either is unknown)."""
        return None if self.amount is None or self.dose_pct is None else self.amount * self.dose_pct / 100

    @property
    def adherence_pct(self) -> float | None:
        """Sessions done in % of the sessions prescribed (None when the prescription is not recorded or asks none)."""
        return 100 * self.done / self.prescribed if self.prescribed else None

    @property
    def pain_mean(self) -> float | None:
        return statistics.fmean(self.pain) if self.pain else None


def exercise_weeks(
    week: Sequence[SessionRow],
    week_before: Sequence[SessionRow],
    prescriptions: Sequence[PrescriptionRow],
    week_end_ms: int,
    on_file: Mapping[str, Mapping[str, float]] | None = None,
) -> list[ExerciseWeek]:
    """Each exercise prescribed at the week's end or done in the week, by name. ``week`` / ``week_before``: the
    session outcomes of the week and of the week before; ``prescriptions``: the changes and proposals recorded up
    to now (time order); ``on_file``: exercise -> the dose in the prescriptions file now (``dose_metrics``), used
    for an exercise of which no change was ever recorded."""
    in_force: dict[str, PrescriptionRow] = {}
    pending: dict[str, PrescriptionRow] = {}
    for row in sorted(prescriptions, key=lambda r: r.t_ms):
        if row.kind == "prescription_changed":
            pending.pop(row.exercise, None)
            if row.t_ms <= week_end_ms:
                in_force[row.exercise] = row
        elif row.kind == "progression_proposed":
            waits = row.figures.get("step", 0) != 0 and row.figures.get("automatic", 0) == 0
            if waits:
                pending[row.exercise] = row
            else:
                pending.pop(row.exercise, None)
    recorded = {r.exercise for r in prescriptions if r.kind == "prescription_changed"}
    file_doses = {e: dict(f) for e, f in (on_file or {}).items() if e not in recorded}
    for exercise, figures in file_doses.items():
        in_force[exercise] = PrescriptionRow(week_end_ms, "prescription_changed", exercise, None, figures)
    prescribed = {e for e, r in in_force.items() if not r.figures.get("removed")}
    names = sorted(prescribed | {s.exercise for s in week})
    return [
        _one(name, week, week_before, in_force.get(name), pending.get(name), from_file=name in file_doses)
        for name in names
    ]


def _one(
    name: str,
    week: Sequence[SessionRow],
    week_before: Sequence[SessionRow],
    change: PrescriptionRow | None,
    proposal: PrescriptionRow | None,
    *,
    from_file: bool = False,
) -> ExerciseWeek:
    sessions = [s for s in week if s.exercise == name]
    before = [s.figures["pain"] for s in week_before if s.exercise == name and "pain" in s.figures]
    dose = sessions_per_week = amount = None
    unit = ""
    if change is not None and not change.figures.get("removed"):
        dose = dose_words(change.figures)
        f = change.figures
        sessions_per_week = int(f["per_day"] * 7) if "per_day" in f else int(f.get("per_week", 0))
        amount, unit = (f["hold_s"], "s hold") if "hold_s" in f else (f.get("reps"), "reps")
    elif change is not None:
        dose, sessions_per_week = "removed", 0
    ratios = []
    for s in sessions:
        if s.figures.get("verified") != 1.0:
            continue
        for achieved, wanted in DOSE_PAIRS:
            if s.figures.get(wanted):
                ratios.append(100 * s.figures.get(achieved, 0.0) / s.figures[wanted])
                break
    return ExerciseWeek(
        exercise=name,
        dose=dose,
        prescribed=sessions_per_week,
        done=sum(s.outcome == "done" for s in sessions),
        partial=sum(s.outcome == "partial" for s in sessions),
        skipped=sum(s.outcome == "skipped" for s in sessions),
        dose_pct=statistics.median(ratios) if ratios else None,
        quality=quality_words(sessions),
        pain=tuple(s.figures["pain"] for s in sessions if "pain" in s.figures),
        effort=tuple(s.figures["effort"] for s in sessions if "effort" in s.figures),
        pain_before=statistics.fmean(before) if before else None,
        pending=proposal.reason if proposal is not None else None,
        incomplete=tuple(s.reason for s in sessions if s.reason),
        amount=amount,
        unit=unit if amount is not None else "",
        from_file=from_file,
    )


def doses_on_file(prescribed: Sequence[Prescribed]) -> dict[str, dict[str, float]]:
    """A wearer's entries of the prescriptions file -> ``exercise_weeks``'s ``on_file`` (the event's dose metrics)."""
    return {p.exercise: dose_metrics(p) for p in prescribed}


def dose_words(f: dict[str, float]) -> str:
    """A stored dose (``prescription_changed`` figures) in words: ``1 x 5 reps, 2 per week``."""
    what = f"{f['hold_s']:g} s hold" if "hold_s" in f else f"{f.get('reps', 0):g} reps"
    often = f"{f['per_day']:g} per day" if "per_day" in f else f"{f.get('per_week', 0):g} per week"
    return f"{f.get('sets', 1):g} x {what}, {often}"


def quality_words(sessions: Sequence[SessionRow]) -> str:
    """The sensor's quality figures over the week's verified sessions, medians, in words (empty: none)."""
    parts: list[str] = []

    def median(name: str) -> float | None:
        values = [s.figures[name] for s in sessions if name in s.figures and s.figures.get("verified") == 1.0]
        return statistics.median(values) if values else None

    reps, within = median("reps"), median("within_tempo")
    if within is not None and reps:
        # within_tempo counts movements (rises and lowerings): two a repetition
        parts.append(f"{min(100.0, 100 * within / (2 * reps)):.0f} % of movements within the tempo")
    for name, words, spec in (
        ("rise_s", "rise", ".1f"),
        ("lowering_s", "lowering", ".1f"),
        ("sway_deg", "sway", ".1f"),
        ("shake_mg", "shake", ".0f"),
        ("range_deg", "range", ".0f"),
        ("ldlj", "smoothness (LDLJ)", ".1f"),
        ("breaths_per_min", "breaths/min", ".1f"),
    ):
        value = median(name)
        if value is not None:
            unit = {"rise_s": " s", "lowering_s": " s", "sway_deg": "°", "shake_mg": " mg", "range_deg": "°"}
            parts.append(f"{words} {format(value, spec)}{unit.get(name, '')}")
    return ", ".join(parts)
