"""The report's charts, rendered to SVG by vl-convert and read back as XML: tick labels never repeat on an axis,
integer data gets integer ticks, a chart with nothing to draw says "no data this week", and the specs are plain
JSON a web page can render."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboards.report import charts
from dashboards.report.weekly import DayMetrics, Goals, WeeklyReport, WeekTotals, iso_week
from ingest.store.queries import ResponseRow

SVG = "{http://www.w3.org/2000/svg}"
MONDAY = date(2026, 11, 16)


def axes(svg: str) -> dict[str, list[str]]:
    """The tick labels of each axis of an SVG rendered by Vega, by the axis's aria label (which names it)."""
    root = ET.fromstring(svg)
    found: dict[str, list[str]] = {}
    for group in root.iter(f"{SVG}g"):
        if "role-axis" not in group.get("class", "").split() or group.get("aria-hidden") == "true":
            continue
        labels = [
            "".join(t.itertext())
            for g in group.iter(f"{SVG}g")
            if "role-axis-label" in g.get("class", "")
            for t in g.iter(f"{SVG}text")
        ]
        found[group.get("aria-label", f"axis {len(found)}")] = labels
    return found


def texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]


def marks(svg: str) -> int:
    """How many data marks (bars, heatmap cells) the SVG draws."""
    root = ET.fromstring(svg)
    return sum(
        1
        for g in root.iter(f"{SVG}g")
        if "role-mark" in g.get("class", "").split() and "mark-rect" in g.get("class", "")
        for _ in g.iter(f"{SVG}path")
    )


def make_report(days: list[DayMetrics], bouts: list[float], responses: list[ResponseRow]) -> WeeklyReport:
    history = [WeekTotals(0, 0, 0, 0, week=iso_week(MONDAY - timedelta(7 * i))) for i in range(8, 0, -1)]
    return WeeklyReport(
        wearer="ann",
        week="2026-W47",
        monday=MONDAY,
        tz="Europe/Berlin",
        days=days,
        bouts_min=bouts,
        responses=responses,
        previous=history[-1],
        gaps=[],
        minutes_with_data=0,
        history=history,
        goals=Goals(),
    )


def empty_week() -> WeeklyReport:
    return make_report([DayMetrics(MONDAY + timedelta(i)) for i in range(7)], [], [])


def test_an_empty_week_says_no_data_on_every_chart_and_draws_no_ticks() -> None:
    for name, spec in charts.chart_specs(empty_week()).items():
        svg = charts.to_svg(spec)
        assert charts.NO_DATA in texts(svg), name
        assert axes(svg) == {}, name  # no axis at all, so no "0, 0, 0, 1, 1"
        assert marks(svg) == 0 and spec["usermeta"]["kinetic"] == {"name": name, "empty": True}


def test_small_counts_get_integer_ticks_once_each() -> None:
    # the named fault: 2 bouts in one bin drew "0, 0, 1, 2, 2"
    report = make_report([DayMetrics(MONDAY + timedelta(i)) for i in range(7)], [35.0, 40.0, 70.0], [])
    svg = charts.to_svg(charts.chart_specs(report)["bout-lengths"])
    (y,) = (labels for name, labels in axes(svg).items() if name.startswith("Y-axis"))
    assert y == ["0", "1", "2"]
    assert marks(svg) == 7  # one bar per bin, empty bins too (height 0)


def test_a_day_without_data_says_so_where_its_bar_would_be() -> None:
    days = [DayMetrics(MONDAY + timedelta(i)) for i in range(7)]
    days[0].sitting_min, days[2].sitting_min = 300.0, 0.0
    days[2].unknown_min = 60.0  # worn but uncalibrated: a day with data, 0 h of sitting
    svg = charts.to_svg(charts.chart_specs(make_report(days, [], []))["sitting-per-day"])
    assert texts(svg).count("no data") == 5  # Tue, Thu to Sun
    assert marks(svg) == 2


def test_specs_are_json_for_a_web_page() -> None:
    days = [DayMetrics(MONDAY + timedelta(i), sitting_min=60.0 * i) for i in range(7)]
    responses = [ResponseRow("chin-tuck", 4, 1, 2, 3, 2), ResponseRow("*", 4, 1, 2, 3, 2)]
    specs = charts.chart_specs(make_report(days, [12.0], responses))
    assert list(specs) == [
        "sitting-per-day",
        "weekly-trend",
        "sitting-by-hour",
        "bout-lengths",
        "lean",
        "prompt-responses",
        "dose-over-weeks",
    ]
    for name, spec in specs.items():
        assert json.loads(json.dumps(spec)) == spec
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v"), name  # a name, not fetched
        assert "url" not in json.dumps(spec.get("data", {})), name  # the data is inline
    assert not specs["prompt-responses"]["usermeta"]["kinetic"]["empty"]


def numeric_labels_are_unique_and_integer_where_counts(name: str, labels: list[str], integer: bool) -> None:
    assert len(labels) == len(set(labels)), (name, labels)
    if integer:
        assert all(re.fullmatch(r"\d+", label) for label in labels), (name, labels)


day_st = st.builds(
    lambda sit, lean, unknown: (sit, lean, unknown),
    st.one_of(st.just(0.0), st.floats(0, 16 * 60)),
    st.one_of(st.just(0.0), st.floats(0, 0.5), st.floats(0, 300)),
    st.sampled_from([0.0, 0.0, 5.0]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    week=st.lists(st.one_of(st.none(), day_st), min_size=7, max_size=7),
    bouts=st.lists(st.floats(0.2, 300), max_size=40),
    prompts=st.lists(st.tuples(st.integers(1, 30), st.integers(0, 30)), max_size=4),
)
def test_ticks_never_repeat_on_random_weeks(
    week: list[tuple[float, float, float] | None],
    bouts: list[float],
    prompts: list[tuple[int, int]],
) -> None:
    days = []
    for i, figures in enumerate(week):
        day = DayMetrics(MONDAY + timedelta(i))
        if figures is not None:
            day.sitting_min, day.lean_10deg_min, day.unknown_min = figures
            day.standing_min = 1.0  # a day with data
            hours = math.ceil(day.sitting_min / 60)
            day.sitting_by_hour = {8 + h: min(60.0, day.sitting_min - 60 * h) for h in range(hours)}
        days.append(day)
    responses = [ResponseRow(f"ex{i}", n, min(k, n), min(k, n), min(k, n), 0) for i, (n, k) in enumerate(prompts)]
    report = make_report(days, bouts, responses)
    for name, spec in charts.chart_specs(report).items():
        svg = charts.to_svg(spec)
        for axis, labels in axes(svg).items():
            integer = name == "bout-lengths" and axis.startswith("Y-axis")
            numeric_labels_are_unique_and_integer_where_counts(f"{name} {axis}", labels, integer)
        assert (charts.NO_DATA in texts(svg)) == spec["usermeta"]["kinetic"]["empty"], name
