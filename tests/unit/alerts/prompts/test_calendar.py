"""Busy time from a wearer's iCalendar feed (issue 17, item 1): each RFC 5545 case that decides whether a meeting
holds prompts, as Google, Outlook and Nextcloud publish them."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.prompts.calendar import Busy, CalendarError, _merged, busy_at, busy_intervals, day_span

BERLIN = ZoneInfo("Europe/Berlin")


def feed(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kinetic test//EN\r\n{body}END:VCALENDAR\r\n".replace(
        "\n", "\r\n"
    ).replace("\r\r\n", "\r\n")


def ms(text: str, zone: ZoneInfo = BERLIN) -> int:
    return round(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp() * 1000)


WEEK = (datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 14, tzinfo=UTC))


def busy(ics: str, **kwargs: object) -> list[tuple[int, int]]:
    return [(b.start_ms, b.end_ms) for b in busy_intervals(ics, *WEEK, BERLIN, **kwargs)]  # type: ignore[arg-type]


def test_a_weekly_meeting_with_an_exception_and_a_moved_occurrence() -> None:
    ics = feed(
        """UID:team
DTSTART;TZID=Europe/Berlin:20261207T100000
DTEND;TZID=Europe/Berlin:20261207T110000
RRULE:FREQ=DAILY;COUNT=4
EXDATE;TZID=Europe/Berlin:20261208T100000
SUMMARY:stand-up""",
        """UID:team
RECURRENCE-ID;TZID=Europe/Berlin:20261209T100000
DTSTART;TZID=Europe/Berlin:20261209T140000
DTEND;TZID=Europe/Berlin:20261209T143000
SUMMARY:stand-up (moved)""",
    )
    assert busy(ics) == [
        (ms("2026-12-07T10:00"), ms("2026-12-07T11:00")),
        (ms("2026-12-09T14:00"), ms("2026-12-09T14:30")),  # moved, not at 10:00
        (ms("2026-12-10T10:00"), ms("2026-12-10T11:00")),
    ]


def test_free_cancelled_declined_and_all_day_events_hold_nothing() -> None:
    ics = feed(
        "UID:1\nDTSTART:20261207T090000Z\nDTEND:20261207T093000Z\nTRANSP:TRANSPARENT",
        "UID:2\nDTSTART:20261207T100000Z\nDTEND:20261207T103000Z\nSTATUS:CANCELLED",
        "UID:3\nDTSTART:20261207T110000Z\nDTEND:20261207T113000Z\n"
        "ATTENDEE;PARTSTAT=DECLINED:mailto:Ann@Example.org\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.org",
        "UID:4\nDTSTART;VALUE=DATE:20261208\nDTEND;VALUE=DATE:20261209\nSUMMARY:holiday",
        "UID:5\nDTSTART:20261207T120000Z\nSUMMARY:a reminder (no end)",
        "UID:6\nDTSTART:20261207T130000Z\nDTEND:20261207T133000Z\nTRANSP:OPAQUE",
    )
    assert busy(ics, addresses=frozenset({"ann@example.org"})) == [
        (ms("2026-12-07T13:00", UTC), ms("2026-12-07T13:30", UTC))
    ]
    # bob did not decline; all-day counts when asked
    assert (ms("2026-12-07T11:00", UTC), ms("2026-12-07T11:30", UTC)) in busy(ics)
    assert (ms("2026-12-08T00:00"), ms("2026-12-09T00:00")) in busy(ics, all_day=True)


def test_each_event_in_its_own_zone_floating_ones_in_the_wearers_and_a_duration() -> None:
    ics = feed(
        "UID:ny\nDTSTART;TZID=America/New_York:20261207T090000\nDTEND;TZID=America/New_York:20261207T100000",
        "UID:floating\nDTSTART:20261208T090000\nDURATION:PT45M",
    )
    assert busy(ics) == [
        (ms("2026-12-07T15:00"), ms("2026-12-07T16:00")),  # 09:00 in New York is 15:00 in Berlin
        (ms("2026-12-08T09:00"), ms("2026-12-08T09:45")),
    ]


def test_overlapping_meetings_merge_and_busy_at_finds_them() -> None:
    ics = feed(
        "UID:a\nDTSTART:20261207T090000Z\nDTEND:20261207T100000Z",
        "UID:b\nDTSTART:20261207T093000Z\nDTEND:20261207T103000Z",
        "UID:c\nDTSTART:20261207T103000Z\nDTEND:20261207T110000Z",
        "UID:d\nDTSTART:20261207T140000Z\nDTEND:20261207T143000Z",
    )
    intervals = busy_intervals(ics, *WEEK, BERLIN)
    assert [(b.start_ms, b.end_ms) for b in intervals] == [
        (ms("2026-12-07T09:00", UTC), ms("2026-12-07T11:00", UTC)),
        (ms("2026-12-07T14:00", UTC), ms("2026-12-07T14:30", UTC)),
    ]
    assert busy_at(intervals, ms("2026-12-07T10:59", UTC)) == intervals[0]
    assert busy_at(intervals, ms("2026-12-07T11:00", UTC)) is None  # the end is free
    assert busy_at(intervals, ms("2026-12-07T14:00", UTC)) == intervals[1]


def test_a_dst_day_has_its_own_length() -> None:
    start, end = day_span(date(2026, 3, 29), BERLIN)
    assert (end - start).total_seconds() == 23 * 3600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a calendar", "not an iCalendar"),
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026XX\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "not an iCalendar"),
        ("x" * 5_000_001, "at most 5000000"),
    ],
)
def test_a_bad_feed_is_one_error(text: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        busy_intervals(text, *WEEK, BERLIN)


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 500)), max_size=30))
def test_merged_intervals_cover_the_same_time_without_overlap(spans: list[tuple[int, int]]) -> None:
    pairs = [(s, s + d) for s, d in spans]
    merged = _merged(pairs)
    assert all(a.end_ms < b.start_ms for a, b in itertools.pairwise(merged))
    for t in range(0, 10_600, 37):
        assert (busy_at(merged, t) is not None) == any(s <= t < e for s, e in pairs)
    assert all(isinstance(b, Busy) for b in merged)
