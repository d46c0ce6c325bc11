"""Busy time from a wearer's iCalendar feed (issue 17, item 1): each RFC 5545 case that decides whether a meeting
holds prompts, as Google, Outlook and Nextcloud publish them."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.prompts.calendar import (
    Busy,
    CalendarError,
    _merged,
    busy_at,
    busy_before,
    busy_intervals,
    day_span,
    merge_busy,
    minimal_calendar,
    read_calendar,
)

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


def test_a_weekly_meeting_keeps_its_local_time_across_a_dst_change() -> None:
    """Berlin leaves summer time on 2026-10-25: the Monday 10:00 meeting is 08:00 UTC before and 09:00 UTC after."""
    ics = feed(
        "UID:weekly\nDTSTART;TZID=Europe/Berlin:20261019T100000\nDTEND;TZID=Europe/Berlin:20261019T103000\n"
        "RRULE:FREQ=WEEKLY;BYDAY=MO"
    )
    found = busy_intervals(ics, datetime(2026, 10, 18, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC), BERLIN)
    assert [(b.start_ms, b.end_ms) for b in found] == [
        (ms("2026-10-19T08:00", UTC), ms("2026-10-19T08:30", UTC)),
        (ms("2026-10-26T09:00", UTC), ms("2026-10-26T09:30", UTC)),
        (ms("2026-11-02T09:00", UTC), ms("2026-11-02T09:30", UTC)),
    ]


def test_a_meeting_in_progress_at_the_start_of_the_span_counts_and_one_after_it_does_not() -> None:
    ics = feed(
        "UID:long\nDTSTART:20261206T230000Z\nDTEND:20261207T010000Z",
        "UID:later\nDTSTART:20261214T000000Z\nDTEND:20261214T010000Z",
    )
    assert busy(ics) == [(ms("2026-12-06T23:00", UTC), ms("2026-12-07T01:00", UTC))]


def test_a_10000_event_feed_is_read_and_a_runaway_rule_is_one_clear_refusal() -> None:
    """10,001 one-minute events back to back from the week's start: a day of them is read (1,440 merged into one
    interval); the whole week holds more than 10,000 occurrences and is refused; a rule repeating every second is
    refused before it is expanded (86,400 occurrences a day)."""
    first = WEEK[0]
    events = [
        f"UID:e{n}\nDTSTART:{first + timedelta(minutes=n):%Y%m%dT%H%M%SZ}\n"
        f"DTEND:{first + timedelta(minutes=n + 1):%Y%m%dT%H%M%SZ}"
        for n in range(10_001)
    ]
    many = feed(*events)
    day = busy_intervals(many, first, first + timedelta(days=1), BERLIN)
    assert [(b.start_ms, b.end_ms) for b in day] == [(ms("2026-12-07T00:00", UTC), ms("2026-12-08T00:00", UTC))]
    with pytest.raises(CalendarError, match="more than 10000 occurrences"):
        busy_intervals(many, *WEEK, BERLIN)
    runaway = feed("UID:r\nDTSTART:20261207T090000Z\nDTEND:20261207T090001Z\nRRULE:FREQ=SECONDLY")
    with pytest.raises(CalendarError, match="'r' repeats every second: no meeting series"):
        busy_intervals(runaway, *WEEK, BERLIN)


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 500)), max_size=30), st.integers(-10, 10_600))
def test_busy_before_is_the_last_interval_over_and_merge_busy_joins_feeds(
    spans: list[tuple[int, int]], t_ms: int
) -> None:
    merged = _merged([(s, s + d) for s, d in spans])
    over = [b for b in merged if b.end_ms <= t_ms]
    assert busy_before(merged, t_ms) == (over[-1] if over else None)
    half = len(merged) // 2
    assert merge_busy([merged[:half], merged[half:]]) == merged


def test_the_kept_copy_holds_only_what_the_busy_rules_read_and_gives_the_same_busy_time() -> None:
    ics = feed(
        """UID:team
DTSTART;TZID=Europe/Berlin:20261207T100000
DTEND;TZID=Europe/Berlin:20261207T110000
RRULE:FREQ=DAILY;COUNT=4
EXDATE;TZID=Europe/Berlin:20261208T100000
SUMMARY:Salary review with Dr Jones
LOCATION:Room 4, Oncology
DESCRIPTION:bring the scan results
ORGANIZER:mailto:boss@example.org
ATTENDEE;PARTSTAT=ACCEPTED:mailto:carol@example.org""",
        """UID:team
RECURRENCE-ID;TZID=Europe/Berlin:20261209T100000
DTSTART;TZID=Europe/Berlin:20261209T140000
DTEND;TZID=Europe/Berlin:20261209T143000
SUMMARY:stand-up (moved)""",
        "UID:3\nDTSTART:20261207T110000Z\nDTEND:20261207T113000Z\nSUMMARY:pitch\n"
        "ATTENDEE;PARTSTAT=DECLINED:mailto:Ann@Example.org\nATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.org",
        "UID:4\nDTSTART:20261207T150000Z\nDTEND:20261207T153000Z\nTRANSP:TRANSPARENT\nSTATUS:CONFIRMED",
    )
    ann = frozenset({"ann@example.org"})
    kept = minimal_calendar(read_calendar(ics), ann)
    text = kept.decode()
    for private in ("Salary", "Room 4", "scan results", "boss@", "carol@", "bob@", "pitch", "moved"):
        assert private not in text
    assert "ann@example.org" in text.lower()  # the wearer's own answer: the declined rule needs it
    with_ann = busy_intervals(kept, *WEEK, BERLIN, addresses=ann)
    assert with_ann == busy_intervals(ics, *WEEK, BERLIN, addresses=ann) and len(with_ann) == 3
    assert busy_intervals(kept, *WEEK, BERLIN) == busy_intervals(ics, *WEEK, BERLIN)  # 4: the pitch counts
    assert len(busy_intervals(kept, *WEEK, BERLIN)) == 4
