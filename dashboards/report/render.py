"""The weekly report as one self-contained HTML file made to be printed (inline CSS and SVG, no scripts, nothing
fetched) and a CSV of the daily metrics.

The HTML is laid out for a portrait page (A4 or US Letter, CSS ``@page``): a one-page summary first (the week
against the week before and the mean of the eight weeks before, sitting per day against the goal, the longest
bouts, breaks, lean and prompt response), then the detail (charts, the per-day table, prompt response by exercise,
data quality, definitions). Headings are words a clinician reads; the CSV keeps the machine names
(``sitting_bouts_30min_plus``) for spreadsheets. The charts are the Vega-Lite specs of ``charts.chart_specs``
rendered to SVG.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from dashboards.report import charts
from dashboards.report.weekly import GAP_MIN, DayMetrics, WeeklyReport, WeekTotals
from ingest.store.private import private_file

Paper = Literal["A4", "Letter"]
NO_DATA = "no data"

DEFINITIONS = (
    ("Sitting / standing / stepping / lying", "seconds classified as each posture, summed per calendar day"),
    ("Sitting bout", "a run of confirmed sitting; a new posture counts after the minimum posture duration (10 s)"),
    ("Sitting bouts ≥ 30 / ≥ 60 min", "sitting bouts of at least 30 / 60 minutes, on the day they end"),
    ("Break", "a sitting bout followed directly by standing or stepping"),
    ("Breaks per sitting hour", "breaks / sitting hours of the day"),
    ("Trunk forward inclination", "static seconds with the trunk 0-20, 20-60, over 60° forward (ISO 11226)"),
    (
        "Leaning ≥ 10° to the side",
        "static seconds with the lateral lean beyond 10° either side (ISO 11226 / EN 1005-4)",
    ),
    (
        "Lean symmetry index",
        "(R - L) / (0.5 (R + L)) × 100 %, R and L the degree-seconds beyond a 2° dead band; + right, - left",
    ),
    ("Prompt response within k min", "prompts followed by a break within k minutes / prompts"),
    ("Worn time", "hours classified as a posture (not 'not worn', not 'uncalibrated')"),
    ("No data", "no frame at all was stored that day: nothing is known, which is not the same as 0"),
)

# CSV column -> (the printed row heading, how its value is printed)
HEADINGS: dict[str, tuple[str, Callable[[float], str]]] = {
    "worn_h": ("Worn (h)", lambda v: f"{v:.1f}"),
    "sitting_min": ("Sitting (min)", lambda v: f"{v:.0f}"),
    "standing_min": ("Standing (min)", lambda v: f"{v:.0f}"),
    "stepping_min": ("Stepping (min)", lambda v: f"{v:.0f}"),
    "lying_min": ("Lying (min)", lambda v: f"{v:.0f}"),
    "sitting_bouts_30min_plus": ("Sitting bouts ≥ 30 min", lambda v: f"{v:.0f}"),
    "sitting_bouts_60min_plus": ("Sitting bouts ≥ 60 min", lambda v: f"{v:.0f}"),
    "breaks": ("Breaks", lambda v: f"{v:.0f}"),
    "breaks_per_sitting_hour": ("Breaks per sitting hour", lambda v: f"{v:.1f}"),
    "longest_sitting_bout_min": ("Longest sitting bout (min)", lambda v: f"{v:.0f}"),
    "incl_0_20deg_min": ("Trunk forward 0-20° (min)", lambda v: f"{v:.0f}"),
    "incl_20_60deg_min": ("Trunk forward 20-60° (min)", lambda v: f"{v:.0f}"),
    "incl_over_60deg_min": ("Trunk forward over 60° (min)", lambda v: f"{v:.0f}"),
    "lean_10deg_min": ("Leaning ≥ 10° to the side (min)", lambda v: f"{v:.0f}"),
    "lean_symmetry_index_pct": ("Lean symmetry index (%, + right)", lambda v: f"{v:+.0f}"),
    "not_worn_min": ("Not worn (min)", lambda v: f"{v:.0f}"),
    "uncalibrated_min": ("Uncalibrated (min)", lambda v: f"{v:.0f}"),
}

CSS = """
@page{size:%(paper)s portrait;margin:12mm}
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;font-size:10pt;color:#222;margin:0 auto;max-width:186mm}
h1{font-size:15pt;margin:0 0 .2em}h2{font-size:12pt;margin:1.1em 0 .4em;border-bottom:1px solid #ccc}
h3{font-size:10.5pt;margin:.8em 0 .3em}
table{border-collapse:collapse;width:100%%;table-layout:fixed;font-size:8.5pt}
td,th{border:1px solid #ccc;padding:.2em .35em;text-align:right;overflow-wrap:anywhere}
th{background:#f2f2f2;font-weight:600}td:first-child,th:first-child{text-align:left}
table.figures td:first-child,table.figures th:first-child{width:34%%}
table.per-day td:first-child,table.per-day th:first-child{width:30%%}
td.nodata{color:#888;font-style:italic}
.note{color:#555;font-size:9pt}.goal-over{font-weight:600}
ul{margin:.3em 0;padding-left:1.2em}li{margin:.15em 0}
figure{margin:.6em 0;break-inside:avoid}figure svg{display:block;width:100%%;height:auto;max-width:100%%}
figcaption{font-size:8.5pt;color:#444}
section.summary figure svg{max-height:45mm}
section.detail{break-before:page}
dl{font-size:9pt}dt{font-weight:600;margin-top:.3em}dd{margin:0 0 0 1em}
"""


def _table(header: list[str], rows: list[list[object]], css_class: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join('<td class="nodata">no data</td>' if c is None else f"<td>{escape(str(c))}</td>" for c in row)
        + "</tr>"
        for row in rows
    )
    cls = f' class="{css_class}"' if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _change(now: float | None, before: float | None, points: str = "") -> str:
    """The relative change in % ("+26 %"); with ``points`` (a unit), the difference instead ("-4 points"), for
    figures that are already shares or signed indices, where a % of a % misleads."""
    if now is None or before is None:
        return ""
    if points:
        return f"{now - before:+.0f} {points}"
    if before == 0:
        return "" if now == 0 else "new"
    return f"{100 * (now - before) / before:+.0f} %"


def _fmt(value: float | None, spec: str) -> str | None:
    return None if value is None else format(value, spec)


def _figures(report: WeeklyReport) -> str:
    """The week against the week before and the mean of the weeks before (per week with data)."""
    now, before, usual = report.totals, report.previous, report.history_mean
    n_usual = usual.week if usual else f"{len(report.history)} weeks before"

    def with_data(week: WeekTotals | None, value: float | None) -> float | None:
        return value if week is not None and week.days_with_data else None

    measures: list[tuple[str, Callable[[WeekTotals], float | None], str, str]] = [
        ("Days with data (of 7)", lambda w: w.days_with_data, "count", "days"),
        ("Sitting per day with data (h)", lambda w: w.sitting_h_per_day, ".1f", ""),
        ("Sitting bouts ≥ 30 min", lambda w: w.bouts_30_plus, "count", ""),
        ("Sitting bouts ≥ 60 min", lambda w: w.bouts_60_plus, "count", ""),
        ("Breaks per sitting hour", lambda w: w.breaks_per_sitting_hour, ".1f", ""),
        ("Leaning ≥ 10° to the side (min)", lambda w: w.lean_10deg_min, ".0f", ""),
        ("Lean symmetry index (%, + right)", lambda w: w.symmetry_index_pct, "+.0f", "points"),
        ("Prompts followed by a break within 5 min (%)", lambda w: w.response_5min_pct, ".0f", "points"),
    ]
    rows: list[list[object]] = []
    for label, get, spec, points in measures:
        values = [with_data(w, get(w) if w else None) for w in (now, before, usual)]
        if spec == "count":  # whole numbers for one week, one decimal for the mean of weeks
            shown = [_fmt(values[0], ".0f"), _fmt(values[1], ".0f"), _fmt(values[2], ".1f")]
        else:
            shown = [_fmt(v, spec) for v in values]
        changes = [_change(values[0], values[i], points) for i in (1, 2)]
        rows.append([label, shown[0], shown[1], changes[0], shown[2], changes[1]])
    header = ["", f"this week ({report.week})", "week before", "change", f"usual ({n_usual})", "change"]
    return _table(header, rows, "figures")


def _svg_figure(name: str, spec: dict[str, Any], caption: str) -> str:
    empty = "true" if spec["usermeta"]["kinetic"]["empty"] else "false"
    return (
        f'<figure class="chart" data-chart="{escape(name)}" data-empty="{empty}">{charts.to_svg(spec)}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _zone_caption(report: WeeklyReport) -> str:
    return f"Days and hours are those of the clock in {report.tz} ({report.tz_source})."


def _longest(report: WeeklyReport) -> str:
    if not report.longest_bouts:
        return "<p>No sitting bout ended this week.</p>"
    zone = ZoneInfo(report.tz)
    goal = report.goals.bout_min
    items = []
    for bout in report.longest_bouts:
        start = datetime.fromtimestamp(bout.start_ms / 1000, zone)
        end = datetime.fromtimestamp(bout.end_ms / 1000, zone)
        minutes = bout.duration_s / 60
        over = f", {minutes - goal:.0f} min over {goal:g}" if minutes > goal else ""
        cls = ' class="goal-over"' if minutes > goal else ""
        items.append(f"<li{cls}>{start:%a %d %H:%M} to {end:%H:%M}: {minutes:.0f} min{over}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _responses_line(report: WeeklyReport) -> str:
    total = next((r for r in report.responses if r.exercise == "*"), None)
    if total is None or not total.prompts:
        return "<p>No prompts this week.</p>"
    rates = " / ".join(f"{100 * total.rate(k):.0f} %" for k in (1, 3, 5))
    return (
        f"<p>{total.prompts} prompts; followed by a break within 1 / 3 / 5 min: {rates}; "
        f"acknowledged: {total.acked}.</p>"
    )


def _summary(report: WeeklyReport, specs: dict[str, dict[str, Any]]) -> str:
    goals = report.goals
    with_data = report.days_with_data
    over = [d for d in with_data if d.sitting_min / 60 > goals.sitting_h_per_day]
    goal_line = (
        f"Days over the sitting goal (more than {goals.sitting_h_per_day:g} h): {len(over)} of {len(with_data)} "
        f"days with data"
        + (" (" + ", ".join(f"{d.day:%a} {d.sitting_min / 60:.1f} h" for d in over) + ")" if over else "")
        + f". Goals: {escape(goals.source)}."
    )
    return (
        '<section class="summary">'
        f"<h1>Weekly report: {escape(report.wearer)}, {escape(report.week)}</h1>"
        f'<p class="note">{report.monday:%A %d %B %Y} to {report.days[-1].day:%A %d %B %Y}. '
        f"{escape(_zone_caption(report))} "
        "Made by Kinetic from the stored hourly summaries, sitting bouts and prompt outcomes.</p>"
        f"<h2>Summary</h2>{_figures(report)}"
        + _svg_figure(
            "sitting-per-day",
            specs["sitting-per-day"],
            "Sitting hours per calendar day; the dashed line is the goal; a day without any data says so.",
        )
        + f"<p>{goal_line}</p>"
        f"<h3>Longest sitting bouts (prompt threshold {goals.bout_min:g} min)</h3>{_longest(report)}"
        f"<h3>Prompt response</h3>{_responses_line(report)}"
        + _svg_figure(
            "weekly-trend",
            specs["weekly-trend"],
            "Mean sitting hours per day with data, week by week; the darker bar is this week.",
        )
        + "</section>"
    )


def _per_day(report: WeeklyReport) -> str:
    rows = [d.row() for d in report.days]
    header = ["", *(f"{d.day:%a %d}" for d in report.days)]
    body: list[list[object]] = []
    for key, (label, fmt) in HEADINGS.items():
        cells: list[object] = [label]
        for row in rows:
            value = row[key]
            cells.append(None if value is None else fmt(float(value)))  # type: ignore[arg-type]  # numbers
        body.append(cells)
    return _table(header, body, "per-day")


def _prompted(day: DayMetrics) -> bool:
    """A day whose meeting figures mean something: it has data, or prompts were held or sent."""
    return day.has_data or bool(day.held_in_meetings or day.after_meeting)


def _after_meeting(day: DayMetrics) -> str | None:
    """'2 (1)': after-meeting prompts that day and, in brackets, those followed by a break within 5 min; None
    (shown "no data") for a day with neither data nor prompts."""
    if not _prompted(day):
        return None
    return f"{day.after_meeting} ({day.after_meeting_moved_5min})"


def _checkins(report: WeeklyReport) -> str:
    """Pain and stress check-ins, the readiness decision and the meetings' prompts per day, beside the posture
    figures: a clinician looks for patterns (does pain follow long sitting days?). The reasons of each decision and
    the week's after-meeting response are listed under the table."""
    header = ["", *(f"{d.day:%a %d}" for d in report.days)]
    days = report.days

    def posture(value: Callable[[DayMetrics], float]) -> list[object]:
        return [f"{value(d):.0f}" if d.has_data else None for d in days]

    body: list[list[object]] = [
        ["Sitting (min)", *posture(lambda d: d.sitting_min)],
        ["Sitting bouts ≥ 60 min", *posture(lambda d: d.bouts_60_plus)],
        ["Leaning ≥ 10° to the side (min)", *posture(lambda d: d.lean_10deg_min)],
        ["Pain, highest (0-10)", *(None if d.pain_max is None else f"{d.pain_max:.0f}" for d in days)],
        ["Stress, highest", *(d.stress_words for d in days)],
        ["Check-ins", *(d.checkins for d in days)],
        ["Readiness", *(d.day_type for d in days)],
        ["Prompts held in meetings", *(d.held_in_meetings if _prompted(d) else None for d in days)],
        ["After-meeting prompts (moved within 5 min)", *(_after_meeting(d) for d in days)],
    ]
    reasons = [f"{d.day:%a %d}: {d.readiness_reason}" for d in report.days if d.readiness_reason]
    after = sum(d.after_meeting for d in days)
    if after:
        moved = sum(d.after_meeting_moved_5min for d in days)
        reasons.append(
            f"After-meeting prompts this week: {after}, followed by a break within 5 min: {moved} "
            f"({100 * moved / after:.0f} %)."
        )
    listed = "".join(f"<li>{escape(r)}</li>" for r in reasons)
    note = (
        '<p class="note">Pain and stress are what the wearer reported (kinetic prompts checkin, ntfy, the web app); '
        "readiness is the day type decided each morning from last night's HRV, lying time and the check-ins "
        "(docs/metrics.md, Readiness); an empty cell: no check-in, or no decision (the weekly plan applied). "
        "Meetings come from the wearer's calendar feeds: a prompt due in a meeting waits for its end, and a long "
        "meeting sat through brings the after-meeting exercise (docs/prompts.md, Calendars).</p>"
    )
    return note + _table(header, body, "per-day checkins") + (f"<ul>{listed}</ul>" if listed else "")


def _exercises(report: WeeklyReport, specs: dict[str, dict[str, Any]]) -> str:
    """Issue 19: the exercise programme's week per exercise (dashboards/report/sessions.py), then the proposals
    waiting for the clinician and why sessions were incomplete, then the dose over weeks (a chart)."""
    chart = _svg_figure(
        "dose-over-weeks",
        specs["dose-over-weeks"],
        "Per exercise, the prescribed dose in force at each week's end (repetitions per set or hold seconds) and the "
        "dose achieved: the prescribed dose times the median share of it the sensor verified in the week's sessions.",
    )
    if not report.exercises:
        return "<p>No exercise prescribed or done this week.</p>" + chart
    header = [
        "exercise",
        "dose in force",
        "sessions prescribed",
        "done",
        "partial",
        "skipped",
        "adherence",
        "dose achieved",
        "quality (sensor)",
        "pain after (mean, max)",
        "pain, week before",
        "effort after",
    ]
    body: list[list[object]] = []
    for e in report.exercises:
        body.append(
            [
                e.exercise,
                (f"{e.dose} (prescriptions file; no change recorded yet)" if e.from_file else e.dose) or "not recorded",
                "not recorded" if e.prescribed is None else e.prescribed,
                e.done,
                e.partial,
                e.skipped,
                "" if e.adherence_pct is None else f"{e.adherence_pct:.0f} %",
                "" if e.dose_pct is None else f"{e.dose_pct:.0f} %",
                e.quality,
                f"{e.pain_mean:.1f}, {max(e.pain):.0f}" if e.pain_mean is not None else "",
                "" if e.pain_before is None else f"{e.pain_before:.1f}",
                f"{sum(e.effort) / len(e.effort):.1f}" if e.effort else "",
            ]
        )
    notes = [f"{e.exercise}: proposal waiting for acceptance: {e.pending}" for e in report.exercises if e.pending]
    notes += [f"{e.exercise}: incomplete: {why}" for e in report.exercises for why in e.incomplete]
    listed = "".join(f"<li>{escape(n)}</li>" for n in notes)
    note = (
        '<p class="note">Sessions and their dose as verified by the sensor (docs/exercises.md); adherence is the '
        "sessions done in % of those prescribed, the dose achieved the median over verified sessions. The sit-to-stand "
        "and breathing figures are checked on real recordings; holds and mobility on emulated sensors only. Pain and "
        "effort are what the wearer reported after each session (0-10). Accept or edit a proposal on the web app's "
        "Prescriptions page or with "
        "kinetic prescription accept.</p>"
    )
    return note + _table(header, body, "exercises") + (f"<ul>{listed}</ul>" if listed else "") + chart


def _quality(report: WeeklyReport) -> str:
    zone = ZoneInfo(report.tz)
    notes = [
        f"Days with data: {len(report.days_with_data)} of 7; minutes with frames: {report.minutes_with_data}.",
        "Worn time per day (h): "
        + ", ".join(f"{d.day:%a} {d.worn_h:.1f}" if d.has_data else f"{d.day:%a} no data" for d in report.days)
        + ".",
    ]
    for day, hours in report.day_hours():
        if hours != 24:
            notes.append(f"{day:%a %d %b}: the clocks changed in {report.tz}; the day has {hours:g} hours.")
    not_worn = sum(d.not_worn_min for d in report.days)
    uncalibrated = sum(d.unknown_min for d in report.days)
    notes.append(f"Not worn (sensor perfectly still for 20 min or more): {not_worn:.0f} min.")
    notes.append(
        f"Uncalibrated (no upright reference yet, posture unknown): {uncalibrated:.0f} min"
        + (" - calibrate with `kinetic calibrate` or a short walk." if uncalibrated > 30 else ".")
    )
    if report.gaps:
        listed = ", ".join(
            f"{datetime.fromtimestamp(g.start_ms / 1000, zone):%a %H:%M} ({g.minutes} min)" for g in report.gaps[:20]
        )
        more = f" and {len(report.gaps) - 20} more" if len(report.gaps) > 20 else ""
        notes.append(f"Gaps of {GAP_MIN} min or more inside a worn day: {listed}{more}.")
    else:
        notes.append(f"No gaps of {GAP_MIN} min or more inside a worn day.")
    if not report.days_with_data:
        notes.append("No data at all for this week: check the wearer id, the week and the store.")
    return "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"


def _detail(report: WeeklyReport, specs: dict[str, dict[str, Any]]) -> str:
    captions = {
        "sitting-by-hour": f"Minutes of sitting in each hour of the clock in {report.tz}; on a day the clocks go "
        "back, the repeated hour's two hours share a cell.",
        "bout-lengths": "Sitting bouts that ended this week, counted by length in minutes.",
        "lean": "Static minutes leaning 10° or more to either side, per day.",
        "prompt-responses": "Per exercise, the share of prompts followed by a break within 1, 3 and 5 minutes.",
    }
    figures = "".join(_svg_figure(name, specs[name], caption) for name, caption in captions.items())
    responses = [
        [
            r.exercise if r.exercise != "*" else "all",
            r.prompts,
            *(f"{100 * r.rate(k):.0f} %" for k in (1, 3, 5)),
            r.acked,
        ]
        for r in report.responses
    ]
    return (
        '<section class="detail">'
        f"<h2>Charts</h2>{figures}"
        f'<h2>Per day</h2><p class="note">{escape(_zone_caption(report))} "no data": nothing was stored that day.</p>'
        f"{_per_day(report)}"
        f"<h2>Check-ins and readiness</h2>{_checkins(report)}"
        f"<h2>Exercise sessions</h2>{_exercises(report, specs)}"
        "<h2>Prompt response</h2>"
        + (
            _table(["exercise", "prompts", "1 min", "3 min", "5 min", "acknowledged"], responses)
            if responses
            else "<p>No prompts this week.</p>"
        )
        + f"<h2>Data quality</h2>{_quality(report)}"
        "<h2>Definitions</h2><dl>"
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in DEFINITIONS)
        + '</dl><p class="note">Full definitions: docs/metrics.md.</p></section>'
    )


def html(report: WeeklyReport, *, paper: Paper = "A4") -> str:
    """The report as one HTML document (str) for a portrait ``paper`` page: summary page, then the detail."""
    specs = charts.chart_specs(report)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Kinetic weekly report - {escape(report.wearer)} - {escape(report.week)}</title>"
        f"<style>{CSS % {'paper': paper}}</style></head><body>"
        + _summary(report, specs)
        + _detail(report, specs)
        + "</body></html>\n"
    )


def write(report: WeeklyReport, out: Path, *, paper: Paper = "A4") -> tuple[Path, Path]:
    """Write ``kinetic-<wearer>-<week>.html`` and ``.csv`` into ``out``; return both paths. A day without data has
    empty cells in the CSV."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"kinetic-{report.wearer}-{report.week}"
    # health data: the owner's only (ingest/store/private.py)
    html_path, csv_path = private_file(stem.with_suffix(".html")), private_file(stem.with_suffix(".csv"))
    html_path.write_text(html(report, paper=paper), encoding="utf-8")
    rows = [d.row() for d in report.days]
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return html_path, csv_path
