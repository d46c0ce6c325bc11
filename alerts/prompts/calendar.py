"""A wearer's calendar as busy time, for holding prompts in meetings (issue 17). Pure: iCalendar text and a time
span in, busy intervals out; fetching feeds is an adapter's job.

RFC 5545 read with ``icalendar``, occurrences expanded with ``recurring-ical-events`` (recurrence rules, ``EXDATE``
exceptions, occurrences moved by ``RECURRENCE-ID``, each event in its own ``TZID``). An occurrence is **busy** unless:

- ``TRANSP:TRANSPARENT`` (shown as free);
- ``STATUS:CANCELLED``;
- the wearer declined it: an ``ATTENDEE`` with one of the wearer's addresses and ``PARTSTAT=DECLINED``;
- it is all-day (``DTSTART`` a date): ignored unless asked for (a holiday or a reminder is no meeting);
- it has no end and no duration (RFC 5545: a point in time, nothing to sit through).

Floating times (no zone) are read in the wearer's zone. Overlapping and touching busy intervals are merged. Only
times are kept: no title, place or attendee leaves this module; the copy of a feed kept for when it is down is
``minimal_calendar``'s, which holds only what these rules read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from alerts.errors import PolicyError

MAX_CALENDAR_BYTES = 5_000_000  # a year of a busy person's calendar is well under 1 MB
MAX_OCCURRENCES = 10_000  # in one span: more is a runaway rule, not a day of meetings


class CalendarError(PolicyError):
    """A feed that is not iCalendar, or one Kinetic will not expand; the message names what is wrong."""


@dataclass(frozen=True, slots=True)
class Busy:
    """One busy interval, Unix ms, ``start_ms < end_ms``."""

    start_ms: int
    end_ms: int

    def holds(self, t_ms: int) -> bool:
        return self.start_ms <= t_ms < self.end_ms


def _ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


def _attendees(event: Any) -> list[Any]:
    found = event.get("ATTENDEE")
    if found is None:
        return []
    return list(found) if isinstance(found, list) else [found]


def _declined(event: Any, addresses: frozenset[str]) -> bool:
    for attendee in _attendees(event):
        address = str(attendee).lower().removeprefix("mailto:")
        if address in addresses and str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED":
            return True
    return False


def busy_intervals(
    ics: str | bytes,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    *,
    addresses: frozenset[str] = frozenset(),
    all_day: bool = False,
) -> list[Busy]:
    """The busy intervals of a feed that overlap ``[start, end)`` (aware datetimes), merged, in time order.

    ``zone``: the wearer's, for floating times; ``addresses``: the wearer's e-mail addresses (lower case) for
    declined invitations; ``all_day``: count all-day events as busy. Raises CalendarError naming the problem."""
    return busy_of(read_calendar(ics), start, end, zone, addresses=addresses, all_day=all_day)


def read_calendar(ics: str | bytes) -> Any:
    """Parse a feed (an ``icalendar.Calendar``), refusing one that is too big, no iCalendar, or has a rule repeating
    every second or minute. Raises CalendarError naming the problem."""
    raw = ics.encode() if isinstance(ics, str) else ics
    if len(raw) > MAX_CALENDAR_BYTES:
        raise CalendarError(f"the calendar is {len(raw)} bytes: at most {MAX_CALENDAR_BYTES}")
    try:
        calendar = icalendar.Calendar.from_ical(raw)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise CalendarError(f"not an iCalendar (RFC 5545) feed: {' '.join(str(exc).split())[:200]}") from None
    _refuse_runaway_rules(calendar)
    return calendar


# What the busy rules read of an event: its times and recurrence, whether it is free or cancelled (and the wearer's
# own ATTENDEE line, for a declined invitation). Nothing else is kept in the last good copy.
_KEPT_PROPERTIES = frozenset(
    {"UID", "DTSTAMP", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "SEQUENCE"}
    | {"STATUS", "TRANSP"}
)


def minimal_calendar(calendar: Any, addresses: frozenset[str]) -> bytes:
    """The calendar reduced to what the busy rules read: its time zones (``VTIMEZONE``) and, of each event, the
    ``_KEPT_PROPERTIES`` and the ``ATTENDEE`` lines of the wearer's own ``addresses``. No title, description, place,
    organiser, other attendee or alarm: the copy kept on disk is no diary. ``busy_of`` gives the same intervals from
    it as from the whole feed (tests/unit/alerts/prompts/test_calendar.py)."""
    out = icalendar.Calendar()
    out.add("VERSION", "2.0")
    out.add("PRODID", "-//Kinetic//busy time only//EN")
    for component in calendar.subcomponents:
        if component.name == "VTIMEZONE":
            out.add_component(component)
        elif component.name == "VEVENT":
            event = icalendar.Event()
            for name, value in component.items():
                if name in _KEPT_PROPERTIES:
                    event[name] = value
            own = [a for a in _attendees(component) if str(a).lower().removeprefix("mailto:") in addresses]
            if own:
                event["ATTENDEE"] = own if len(own) > 1 else own[0]
            out.add_component(event)
    data: bytes = out.to_ical()
    return data


def busy_of(
    calendar: Any,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    *,
    addresses: frozenset[str] = frozenset(),
    all_day: bool = False,
) -> list[Busy]:
    """``busy_intervals`` of a calendar already read (``read_calendar``)."""
    spans: list[tuple[int, int]] = []
    try:
        for count, event in enumerate(recurring_ical_events.of(calendar).between(start, end)):
            if count >= MAX_OCCURRENCES:
                raise CalendarError(f"more than {MAX_OCCURRENCES} occurrences between {start} and {end}")
            span = _span(event, zone, addresses, all_day)
            if span is not None:
                spans.append(span)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise CalendarError(f"not an iCalendar (RFC 5545) feed: {' '.join(str(exc).split())[:200]}") from None
    return _merged(spans)


def _refuse_runaway_rules(calendar: Any) -> None:
    """A recurrence every second or minute (``FREQ=SECONDLY``/``MINUTELY``, or a ``BYSECOND`` list) is no meeting
    series, and expanding it would mean 86,400 occurrences a day before any bound could apply: the feed is refused
    naming it. Calendar applications do not write such rules."""
    for event in calendar.walk("VEVENT"):
        rule = event.get("RRULE")
        for one in rule if isinstance(rule, list) else [rule] if rule is not None else []:
            freq = [str(f).upper() for f in one.get("FREQ", [])]
            if set(freq) & {"SECONDLY", "MINUTELY"} or one.get("BYSECOND"):
                uid = str(event.get("UID", "?"))[:80]
                raise CalendarError(
                    f"event {uid!r} repeats every {'second' if 'SECONDLY' in freq else 'minute'}: "
                    "no meeting series; Kinetic reads rules from hourly up"
                )


def _span(event: Any, zone: ZoneInfo, addresses: frozenset[str], all_day: bool) -> tuple[int, int] | None:
    """One occurrence as a busy (start, end) in Unix ms, or None when it holds nothing (the rules above)."""
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    if str(event.get("STATUS", "")).upper() == "CANCELLED" or _declined(event, addresses):
        return None
    begin = event.get("DTSTART")
    if begin is None:
        return None
    first = begin.dt
    if not isinstance(first, datetime):  # a date: all day
        if not all_day:
            return None
        first = datetime.combine(first, datetime.min.time())
    finish = event.get("DTEND")
    if finish is not None:
        last = finish.dt
    elif event.get("DURATION") is not None:
        last = first + event.get("DURATION").dt
    else:
        return None
    if isinstance(last, date) and not isinstance(last, datetime):
        last = datetime.combine(last, datetime.min.time())
    first = first if first.tzinfo else first.replace(tzinfo=zone)
    last = last if last.tzinfo else last.replace(tzinfo=zone)
    return (_ms(first), _ms(last)) if last > first else None


def _merged(spans: list[tuple[int, int]]) -> list[Busy]:
    out: list[Busy] = []
    for begin, finish in sorted(spans):
        if out and begin <= out[-1].end_ms:
            if finish > out[-1].end_ms:
                out[-1] = Busy(out[-1].start_ms, finish)
        else:
            out.append(Busy(begin, finish))
    return out


def merge_busy(lists: Iterable[Iterable[Busy]]) -> list[Busy]:
    """Several feeds' busy intervals as one merged, ordered list (a wearer's work and private calendars)."""
    return _merged([(b.start_ms, b.end_ms) for busy in lists for b in busy])


def busy_before(intervals: list[Busy], t_ms: int) -> Busy | None:
    """The last interval over by ``t_ms`` (``end_ms <= t_ms``), if any (intervals merged and in order)."""
    lo, hi = 0, len(intervals)
    while lo < hi:
        mid = (lo + hi) // 2
        if intervals[mid].end_ms <= t_ms:
            lo = mid + 1
        else:
            hi = mid
    return intervals[lo - 1] if lo else None


def busy_at(intervals: list[Busy], t_ms: int) -> Busy | None:
    """The busy interval holding ``t_ms``, if any (intervals merged and in order, as ``busy_intervals`` gives)."""
    lo, hi = 0, len(intervals)
    while lo < hi:
        mid = (lo + hi) // 2
        if intervals[mid].end_ms <= t_ms:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(intervals) and intervals[lo].holds(t_ms):
        return intervals[lo]
    return None


def day_span(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A local calendar day as an aware ``[start, end)`` (23, 24 or 25 hours at a DST change)."""
    begin = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    finish = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return begin.astimezone(UTC), finish.astimezone(UTC)
