"""The wearer's clock everywhere (issue 14, 6) and a not-worn correction that the store keeps (issue 14, 3c):
scenarios from the simulator through the real engine, stored in real influxd and in the embedded store; the
Weekly review's and My day's InfluxQL, the report from both stores and the hourly summaries agree, day by day and
hour by hour, in zones 5:30, 5:45, -3:30 and +14 from UTC and on days of 23 and 25 hours."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from dashboards.report.weekly import WeeklyReport, weekly_report
from ingest.settings import InfluxSettings
from ingest.simulate.scenario import parse_scenario
from ingest.simulate.synth import batches_for
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.influxql_queries import InfluxQLQueries
from ingest.store.model import points_for
from ingest.wire import EventV1, PromptV1
from tests.support.panels import panel_queries, run_query
from tests.support.servers import Server

pytestmark = pytest.mark.integration


def outputs_of(start: str, segments: str, tz: str) -> tuple[list[PromptV1 | EventV1], int]:
    """The engine's outputs for one thigh wearer 'ann', and how many frames it was fed."""
    scenario = parse_scenario(
        f"start: {start}\nseed: 11\nwearers:\n  - wearer: ann\n    placement: thigh\n    segments: [{segments}]\n"
    )
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(PromptPolicy(timezone=tz)))
    out: list[PromptV1 | EventV1] = []
    frames = 0
    for batch in batches_for(scenario, scenario.wearers[0], 60):
        frames += len(batch.frames)
        out += engine.process(batch)
    return out + engine.close("ann"), frames


def store(influxd: Server, database: str, path: Path, outputs: list[PromptV1 | EventV1]) -> None:
    """Write each output's points in the order they came out, as the bridge would."""

    async def write() -> None:
        influx = InfluxV1Sink(InfluxSettings(url=influxd.url, database=database))
        embedded = EmbeddedSink(path)
        await influx.prepare()
        for output in outputs:
            points = points_for(output, 0)
            if points:
                await influx.write(points)
                await embedded.write(points)
        await influx.aclose()
        await embedded.aclose()

    asyncio.run(write())


def reports(influxd: Server, database: str, path: Path, week: str, tz: str) -> list[WeeklyReport]:
    async def both() -> list[WeeklyReport]:
        influx = InfluxV1Sink(InfluxSettings(url=influxd.url, database=database))
        embedded = EmbeddedQueries(path)
        try:
            return [
                await weekly_report(InfluxQLQueries(influx), "ann", week, tz),
                await weekly_report(embedded, "ann", week, tz),
            ]
        finally:
            await influx.aclose()
            embedded.close()

    return asyncio.run(both())


CASES = [  # zone, start (local), the ISO week, the days the scenario touches and their length in hours
    ("Asia/Kolkata", "2026-03-03T22:10:00+05:30", "2026-W10", {date(2026, 3, 3): 24, date(2026, 3, 4): 24}),
    ("Asia/Kathmandu", "2026-03-03T22:10:00+05:45", "2026-W10", {date(2026, 3, 3): 24, date(2026, 3, 4): 24}),
    ("America/St_Johns", "2026-03-07T22:10:00-03:30", "2026-W10", {date(2026, 3, 7): 24, date(2026, 3, 8): 23}),
    ("Pacific/Kiritimati", "2026-03-03T22:10:00+14:00", "2026-W10", {date(2026, 3, 3): 24, date(2026, 3, 4): 24}),
    ("Europe/Berlin", "2026-03-28T22:10:00+01:00", "2026-W13", {date(2026, 3, 28): 24, date(2026, 3, 29): 23}),
    ("Europe/Berlin", "2026-10-24T22:10:00+02:00", "2026-W43", {date(2026, 10, 24): 24, date(2026, 10, 25): 25}),
]


