"""The weekly report's charts as Vega-Lite specifications (built with Altair), one spec for the web and for print.

``chart_specs(report)`` gives each chart's spec as a JSON-ready dict: a web page renders it interactively with
vega-embed, and ``to_svg`` renders it offline to static SVG (vl-convert, which bundles Vega and needs no browser or
network) for the printable report. Axes, ticks, colours and legends come from Vega-Lite; this module only says what
is drawn. Two rules the library does not keep by itself:

- an axis of counts (bouts, prompts) gets integer ticks with no label twice: Vega-Lite ignores ``tickMinStep`` on
  small domains (vega/vega-lite#9034), so the tick count is capped at the largest count and the labels are
  formatted as integers ("0, 0, 1, 2, 2" was the hand-drawn charts' fault);
- a chart with nothing to draw says "no data this week" instead of drawing an empty frame with ticks.

Every spec carries ``usermeta.kinetic`` = {"name": ..., "empty": bool}, so a page can tell the charts apart.
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import vl_convert

from dashboards.report.weekly import WeeklyReport

NO_DATA = "no data this week"
WIDTH = 560  # px of the plotting area; the HTML scales the SVG down to the page (A4: about 700 px wide)
HEIGHT = 150
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"  # Debian's fonts-dejavu; the SVG text is measured with it
SITTING_COLOUR = "#d9822b"
RESPONSE_COLOURS = ("#9ecae1", "#4292c6", "#08519c")  # within 1 / 3 / 5 min: darker is later
GOAL_COLOUR = "#444444"
PRECISION = 0.01  # amounts (hours, minutes) are charted rounded to this


def _data(rows: list[dict[str, Any]]) -> alt.Data:
    """Inline data: the spec carries its values, so it renders the same anywhere (no URL, no data server)."""
    return alt.Data(values=rows)  # type: ignore[no-untyped-call]  # altair's generated schema classes


def _config(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    configured: alt.TopLevelMixin = chart.configure(font=FONT).configure_view(stroke="#dddddd")
    return configured.configure_axis(labelFontSize=11, titleFontSize=11)  # type: ignore[no-any-return]


def _spec(name: str, chart: alt.TopLevelMixin, *, empty: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = _config(chart).to_dict()
    spec["usermeta"] = {"kinetic": {"name": name, "empty": empty}}
    return spec


def _empty(name: str, title: str, height: int = HEIGHT) -> dict[str, Any]:
    chart = (
        alt.Chart(_data([{"text": NO_DATA}]), title=title)
        .mark_text(fontSize=14, color="#777777")
        .encode(text="text:N")
        .properties(width=WIDTH, height=height)
    )
    return _spec(name, chart, empty=True)


def count_axis(title: str, peak: float) -> alt.Y:
    """A y encoding of counts: integer ticks (at most 5, never more than the largest count), integer labels, 0 at
    the bottom; a week of zeros still has the axis 0 to 1."""
    top = max(1, math.ceil(peak))
    return alt.Y(
        "value:Q",
        title=title,
        scale=alt.Scale(domain=[0, top], nice=True),
        axis=alt.Axis(format="d", tickCount=min(5, top)),
    )


def _amount_axis(title: str, peak: float, unit_max: float = 1.0) -> alt.Y:
    """A y encoding of an amount (hours, minutes): Vega picks the ticks and their precision from the step, so the
    labels are distinct; a week of zeros has the axis 0 to ``unit_max``."""
    # below the charts' precision (0.01, the values are rounded to it) a span would print as equal labels
    top = peak if peak >= PRECISION else unit_max
    return alt.Y("value:Q", title=title, scale=alt.Scale(domain=[0, top], nice=True))


def _day_label(report: WeeklyReport, i: int) -> str:
    return f"{report.days[i].day:%a %d}"


def _per_day(
    report: WeeklyReport,
    name: str,
    title: str,
    y_title: str,
    values: list[float],
    *,
    goal: float | None = None,
) -> dict[str, Any]:
    """Bars per day with data; a day without data gets the words "no data" where its bar would be; ``goal`` (in the
    values' unit) is a dashed rule kept in view."""
    days = [_day_label(report, i) for i in range(7)]
    data: list[dict[str, Any]] = [
        {"day": days[i], "value": round(v, 2)} for i, v in enumerate(values) if report.days[i].has_data
    ]
    if not data:
        return _empty(name, title)
    peak = max([float(v["value"]) for v in data] + ([goal] if goal else []))
    x = alt.X("day:O", title=None, sort=days, scale=alt.Scale(domain=days), axis=alt.Axis(labelAngle=0))
    bars = (
        alt.Chart(_data(data))
        .mark_bar(color=SITTING_COLOUR)
        .encode(x=x, y=_amount_axis(y_title, peak), tooltip=["day:O", alt.Tooltip("value:Q", format=".1f")])
    )
    layers: list[alt.Chart] = [bars]
    missing = [{"day": days[i], "text": "no data"} for i in range(7) if not report.days[i].has_data]
    if missing:
        layers.append(
            alt.Chart(_data(missing))
            .mark_text(color="#777777", fontSize=10, baseline="bottom", dy=-2)
            .encode(x=x, y=alt.datum(0), text="text:N")
        )
    if goal:
        layers.append(
            alt.Chart(_data([{"goal": goal}]))
            .mark_rule(color=GOAL_COLOUR, strokeDash=[4, 3])
            .encode(y=alt.Y("goal:Q"), tooltip=[alt.Tooltip("goal:Q", title="goal")])
        )
    return _spec(name, alt.layer(*layers, title=title).properties(width=WIDTH, height=HEIGHT))


def sitting_per_day(report: WeeklyReport) -> dict[str, Any]:
    """Sitting hours per day against the goal (a dashed rule at ``report.goals.sitting_h_per_day``)."""
    goal = report.goals.sitting_h_per_day
    title = f"Sitting per day (h); dashed: the goal, at most {goal:g} h"
    values = [d.sitting_min / 60 for d in report.days]
    return _per_day(report, "sitting-per-day", title, "sitting (h)", values, goal=goal)


def sitting_by_hour(report: WeeklyReport) -> dict[str, Any]:
    """Minutes of sitting in each hour of the wearer's clock, one row per day (a heatmap, 0 to 60 min)."""
    name = "sitting-by-hour"
    title = f"Sitting by hour of the day (min), hours in {report.tz}"
    # a day without data says so in its row's label: an empty row alone would read as "did not sit"
    days = [_day_label(report, i) + ("" if d.has_data else " (no data)") for i, d in enumerate(report.days)]
    hours = [f"{h:02d}" for h in range(24)]
    data = [
        {"day": days[i], "hour": f"{h:02d}", "value": round(v, 1)}
        for i, d in enumerate(report.days)
        for h, v in sorted(d.sitting_by_hour.items())
        if v > 0
    ]
    if not data:
        return _empty(name, title, height=7 * 18)
    chart = (
        alt.Chart(_data(data), title=title)
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="hour", sort=hours, scale=alt.Scale(domain=hours), axis=alt.Axis(labelAngle=0)),
            y=alt.Y("day:O", title=None, sort=days, scale=alt.Scale(domain=days), axis=alt.Axis(labelLimit=160)),
            color=alt.Color(
                "value:Q",
                title="min",
                scale=alt.Scale(scheme="oranges", domain=[0, 60]),
                legend=alt.Legend(tickCount=4, format="d"),
            ),
            tooltip=["day:O", "hour:O", alt.Tooltip("value:Q", title="sitting (min)")],
        )
        .properties(width=WIDTH - 60, height=7 * 18)
    )
    return _spec(name, chart)


