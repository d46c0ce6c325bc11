"""``kinetic report weekly`` on the seeded week (tests/support/week.py), from influxd and from the embedded store:
the numbers are the script's, the same from both stores, the same as the Weekly review dashboard's panels; the
HTML renders in headless Chromium (Debian's chromium) with every chart drawn, prints on A4 with the summary on the
first page and every table inside the page's width, and ``--pdf`` prints A4 pages."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from dashboards.report.weekly import weekly_report
from ingest.settings import InfluxSettings
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.influxql_queries import InfluxQLQueries
from tests.conftest import SeededWeek
from tests.support import meetings_week, week
from tests.support.panels import panel_queries, run_query
from tests.support.servers import Server

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"


def report(seeded: SeededWeek, store: str, out: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "KINETIC_STORE__KIND": store, **extra_env}
    if store == "embedded":
        env["KINETIC_STORE__EMBEDDED_PATH"] = str(seeded.embedded)
    else:
        env["KINETIC_INFLUX__URL"] = seeded.influxd.url
        env["KINETIC_INFLUX__DATABASE"] = seeded.database
    cmd = [sys.executable, "-m", "kinetic", "report", "weekly", "--out", str(out), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as f:
        return {row["date"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def reports(seeded_week: SeededWeek, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for store in ("influx_v1", "embedded"):
        folder = tmp_path_factory.mktemp(store)
        extra = ["--pdf"] if store == "embedded" else []
        done = report(seeded_week, store, folder, "--wearer", "ann", "--week", week.WEEK, "--tz", week.TZ_NAME, *extra)
        assert done.returncode == 0, done.stderr
        assert "6 days with data" in done.stderr
        html, csv_path, *pdf = (Path(line) for line in done.stdout.split())
        assert html.name == "kinetic-ann-2026-W47.html" and csv_path.suffix == ".csv"
        assert [p.name for p in pdf] == (["kinetic-ann-2026-W47.pdf"] if extra else [])
        out[store] = folder
    return out


def test_both_stores_give_the_same_report(reports: dict[str, Path]) -> None:
    name = "kinetic-ann-2026-W47"
    assert read_csv(reports["influx_v1"] / f"{name}.csv") == read_csv(reports["embedded"] / f"{name}.csv")
    assert (reports["influx_v1"] / f"{name}.html").read_text() == (reports["embedded"] / f"{name}.html").read_text()


def test_report_numbers_are_the_scripts(reports: dict[str, Path]) -> None:
    rows = read_csv(reports["embedded"] / "kinetic-ann-2026-W47.csv")
    assert len(rows) == 7 and set(rows["2026-11-22"].values()) == {"2026-11-22", ""}  # Sunday: no data, not 0
    for day, e in week.week_days("ann").items():
        # every posture figure of a day with data is a number; check-ins and readiness may be absent (empty) on a day
        # with data, and are checked in test_report_and_weekly_review_agree_on_check_ins_and_readiness
        checkin_columns = ("pain_max", "stress_level_max", "relief_day")
        r = {k: float(v) for k, v in rows[day.isoformat()].items() if k != "date" and k not in checkin_columns}
        assert r["sitting_min"] == pytest.approx(e.sitting_min, abs=0.05)
        assert r["standing_min"] == pytest.approx(e.standing_min, abs=0.05)
        assert r["stepping_min"] == pytest.approx(e.stepping_min, abs=0.05)
        assert (r["sitting_bouts_30min_plus"], r["sitting_bouts_60min_plus"], r["breaks"]) == (
            e.bouts_30,
            e.bouts_60,
            e.breaks,
        )
        assert r["longest_sitting_bout_min"] == pytest.approx(e.longest_min, abs=0.05)
        assert r["lean_10deg_min"] == pytest.approx(e.lean_10_min, abs=0.05)
        assert r["lean_symmetry_index_pct"] == pytest.approx(e.symmetry_index, abs=0.1)
        assert r["breaks_per_sitting_hour"] == pytest.approx(e.breaks_per_sitting_hour, abs=0.001)


# report CSV column -> (Weekly review panel, column in its query's result)
AGREES = {
    "sitting_min": ("Sitting, standing, stepping, lying (min per day)", "sitting"),
    "standing_min": ("Sitting, standing, stepping, lying (min per day)", "standing"),
    "stepping_min": ("Sitting, standing, stepping, lying (min per day)", "stepping"),
    "lying_min": ("Sitting, standing, stepping, lying (min per day)", "lying"),
    "sitting_bouts_30min_plus": (
        "Sitting bouts of 30 min or more, and of 60 min or more (per day)",
        "bouts_30min_plus",
    ),
    "sitting_bouts_60min_plus": (
        "Sitting bouts of 30 min or more, and of 60 min or more (per day)",
        "bouts_60min_plus",
    ),
    "breaks": ("Breaks per sitting hour", "breaks"),
    "breaks_per_sitting_hour": ("Breaks per sitting hour", "breaks_per_sitting_hour"),
    "longest_sitting_bout_min": ("Longest sitting bout (min)", "longest_min"),
    "incl_0_20deg_min": ("Trunk forward inclination bands, static (min per day)", "incl_0_20deg"),
    "incl_20_60deg_min": ("Trunk forward inclination bands, static (min per day)", "incl_20_60deg"),
    "incl_over_60deg_min": ("Trunk forward inclination bands, static (min per day)", "incl_over_60deg"),
    "lean_10deg_min": ("Leaning 10 deg or more (min) and lean symmetry index (%)", "lean_10deg_min"),
    "lean_symmetry_index_pct": ("Leaning 10 deg or more (min) and lean symmetry index (%)", "symmetry_index_pct"),
    "worn_h": ("Worn time (h per day)", "worn_h"),
}


def test_report_and_weekly_review_dashboard_agree(seeded_week: SeededWeek, reports: dict[str, Path]) -> None:
    rows = read_csv(reports["influx_v1"] / "kinetic-ann-2026-W47.csv")
    panels = panel_queries("kinetic-weekly-review")
    start, end = week.week_range_ms()
    variables = {"wearer": "ann", "tz": week.TZ_NAME, "patients": ".*"}
    compared = 0
    for column, (title, field) in AGREES.items():
        (query,) = panels[title]
        for panel_row in run_query(seeded_week.influxd.url, seeded_week.database, query, start, end - 1, variables):
            day = week.datetime.fromtimestamp(panel_row["time"] / 1000, week.TZ).date().isoformat()
            rounding = 0.05 if column == "lean_symmetry_index_pct" else 0.005  # the CSV's decimals
            assert float(rows[day][column]) == pytest.approx(panel_row[field], abs=rounding * 1.01), (column, day)
            compared += 1
    assert compared == len(AGREES) * 6  # six days with data; Sunday has no panel row and an empty CSV row


def test_prompt_response_agrees_with_the_dashboard(seeded_week: SeededWeek, reports: dict[str, Path]) -> None:
    html = (reports["influx_v1"] / "kinetic-ann-2026-W47.html").read_text()
    (query,) = panel_queries("kinetic-weekly-review")[
        "Prompt response by exercise (% followed by a break within 1 / 3 / 5 min)"
    ]
    start, end = week.week_range_ms()
    rows = run_query(seeded_week.influxd.url, seeded_week.database, query, start, end - 1, {"wearer": "ann"})
    assert rows
    for row in rows:
        cells = [row["exercise"], row["prompts"], *(f"{row[f'within_{k}min']:.0f} %" for k in (1, 3, 5))]
        assert "".join(f"<td>{c}</td>" for c in cells) in html


# each chart's drawn data marks (bars, heatmap cells: Vega's rect marks) with a non-empty box, and its "no data" text
CHARTS_JS = """() => [...document.querySelectorAll('figure.chart')].map(figure => {
    const svg = figure.querySelector('svg'); const box = svg.getBoundingClientRect();
    const drawn = [...svg.querySelectorAll('g.role-mark:is(.mark-rect, .mark-symbol, .mark-line) path')].filter(m => {
        const b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; });
    const texts = [...svg.querySelectorAll('text')].map(t => t.textContent);
    return {name: figure.dataset.chart, empty: figure.dataset.empty, width: box.width, height: box.height,
            marks: drawn.length, noData: texts.includes('no data this week')};
})"""
A4_MM = (210, 297)
MARGIN_MM = 12  # the report's @page margin
PX_PER_MM = 96 / 25.4  # CSS pixels


def test_report_renders_in_headless_chromium_with_every_chart_drawn(reports: dict[str, Path]) -> None:
    page_path = reports["embedded"] / "kinetic-ann-2026-W47.html"
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith("file:") else None)
            page.goto(page_path.as_uri())
            charts = page.evaluate(CHARTS_JS)
            headings = page.locator("h2").all_inner_texts()
            page.screenshot(path=str(reports["embedded"] / "report.png"), full_page=True)
        finally:
            browser.close()
    assert [c["name"] for c in charts] == [
        "sitting-per-day",
        "weekly-trend",
        "sitting-by-hour",
        "bout-lengths",
        "lean",
        "prompt-responses",
        "dose-over-weeks",
    ]
    for chart in charts:  # the seeded week has data for every chart
        assert chart["width"] > 300 and chart["height"] > 100 and chart["marks"] > 0, chart
        assert chart["empty"] == "false" and not chart["noData"], chart
    cells = sum(
        1 for d in week.DAYS if d.wearer == "ann" and d.day >= week.MONDAY for _ in week.expected_day(d).sitting_by_hour
    )
    assert next(c for c in charts if c["name"] == "sitting-by-hour")["marks"] == cells
    assert next(c for c in charts if c["name"] == "sitting-per-day")["marks"] == 6  # Sunday: "no data", no bar
    assert {"Summary", "Charts", "Per day", "Prompt response", "Data quality", "Definitions"} <= set(headings)
    assert outside == []  # self-contained: nothing fetched


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """Each page's size in points from its /MediaBox (Chromium writes the page dictionaries uncompressed)."""
    return [(float(w), float(h)) for w, h in re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)]


