"""The dose over weeks (issue 19, item 5): per exercise, the prescribed dose in force at each week's end and the dose
the sensor verified, from the report's weeks, one Vega-Lite spec for the web and for print; a report without any
known dose says "no data this week"; the printed report carries the chart and says where a file's dose came from."""

from __future__ import annotations

from datetime import timedelta

from dashboards.report import charts, render
from dashboards.report.sessions import ExerciseWeek
from dashboards.report.weekly import DayMetrics, iso_week
from tests.unit.dashboards.report.test_charts import MONDAY, make_report, texts

STS = "controlled-sit-to-stand"
HOLD = "spinal-decompression-60s"


def week_of(
    exercise: str, amount: float | None, unit: str, dose_pct: float | None, from_file: bool = False
) -> ExerciseWeek:
    return ExerciseWeek(
        exercise=exercise,
        dose=None if amount is None else f"1 x {amount:g} {unit}, 3 per week",
        prescribed=3,
        done=2,
        partial=0,
        skipped=0,
        dose_pct=dose_pct,
        quality="",
        pain=(),
        effort=(),
        pain_before=None,
        pending=None,
        incomplete=(),
        amount=amount,
        unit=unit if amount is not None else "",
        from_file=from_file,
    )


def report_with_doses() -> tuple[object, list[str]]:
    report = make_report([DayMetrics(MONDAY + timedelta(i)) for i in range(7)], [], [])
    weeks = [iso_week(MONDAY - timedelta(7 * i)) for i in range(3, -1, -1)]
    report.dose_weeks = [
        (weeks[0], []),
        (weeks[1], [week_of(STS, 4, "reps", 75)]),  # 3 of 4 verified: 3 reps achieved
        (weeks[2], [week_of(STS, 5, "reps", 100), week_of(HOLD, 20, "s hold", None)]),
        (weeks[3], [week_of(STS, 6, "reps", 50), week_of(HOLD, 25, "s hold", 100)]),
    ]
    report.exercises = report.dose_weeks[-1][1]
    return report, weeks


def test_the_dose_over_weeks_draws_prescribed_and_achieved_per_exercise() -> None:
    report, weeks = report_with_doses()
    spec = charts.dose_over_weeks(report)  # type: ignore[arg-type]
    assert spec["usermeta"]["kinetic"] == {"name": "dose-over-weeks", "empty": False}
    rows = {(r["exercise"], r["week"], r["what"]): r["value"] for r in spec["data"]["values"]}
    assert rows == {
        (f"{STS} (reps)", weeks[1], "prescribed"): 4,
        (f"{STS} (reps)", weeks[1], "achieved"): 3,
        (f"{STS} (reps)", weeks[2], "prescribed"): 5,
        (f"{STS} (reps)", weeks[2], "achieved"): 5,
        (f"{STS} (reps)", weeks[3], "prescribed"): 6,
        (f"{STS} (reps)", weeks[3], "achieved"): 3,
        (f"{HOLD} (s hold)", weeks[2], "prescribed"): 20,  # no verified session: no dot
        (f"{HOLD} (s hold)", weeks[3], "prescribed"): 25,
        (f"{HOLD} (s hold)", weeks[3], "achieved"): 25,
    }
    svg = charts.to_svg(spec)
    words = texts(svg)
    assert f"{STS} (reps)" in words and f"{HOLD} (s hold)" in words  # a panel per exercise, its unit
    assert all(w in words for w in weeks)  # every week on the axis, the first one without any dose too
    assert charts.NO_DATA not in words


def test_no_known_dose_in_any_week_says_no_data() -> None:
    report, weeks = report_with_doses()
    report.dose_weeks = [(w, [week_of(STS, None, "", None)]) for w in weeks]  # type: ignore[attr-defined]
    spec = charts.dose_over_weeks(report)  # type: ignore[arg-type]
    assert spec["usermeta"]["kinetic"]["empty"] and charts.NO_DATA in texts(charts.to_svg(spec))


def test_the_printed_report_has_the_chart_and_names_a_dose_from_the_file() -> None:
    report, _ = report_with_doses()
    report.exercises = [week_of(STS, 6, "reps", 50, from_file=True)]  # type: ignore[attr-defined]
    page = render.html(report)  # type: ignore[arg-type]
    assert 'data-chart="dose-over-weeks"' in page
    assert "1 x 6 reps, 3 per week (prescriptions file; no change recorded yet)" in page
