"""Scenario files with calendars, commands and check-ins in event time (issue 17, item 5)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.prompts.calendar import busy_intervals
from ingest.errors import ScenarioError
from ingest.simulate.scenario import calendar_ics, commands_for, parse_scenario, parse_when_s

DAY = """
start: 2026-12-07T09:00:00+01:00
wearers:
  - wearer: ann
    placement: thigh
    segments: [sit 8h]
    calendar:
      - 10:00 60m
      - 2h30m 30m free
      - 08:30 15m           # before the start: the next day's 08:30
    commands:
      - 12:00 pause 30m
      - 12:45 resume
      - 13:00 dnd on
      - 13:30 dnd off
      - 1h calibrate
      - 16:00 checkin pain 6 stress high
      - 16:30 checkin stress low
"""


def test_calendar_events_become_a_feed_the_calendar_reader_reads() -> None:
    scenario = parse_scenario(DAY)
    script = scenario.wearers[0]
    assert [(e.start_s, e.duration_s, e.busy) for e in script.calendar] == [
        (3600, 3600, True),
        (9000, 1800, False),
        (23 * 3600 + 1800, 900, True),
    ]
    start = scenario.start
    busy = busy_intervals(calendar_ics(scenario, script), start, start + timedelta(days=2), ZoneInfo("UTC"))
    assert [(b.start_ms - scenario.start_ms, b.end_ms - b.start_ms) for b in busy] == [
        (3600_000, 3600_000),  # the free event holds nothing
        ((23 * 3600 + 1800) * 1000, 900_000),
    ]


def test_commands_and_check_ins_carry_the_scenarios_event_time() -> None:
    scenario = parse_scenario(DAY)
    commands = commands_for(scenario, scenario.wearers[0])
    at = {c.kind: c.at for c in commands}
    assert [c.kind for c in commands] == ["calibrate", "pause", "resume", "dnd_on", "dnd_off", "checkin", "checkin"]
    checkins = [c for c in commands if c.kind == "checkin"]
    assert [(c.at - scenario.start, c.pain, c.stress) for c in checkins] == [
        (timedelta(hours=7), 6, "high"),
        (timedelta(hours=7, minutes=30), None, "low"),
    ]
    assert at["pause"] == datetime.fromisoformat("2026-12-07T12:00:00+01:00")  # the scenario's clock, not the host's
    assert commands[1].until == at["pause"] + timedelta(minutes=30)
    assert {c.source for c in commands} == {"scenario"} and all(c.wearer == "ann" for c in commands)
    assert [(c.at_s, c.pain, c.stress) for c in scenario.wearers[0].checkins] == [
        (7 * 3600, 6, "high"),
        (7 * 3600 + 1800, None, "low"),
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("calendar: [10:00]", "calendar event '10:00' must be 'WHEN DURATION"),
        ("calendar: [10:00 60m tentative]", "'tentative' must be busy or free"),
        ("calendar: [25:00 60m]", "time '25:00' must be a clock time like 10:30 or a duration"),
        ("calendar: [10:00 0m]", "must be at least 1s"),
        ("calendar: 10:00 60m", "'calendar' must be a list"),
        ("commands: [12:00 pause 30m extra]", "expected pause [DURATION], resume, dnd on"),
        ("commands: [12:00 dnd maybe]", "expected pause [DURATION], resume, dnd on"),
        ("commands: [12:00 checkin pain 11]", "pain '11' must be a whole number from 0 to 10"),
        ("commands: [12:00 checkin stress extreme]", "stress 'extreme' must be low, medium or high"),
        ("commands: [12:00 checkin mood good]", "answers are 'pain N' (0-10)"),
        ("commands: [12:00]", "must be 'WHEN WHAT'"),
    ],
)
def test_a_bad_entry_names_the_file_line_and_problem(entry: str, message: str) -> None:
    text = f"wearers:\n  - wearer: ann\n    placement: thigh\n    segments: [sit 1h]\n    {entry}\n"
    with pytest.raises(ScenarioError) as error:
        parse_scenario(text, "day.yaml")
    assert str(error.value).startswith("day.yaml:5: ") and message in str(error.value)


def test_when_is_a_duration_from_the_start_or_the_next_clock_time() -> None:
    start = datetime.fromisoformat("2026-12-07T09:00:00+01:00")
    assert parse_when_s("0s", start) == 0 and parse_when_s("1h30m", start) == 5400
    assert parse_when_s("09:00", start) == 0 and parse_when_s("9:30", start) == 1800
    assert parse_when_s("08:59", start) == 24 * 3600 - 60