def test_report_prints_on_a4_portrait_with_the_summary_on_page_one_and_tables_inside_the_page(
    reports: dict[str, Path],
) -> None:
    page_path = reports["embedded"] / "kinetic-ann-2026-W47.html"
    content_w = (A4_MM[0] - 2 * MARGIN_MM) * PX_PER_MM
    content_h = (A4_MM[1] - 2 * MARGIN_MM) * PX_PER_MM
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": round(content_w), "height": round(content_h)})
            page.emulate_media(media="print")  # the layout the printer gets: the page's content box
            page.goto(page_path.as_uri())
            measured = page.evaluate(
                """() => ({
                    page: document.documentElement.scrollWidth,
                    summary: document.querySelector('section.summary').getBoundingClientRect().height,
                    tables: [...document.querySelectorAll('table')].map(t => ({
                        cls: t.className, right: t.getBoundingClientRect().right,
                        overflow: t.scrollWidth - t.clientWidth})),
                    charts: [...document.querySelectorAll('figure.chart svg')]
                        .map(s => s.getBoundingClientRect().right),
                })"""
            )
            pdf = page.pdf(prefer_css_page_size=True)
        finally:
            browser.close()
    assert measured["page"] <= round(content_w)  # nothing scrolls sideways
    assert {t["cls"] for t in measured["tables"]} >= {"figures", "per-day"}
    for table in measured["tables"]:
        assert table["right"] <= content_w + 0.5 and table["overflow"] <= 0, table
    assert all(right <= content_w + 0.5 for right in measured["charts"]), measured["charts"]
    assert measured["summary"] <= content_h, measured  # the summary is one page; the detail starts on the next
    pages = pdf_pages(pdf)
    assert len(pages) >= 2 and all(
        w == pytest.approx(595.28, abs=1) and h == pytest.approx(841.89, abs=1) for w, h in pages
    )
    # the CLI's --pdf (Chromium's own print of the same file) gives the same paper
    printed = pdf_pages((reports["embedded"] / "kinetic-ann-2026-W47.pdf").read_bytes())
    assert len(printed) == len(pages) and set(printed) == set(pages)