@pytest.mark.parametrize(("tz", "start", "week", "days"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_days_and_hours_are_the_wearers_in_the_store_the_dashboards_and_the_report(
    influxd: Server, tmp_path: Path, unique: str, tz: str, start: str, week: str, days: dict[date, int]
) -> None:
    zone = ZoneInfo(tz)
    # across local midnight and, on the DST days, across the change of the clocks at 2:00 or 3:00
    outputs, frames = outputs_of(start, "walk 5m, sit 2h, stand 2m, sit 2h30m, walk 8m, sit 20m, walk 5m", tz)
    database = f"local_{unique}"
    path = tmp_path / "kinetic.sqlite"
    store(influxd, database, path, outputs)
    from_influx, from_embedded = reports(influxd, database, path, week, tz)
    by_day = {d.day: d for d in from_influx.days}
    assert [d.row() for d in from_influx.days] == [d.row() for d in from_embedded.days]
    assert dict(from_influx.day_hours()).items() >= {d: float(h) for d, h in days.items()}.items()

    # every frame is in the hours of its own local day, in the local hour of its clock
    summaries = {s.t: s.metrics or {} for s in outputs if isinstance(s, EventV1) and s.kind == "summary"}
    per_day: dict[date, float] = defaultdict(float)
    for t, m in summaries.items():
        local = t.astimezone(zone)
        assert m["local_hour"] == local.hour and (local.minute, local.second) == (0, 0), t
        per_day[local.date()] += sum(m[f"{p}_s"] for p in ("sitting", "standing", "lying", "moving", "unknown"))
        per_day[local.date()] += m["not_worn_s"]
    assert sum(per_day.values()) == frames and set(per_day) == set(days)
    for day, d in by_day.items():
        total = d.sitting_min + d.standing_min + d.stepping_min + d.lying_min + d.not_worn_min + d.unknown_min
        assert total * 60 == pytest.approx(per_day.get(day, 0.0)), day
        assert d.sitting_min == pytest.approx(sum(d.sitting_by_hour.values())), day

    # the Weekly review's daily panel and My day's heatmap, in the wearer's zone, on real influxd
    week_start = round(datetime.combine(from_influx.monday, datetime.min.time(), zone).timestamp() * 1000)
    week_end = round(datetime.combine(from_influx.monday + timedelta(7), datetime.min.time(), zone).timestamp() * 1000)
    variables = {"wearer": "ann", "tz": tz, "patients": ".*"}
    (daily,) = panel_queries("kinetic-weekly-review")["Sitting, standing, stepping, lying (min per day)"]
    rows = run_query(influxd.url, database, daily, week_start, week_end - 1, variables)
    panel = {datetime.fromtimestamp(r["time"] / 1000, zone).date(): r for r in rows}
    assert set(panel) == set(days)
    for day, r in panel.items():
        local_midnight = datetime.fromtimestamp(r["time"] / 1000, zone)
        assert (local_midnight.hour, local_midnight.minute) == (0, 0)  # influxd's day starts at the wearer's midnight
        assert r["sitting"] == pytest.approx(by_day[day].sitting_min, abs=1e-6), day
        assert r["stepping"] == pytest.approx(by_day[day].stepping_min, abs=1e-6), day
    (heatmap,) = panel_queries("kinetic-my-day")["Sitting by hour of day (min), last 4 weeks"]
    cells: dict[date, dict[int, float]] = defaultdict(dict)
    for r in run_query(influxd.url, database, heatmap, week_start, week_end - 1, variables):
        day = datetime.fromtimestamp(r["time"] / 1000, zone).date()
        cells[day][int(r["hour"])] = r["sum"]
    for day in days:
        report_cells = {h: v for h, v in by_day[day].sitting_by_hour.items() if v}
        assert {h: v for h, v in cells[day].items() if v} == pytest.approx(report_cells), day


def test_an_hour_corrected_to_not_worn_is_replaced_in_both_stores(influxd: Server, tmp_path: Path, unique: str) -> None:
    tz = "Asia/Kolkata"
    # the sensor goes onto a desk at 15:50 local; found not worn at 16:10; hour 15 was published at 16:00 with
    # 10 min of sitting, then again, corrected
    outputs, _ = outputs_of("2026-03-03T15:40:00+05:30", "walk 10m, off 60m, walk 10m", tz)
    first = next(o for o in outputs if isinstance(o, EventV1) and o.kind == "summary")
    assert (first.metrics or {})["sitting_s"] == 600
    database = f"notworn_{unique}"
    path = tmp_path / "kinetic.sqlite"
    store(influxd, database, path, outputs)
    start = round(datetime(2026, 3, 3, tzinfo=UTC).timestamp() * 1000)
    end = start + 2 * 86_400_000

    async def hours() -> list[list[dict[str, float]]]:
        influx = InfluxV1Sink(InfluxSettings(url=influxd.url, database=database))
        embedded = EmbeddedQueries(path)
        try:
            return [await InfluxQLQueries(influx).hours("ann", start, end), await embedded.hours("ann", start, end)]
        finally:
            await influx.aclose()
            embedded.close()

    from_influx, from_embedded = asyncio.run(hours())
    assert from_influx == from_embedded
    assert [(h["t_ms"], h["sitting_s"], h["not_worn_s"]) for h in from_influx] == [
        (first.t.timestamp() * 1000, 0.0, 600.0),
        (first.t.timestamp() * 1000 + 3_600_000, 0.0, 3000.0),
    ]
    report = reports(influxd, database, path, "2026-W10", tz)[0]
    (tuesday,) = [d for d in report.days if d.day == date(2026, 3, 3)]
    assert (tuesday.sitting_min, tuesday.not_worn_min, tuesday.longest_bout_min) == (0.0, 60.0, 0.0)