def bout_lengths(report: WeeklyReport) -> dict[str, Any]:
    """How many sitting bouts ended this week, by length (the bins of ``weekly.BOUT_BINS``)."""
    name, title = "bout-lengths", "Sitting bouts by length (min), number of bouts"
    histogram = report.bout_histogram()
    if not report.bouts_min:
        return _empty(name, title)
    bins = [label for label, _ in histogram]
    chart = (
        alt.Chart(_data([{"bin": b, "value": n} for b, n in histogram]), title=title)
        .mark_bar(color=SITTING_COLOUR)
        .encode(
            x=alt.X("bin:O", title="bout length (min)", sort=bins, axis=alt.Axis(labelAngle=0)),
            y=count_axis("bouts", max(n for _, n in histogram)),
            tooltip=["bin:O", alt.Tooltip("value:Q", title="bouts")],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    return _spec(name, chart)


def lean(report: WeeklyReport) -> dict[str, Any]:
    """Static minutes leaning 10 deg or more to either side, per day."""
    title = "Leaning 10 deg or more to the side (static min per day)"
    return _per_day(report, "lean", title, "leaning (min)", [d.lean_10deg_min for d in report.days])


def prompt_responses(report: WeeklyReport) -> dict[str, Any]:
    """Per exercise, % of prompts followed by a break within 1 / 3 / 5 min (grouped bars, 0-100 %)."""
    name, title = "prompt-responses", "Prompts followed by a break within 1 / 3 / 5 min (%), by exercise"
    exercises = [r for r in report.responses if r.exercise != "*" and r.prompts]
    if not exercises:
        return _empty(name, title)
    within = ["1 min", "3 min", "5 min"]
    data = [
        {"exercise": r.exercise, "within": f"{k} min", "value": round(100 * r.rate(k), 1), "prompts": r.prompts}
        for r in exercises
        for k in (1, 3, 5)
    ]
    chart = (
        alt.Chart(_data(data), title=title)
        .mark_bar()
        .encode(
            x=alt.X("exercise:N", title=None, axis=alt.Axis(labelAngle=0, labelLimit=120)),
            xOffset=alt.XOffset("within:N", sort=within),
            y=alt.Y("value:Q", title="%", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color(
                "within:N",
                title="break within",
                sort=within,
                scale=alt.Scale(domain=within, range=list(RESPONSE_COLOURS)),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=["exercise:N", "within:N", alt.Tooltip("value:Q", title="%"), "prompts:Q"],
        )
        .properties(width=WIDTH, height=HEIGHT)
    )
    return _spec(name, chart)


def weekly_trend(report: WeeklyReport) -> dict[str, Any]:
    """Mean sitting hours per day with data, for each of the weeks before and this week (oldest first)."""
    name = "weekly-trend"
    title = f"Sitting per day with data (h), the {len(report.history)} weeks before and this week"
    weeks = [*report.history, report.totals]
    labels = [w.week for w in weeks]
    data: list[dict[str, Any]] = [
        {"week": w.week, "value": round(per_day, 2), "days": w.days_with_data, "this": w.week == report.week}
        for w in weeks
        if (per_day := w.sitting_h_per_day) is not None
    ]
    if not data:
        return _empty(name, title)
    x = alt.X("week:O", title=None, sort=labels, scale=alt.Scale(domain=labels), axis=alt.Axis(labelAngle=0))
    bars = (
        alt.Chart(_data(data))
        .mark_bar()
        .encode(
            x=x,
            y=_amount_axis("sitting (h per day)", max(float(v["value"]) for v in data)),
            color=alt.Color(
                "this:N", scale=alt.Scale(domain=[False, True], range=["#f0c9a0", SITTING_COLOUR]), legend=None
            ),
            tooltip=["week:O", alt.Tooltip("value:Q", title="h per day"), alt.Tooltip("days:Q", title="days")],
        )
    )
    missing = [{"week": w.week, "text": "no data"} for w in weeks if w.sitting_h_per_day is None]
    layers: list[alt.Chart] = [bars]
    if missing:
        layers.append(
            alt.Chart(_data(missing))
            .mark_text(color="#777777", fontSize=10, baseline="bottom", dy=-2)
            .encode(x=x, y=alt.datum(0), text="text:N")
        )
    return _spec(name, alt.layer(*layers, title=title).properties(width=WIDTH, height=HEIGHT))


PRESCRIBED_COLOUR = "#444444"
ACHIEVED_COLOUR = "#2b8cbe"


def dose_over_weeks(report: WeeklyReport) -> dict[str, Any]:
    """Issue 19, item 5: per exercise (a panel each, its own unit: repetitions per set or hold seconds), the dose
    prescribed in force at each week's end (a stepped line) and the dose achieved (dots: the prescribed dose x the
    median share of it the sensor verified that week, ``ExerciseWeek.achieved_amount``), over the HISTORY_WEEKS
    weeks before and this one. Weeks without a known dose or without verified sessions have no mark."""
    name = "dose-over-weeks"
    title = "Dose over weeks per exercise: prescribed (line) and achieved (dots, verified by the sensor)"
    weeks = [w for w, _ in report.dose_weeks]
    data: list[dict[str, Any]] = []
    for week, exercises in report.dose_weeks:
        for e in exercises:
            label = f"{e.exercise} ({e.unit})"
            if e.amount is not None:
                data.append({"week": week, "exercise": label, "what": "prescribed", "value": round(e.amount, 2)})
            if (achieved := e.achieved_amount) is not None:
                data.append({"week": week, "exercise": label, "what": "achieved", "value": round(achieved, 2)})
    if not data:
        return _empty(name, title)
    what = ["prescribed", "achieved"]
    colour = alt.Color(
        "what:N",
        title=None,
        sort=what,
        scale=alt.Scale(domain=what, range=[PRESCRIBED_COLOUR, ACHIEVED_COLOUR]),
        legend=alt.Legend(orient="bottom"),
    )
    x = alt.X("week:O", title=None, sort=weeks, scale=alt.Scale(domain=weeks), axis=alt.Axis(labelAngle=0))
    y = alt.Y("value:Q", title="dose", scale=alt.Scale(zero=True, nice=True))
    tooltip: list[str | alt.Tooltip] = ["exercise:N", "week:O", "what:N", alt.Tooltip("value:Q", format=".1f")]
    base = alt.Chart().encode(x=x, y=y, color=colour, tooltip=tooltip)
    line = base.transform_filter(alt.datum.what == "prescribed").mark_line(interpolate="step-after", point=True)
    dots = base.transform_filter(alt.datum.what == "achieved").mark_point(filled=True, size=60)
    chart = (
        alt.layer(line, dots, data=_data(data))
        .properties(width=WIDTH, height=HEIGHT // 2 + 30)
        .facet(row=alt.Row("exercise:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")), title=title)
        .resolve_scale(y="independent")
    )
    return _spec(name, chart)


SUMMARY_CHARTS = ("sitting-per-day", "weekly-trend")


def chart_specs(report: WeeklyReport) -> dict[str, dict[str, Any]]:
    """Every chart of the report as a Vega-Lite (v6) spec (JSON-ready dict, data inline), by name, in report order:
    sitting-per-day, weekly-trend (the summary page), sitting-by-hour, bout-lengths, lean, prompt-responses,
    dose-over-weeks."""
    specs = (
        sitting_per_day(report),
        weekly_trend(report),
        sitting_by_hour(report),
        bout_lengths(report),
        lean(report),
        prompt_responses(report),
        dose_over_weeks(report),
    )
    return {spec["usermeta"]["kinetic"]["name"]: spec for spec in specs}


def to_svg(spec: dict[str, Any]) -> str:
    """A Vega-Lite spec as a static SVG document (``<svg ...>...</svg>``), rendered offline by vl-convert."""
    return vl_convert.vegalite_to_svg(spec)