def test_report_errors_are_one_line_and_name_the_input(seeded_week: SeededWeek, tmp_path: Path) -> None:
    bad = report(seeded_week, "embedded", tmp_path, "--wearer", "ann", "--week", "2026-47")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "--week '2026-47'" in bad.stderr
    zone = report(seeded_week, "embedded", tmp_path, "--wearer", "ann", "--week", week.WEEK, "--tz", "Mars/Olympus")
    assert zone.returncode == 2 and "--tz 'Mars/Olympus'" in zone.stderr
    for store in ("embedded", "influx_v1"):  # a wearer nothing is stored for: an error naming those there are
        nobody = report(seeded_week, store, tmp_path, "--wearer", "nobody", "--week", week.WEEK)
        assert nobody.returncode == 2 and nobody.stderr.strip().count("\n") == 0, nobody.stderr
        assert "wearer 'nobody': nothing is stored" in nobody.stderr and "wearers with data: ann, bob" in nobody.stderr
    assert not (tmp_path / "kinetic-nobody-2026-W47.html").exists()
    empty = report(seeded_week, "embedded", tmp_path, "--wearer", "bob", "--week", "2026-W30")
    assert empty.returncode == 0 and "no data for bob in 2026-W30" in empty.stderr  # a known wearer's empty week
    assert "No data at all for this week" in (tmp_path / "kinetic-bob-2026-W30.html").read_text()


