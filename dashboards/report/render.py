"""The weekly report as one self-contained HTML file (inline CSS and SVG, no scripts, no network) and a CSV of
the daily metrics."""

from __future__ import annotations

import csv
from datetime import datetime
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from dashboards.report import svg
from dashboards.report.weekly import GAP_MIN, WeeklyReport, WeekTotals

DEFINITIONS = (
    ("Sitting / standing / stepping / lying", "seconds classified as each posture, summed per calendar day"),
    ("Sitting bout", "a run of confirmed sitting; a new posture counts after the minimum posture duration (10 s)"),
    ("Bouts >= 30 / >= 60 min", "sitting bouts of at least 30 / 60 minutes, on the day they end"),
    ("Break", "a sitting bout followed directly by standing or stepping"),
    ("Breaks per sitting hour", "breaks / sitting hours of the day"),
    ("Forward inclination bands", "static seconds with the trunk 0-20, 20-60, over 60 deg forward (ISO 11226)"),
    ("Leaning >= 10 deg", "static seconds with the lateral lean beyond 10 deg either side (ISO 11226 / EN 1005-4)"),
    (
        "Lean symmetry index",
        "(R - L) / (0.5 (R + L)) x 100 %, R and L the degree-seconds beyond a 2 deg dead band; + right, - left",
    ),
    ("Prompt response at k min", "prompts followed by a break within k minutes / prompts"),
    ("Worn time", "hours classified as a posture (not 'not worn', not 'uncalibrated')"),
)
CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:right}
th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:.9em}
figure{margin:1em 0}figcaption{font-size:.9em;color:#444}
"""


def _table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _change(now: float, before: float) -> str:
    if before == 0:
        return "n/a" if now == 0 else "new"
    return f"{100 * (now - before) / before:+.0f} %"


def _comparison(now: WeekTotals, before: WeekTotals) -> str:
    rows: list[list[object]] = [
        ["Sitting (h)", f"{before.sitting_h:.1f}", f"{now.sitting_h:.1f}", _change(now.sitting_h, before.sitting_h)],
        ["Bouts >= 60 min", before.bouts_60_plus, now.bouts_60_plus, _change(now.bouts_60_plus, before.bouts_60_plus)],
        ["Breaks", before.breaks, now.breaks, _change(now.breaks, before.breaks)],
        [
            "Leaning >= 10 deg (min)",
            f"{before.lean_10deg_min:.1f}",
            f"{now.lean_10deg_min:.1f}",
            _change(now.lean_10deg_min, before.lean_10deg_min),
        ],
    ]
    return _table(["", "week before", "this week", "change"], rows)


def _plots(report: WeeklyReport) -> list[tuple[str, str]]:
    labels = [d.day.strftime("%a %d") for d in report.days]
    cells = [[d.sitting_by_hour.get(h, 0.0) for h in range(24)] for d in report.days]
    exercises = [r for r in report.responses if r.exercise != "*"]
    histogram = report.bout_histogram()
    return [
        (
            f"Sitting by hour and day (minutes in each hour of the clock in {report.tz}; on a day the clocks go back, "
            "the repeated hour's two hours share a cell)",
            svg.heatmap("sitting-by-hour", labels, cells, "min", 60),
        ),
        (
            "Sitting bout lengths (number of bouts ending this week, by length in minutes)",
            svg.bar_chart("bout-lengths", [b for b, _ in histogram], [("bouts", [n for _, n in histogram])], "bouts"),
        ),
        (
            "Lean: static minutes leaning 10 deg or more, per day",
            svg.bar_chart("lean", labels, [("leaning >= 10 deg", [d.lean_10deg_min for d in report.days])], "min"),
        ),
        (
            "Prompt response by exercise (% followed by a break within 1 / 3 / 5 min)",
            svg.bar_chart(
                "prompt-responses",
                [r.exercise for r in exercises],
                [(f"{k} min", [100 * r.rate(k) for r in exercises]) for k in (1, 3, 5)],
                "%",
                y_max=100,
                width=max(640, 210 * len(exercises)),
            ),
        ),
    ]


def _quality(report: WeeklyReport) -> str:
    zone = ZoneInfo(report.tz)
    notes = [
        f"Days with data: {len(report.days_with_data)} of 7; minutes with frames: {report.minutes_with_data}.",
        "Worn time per day (h): " + ", ".join(f"{d.day:%a} {d.worn_h:.1f}" for d in report.days) + ".",
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


def html(report: WeeklyReport) -> str:
    daily = [d.row() for d in report.days]
    header = list(daily[0].keys())
    responses = [
        [
            r.exercise if r.exercise != "*" else "all",
            r.prompts,
            *(f"{100 * r.rate(k):.0f} %" for k in (1, 3, 5)),
            r.acked,
        ]
        for r in report.responses
    ]
    figures = "".join(
        f"<figure>{chart}<figcaption>{escape(caption)}</figcaption></figure>" for caption, chart in _plots(report)
    )
    sunday = report.days[-1].day
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>Kinetic weekly report - {escape(report.wearer)} - {escape(report.week)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>Weekly report: {escape(report.wearer)}, {escape(report.week)}</h1>"
        f'<p class="note">{report.monday:%A %d %B %Y} to {sunday:%A %d %B %Y}, calendar days in '
        f"{escape(report.tz)}. Generated by Kinetic from the stored hourly summaries, bouts and prompt outcomes.</p>"
        f"<h2>The week against the week before</h2>{_comparison(report.totals, report.previous)}"
        f"<h2>Plots</h2>{figures}"
        f"<h2>Per day</h2>{_table(header, [list(r.values()) for r in daily])}"
        "<h2>Prompt response</h2>"
        + (
            _table(["exercise", "prompts", "1 min", "3 min", "5 min", "acknowledged"], responses)
            if responses
            else "<p>No prompts this week.</p>"
        )
        + f"<h2>Data quality</h2>{_quality(report)}"
        "<h2>Definitions</h2><dl>"
        + "".join(f"<dt><b>{escape(k)}</b></dt><dd>{escape(v)}</dd>" for k, v in DEFINITIONS)
        + '</dl><p class="note">Full definitions: docs/metrics.md.</p></body></html>\n'
    )


def write(report: WeeklyReport, out: Path) -> tuple[Path, Path]:
    """Write ``kinetic-<wearer>-<week>.html`` and ``.csv`` into ``out``; return both paths."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"kinetic-{report.wearer}-{report.week}"
    html_path, csv_path = stem.with_suffix(".html"), stem.with_suffix(".csv")
    html_path.write_text(html(report), encoding="utf-8")
    rows = [d.row() for d in report.days]
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return html_path, csv_path
