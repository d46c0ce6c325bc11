"""A week of meetings (issue 17, item 3): ann's calendar holds prompts and brings the after-meeting sequence, run
through the real engine in event time and stored as the bridge stores it, with what the script says each day must
show: prompts held in meetings, after-meeting prompts, and those followed by a break within 5 min.

The week is tests/support/week.py's (2026-W47, Europe/Berlin), in a database of its own so the seeded week's
figures stay those of its script. Each day is a scenario (docs/scenarios.md): its segments and its calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.calendar import Busy, busy_intervals
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook
from ingest.settings import InfluxSettings
from ingest.simulate.scenario import calendar_ics, parse_scenario
from ingest.simulate.synth import batches_for
from ingest.store.embedded import EmbeddedSink
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.model import points_for
from ingest.store.points import Point
from ingest.wire import EventV1, PromptV1
from tests.support import week
from tests.support.week import MONDAY, TZ

WEARER = "ann"
# the seeded week's policy (no re-prompt, caps out of the way) with a 45-min sitting threshold, so an after-meeting
# prompt can come before it
POLICY = week.POLICY.model_copy(update={"sitting_threshold_min": 45})


@dataclass(frozen=True)
class MeetingDay:
    day: date
    start: time
    segments: str
    calendar: str
    # what the script says (docs/prompts.md, Calendars; the reasoning in the comments of DAYS)
    held_in_meetings: int
    after_meeting: int
    after_meeting_break_5min: int


DAYS = [
    # 09:05-10:05 seated, meeting 09:05-09:45 (40 min): after-meeting prompt at 09:47, before the 45-min threshold;
    # seated until 10:05: no break within 5 min. 10:15-10:55 seated, meeting 10:15-10:50: prompt at 10:52, up at
    # 10:55 (3 min). 11:05-11:55 seated in a meeting until 12:05: the threshold (11:50) is held; up at 11:55, so the
    # held prompt is cancelled (never sent, no outcome).
    MeetingDay(
        MONDAY,
        time(9),
        "walk 5m, sit 60m, stand 10m, sit 40m, walk 10m, sit 50m, walk 5m",
        "09:05 40m, 10:15 35m, 11:05 60m",
        held_in_meetings=1,
        after_meeting=2,
        after_meeting_break_5min=1,
    ),
    # seated 09:05-10:15 in a meeting 09:00-10:00: the threshold (09:50) is held, sent at the meeting's end as the
    # after-meeting prompt (held 10 min); seated until 10:15. A meeting while walking (10:15-10:20): nothing.
    MeetingDay(
        MONDAY + timedelta(1),
        time(9),
        "walk 5m, sit 70m, walk 5m, sit 20m, walk 5m",
        "09:00 60m, 10:15 5m",
        held_in_meetings=1,
        after_meeting=1,
        after_meeting_break_5min=0,
    ),
    # no meeting: a threshold prompt at 09:50 followed by a break at 09:53 (not an after-meeting one)
    MeetingDay(MONDAY + timedelta(2), time(9), "walk 5m, sit 48m, walk 5m", "", 0, 0, 0),
    # a 32-min meeting from 14:05 sat through: prompt at 14:39, up at 14:40
    MeetingDay(MONDAY + timedelta(3), time(14), "walk 5m, sit 35m, walk 5m", "14:05 32m", 0, 1, 1),
]


@dataclass
class MeetingsWeek:
    points: list[Point]
    prompts: list[PromptV1]
    outcomes: list[EventV1]


def seed() -> MeetingsWeek:
    """Run the week's days through one engine, its busy time read from each day's iCalendar feed as the alert
    service reads a wearer's feeds; the points are what the bridge would store."""
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(POLICY))
    scenarios = []
    for d in DAYS:
        start = datetime.combine(d.day, d.start, TZ).isoformat()
        scenarios.append(
            parse_scenario(
                f"start: {start}\nwearers:\n  - wearer: {WEARER}\n    placement: thigh\n"
                f"    segments: [{d.segments}]\n    calendar: [{d.calendar}]\n"
            )
        )
    busy: list[Busy] = []
    for scenario in scenarios:
        start = scenario.start
        busy += busy_intervals(
            calendar_ics(scenario, scenario.wearers[0]), start - timedelta(days=1), start + timedelta(days=1), TZ
        )
    engine.busy[WEARER] = sorted(set(busy), key=lambda b: b.start_ms)
    out = MeetingsWeek([], [], [])
    outputs: list[PromptV1 | EventV1] = []
    for scenario in scenarios:
        for batch in batches_for(scenario, scenario.wearers[0], 10):
            out.points += points_for(batch, 0)
            outputs += engine.process(batch)
    outputs += engine.close(WEARER)
    for output in outputs:
        out.points += points_for(output, 0)
        if isinstance(output, PromptV1):
            out.prompts.append(output)
        elif output.kind == "prompt_outcome":
            out.outcomes.append(output)
    return out


async def store(points: list[Point], influx_url: str, database: str, embedded: Path) -> None:
    """Write the week into influxd (``database``) and an embedded store, as ``seeded_week`` does its own."""
    influx = InfluxV1Sink(InfluxSettings(url=influx_url, database=database))
    await influx.prepare()
    await influx.write(points)
    await influx.aclose()
    sink = EmbeddedSink(embedded)
    await sink.write(points)
    await sink.aclose()