def test_the_zone_is_the_wearers_from_their_policy_and_the_caption_says_so(
    seeded_week: SeededWeek, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"wearers:\n  ann:\n    timezone: {week.TZ_NAME}\n    sitting_threshold_min: 40\n")
    done = report(
        seeded_week,
        "embedded",
        tmp_path,
        "--wearer",
        "ann",
        "--week",
        week.WEEK,
        KINETIC_ALERTS__POLICY_FILE=str(policy),
    )
    assert done.returncode == 0 and f"({week.TZ_NAME})" in done.stderr, done.stderr
    html = (tmp_path / "kinetic-ann-2026-W47.html").read_text()
    assert "clock in Europe/Berlin (the wearer&#x27;s time zone, from their policy)" in html
    assert "Longest sitting bouts (prompt threshold 40 min)" in html
    rows = read_csv(tmp_path / "kinetic-ann-2026-W47.csv")
    for day, expected in week.week_days("ann").items():
        assert float(rows[day.isoformat()]["sitting_min"]) == pytest.approx(expected.sitting_min, abs=0.05)

    # no zone in the policy: UTC, and the caption says why and how to choose one
    utc = report(seeded_week, "embedded", tmp_path / "utc", "--wearer", "ann", "--week", week.WEEK)
    assert utc.returncode == 0 and "(UTC)" in utc.stderr, utc.stderr
    assert "names no time zone" in (tmp_path / "utc" / "kinetic-ann-2026-W47.html").read_text()


def test_report_flags_fail_in_one_line(seeded_week: SeededWeek, tmp_path: Path) -> None:
    args = ("--wearer", "ann", "--week", week.WEEK)
    goal = report(seeded_week, "embedded", tmp_path, *args, "--sitting-goal-h", "30")
    assert goal.returncode == 2 and goal.stderr.strip().count("\n") == 0 and "--sitting-goal-h" in goal.stderr
    missing = tmp_path / "no-such-browser"
    pdf = report(seeded_week, "embedded", tmp_path, *args, "--pdf", KINETIC_CHROMIUM=str(missing))
    assert pdf.returncode == 2 and pdf.stderr.strip().count("\n") == 0, pdf.stderr
    assert "--pdf" in pdf.stderr and str(missing) in pdf.stderr
    assert (tmp_path / "kinetic-ann-2026-W47.html").exists()  # the HTML was written before the PDF was tried


def test_report_and_weekly_review_agree_on_check_ins_and_readiness(
    seeded_week: SeededWeek, reports: dict[str, Path]
) -> None:
    """Issue 17, item 3: the report's highest pain and stress per day are the Weekly review's, and its readiness
    per day the decisions the seeded week holds (tests/support/week.py CHECKINS, READINESS)."""
    rows = read_csv(reports["influx_v1"] / "kinetic-ann-2026-W47.csv")
    (query,) = panel_queries("kinetic-weekly-review")[
        "Pain (0-10) and stress (0 low - 2 high) check-ins, highest per day"
    ]
    start, end = week.week_range_ms()
    variables = {"wearer": "ann", "tz": week.TZ_NAME, "patients": ".*"}
    panel = run_query(seeded_week.influxd.url, seeded_week.database, query, start, end - 1, variables)
    days = {week.datetime.fromtimestamp(r["time"] / 1000, week.TZ).date().isoformat(): r for r in panel}
    assert len(days) == len({d for d, *_ in week.CHECKINS}) == 3
    for day, row in rows.items():
        got = (row["pain_max"] or None, row["stress_level_max"] or None)
        want = days.get(day, {})
        assert got == tuple(None if want.get(k) is None else str(float(want[k])) for k in ("pain_max", "stress_max"))
    relief = {d.isoformat(): str(int(r)) for d, r, *_ in week.READINESS}
    assert {day: row["relief_day"] for day, row in rows.items() if row["relief_day"]} == relief


def test_report_and_weekly_review_agree_on_meetings(influxd: Server, tmp_path: Path) -> None:
    """Issue 17, item 3: on one stored week of meetings (tests/support/meetings_week.py), the weekly report from
    either store (which joins each ``prompt_sent`` to its outcome in Python) and the Weekly review's panels (which
    read the context the outcome carries) show the same prompts held in meetings, after-meeting prompts and breaks
    within 5 min per day, and the same after-meeting response for the week; both are the script's."""
    name, embedded = "meetings_week_report", tmp_path / "kinetic.sqlite"
    asyncio.run(meetings_week.store(meetings_week.seed().points, influxd.url, name, embedded))

    async def report_days(store: str) -> dict[str, tuple[int, int, int]]:
        if store == "embedded":
            local = EmbeddedQueries(embedded)
            got = await weekly_report(local, "ann", week.WEEK, week.TZ_NAME)
            local.close()
        else:
            sink = InfluxV1Sink(InfluxSettings(url=influxd.url, database=name))
            got = await weekly_report(InfluxQLQueries(sink), "ann", week.WEEK, week.TZ_NAME)
            await sink.aclose()
        return {
            d.day.isoformat(): (d.held_in_meetings, d.after_meeting, d.after_meeting_moved_5min)
            for d in got.days
            if d.held_in_meetings or d.after_meeting
        }

    review = panel_queries("kinetic-weekly-review")
    start, end = week.week_range_ms()
    variables = {"wearer": "ann", "tz": week.TZ_NAME, "patients": ".*"}

    def panel(title: str) -> dict[str, dict[str, Any]]:
        (query,) = review[title]
        rows = run_query(influxd.url, name, query, start, end - 1, variables)
        return {week.datetime.fromtimestamp(r["time"] / 1000, week.TZ).date().isoformat(): r for r in rows}

    held = panel("Prompts held in meetings (per day)")
    after = panel("After-meeting prompts, and those followed by a break within 5 min (per day)")
    grafana = {
        day: (
            held.get(day, {}).get("held_in_meetings", 0),
            after.get(day, {}).get("after_meeting", 0),
            after.get(day, {}).get("after_meeting_break_5min", 0),
        )
        for day in held.keys() | after.keys()
    }
    script = {
        d.day.isoformat(): (d.held_in_meetings, d.after_meeting, d.after_meeting_break_5min)
        for d in meetings_week.DAYS
        if d.held_in_meetings or d.after_meeting
    }
    assert asyncio.run(report_days("influx_v1")) == asyncio.run(report_days("embedded")) == grafana == script
    (by_context,) = review["Prompt response by why it was sent (threshold, after a meeting, re-prompt)"]
    rows = run_query(influxd.url, name, by_context, start, end - 1, variables)
    after_week = next(r for r in rows if r["context"] == "after_meeting")
    moved, sent = sum(v[2] for v in script.values()), sum(v[1] for v in script.values())
    assert after_week["within_5min"] == pytest.approx(100 * moved / sent) == 50
