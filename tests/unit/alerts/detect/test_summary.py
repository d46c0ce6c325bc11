"""Hourly summaries on the wearer's clock (alerts.detect.summary): every instant in exactly one local hour, every
local hour in one local day, in any IANA zone, with DST; and a still run found not worn moving out of its hours."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import example, given, settings
from hypothesis import strategies as st

from alerts.detect.bouts import BoutTracker
from alerts.detect.summary import (
    HOUR_MS,
    HourSummary,
    StillSeconds,
    _local_hour_start_ms,
    local_hour,
    local_hour_start_ms,
    utc_offset_ms,
)
from alerts.detect.wearer import WearerDetection
from ingest.wire import FeatureFrameV1

ZONES = sorted(available_timezones())
# offsets that are not whole hours, the latest and a 30-min DST, and zones whose clocks change at midnight
ODD = ["Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Pacific/Kiritimati", "Australia/Lord_Howe"]


def ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def day_start_ms(day: date, zone: ZoneInfo) -> int:
    """The first instant of a local day (00:00, or the end of a gap when the clocks jump over midnight)."""
    return ms(datetime.combine(day, time(0), zone))


def local(t_ms: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(t_ms // 1000, UTC).astimezone(zone)


def day_hours(day: date, zone: ZoneInfo) -> float:
    return (day_start_ms(day + timedelta(1), zone) - day_start_ms(day, zone)) / HOUR_MS


@st.composite
def zone_and_day(draw: st.DrawFn) -> tuple[ZoneInfo, date]:
    """A zone and a day of 2015-2037 (the wire's times begin in 2015); half the time a day on which the zone's clocks
    change, if it has one. (Before 2011 Newfoundland's clocks went back at 00:01 to 23:01 of the day before, so an
    hour of the new day had the old day's date on the wall: no zone has done that since the wire's times begin.)"""
    zone = ZoneInfo(draw(st.sampled_from(ZONES + ODD * 20)))
    day = draw(st.dates(date(2015, 1, 1), date(2037, 12, 30)))
    if draw(st.booleans()):
        first = date(day.year, 1, 1)
        changes = [first + timedelta(i) for i in range(365) if day_hours(first + timedelta(i), zone) != 24]
        if changes:
            day = draw(st.sampled_from(changes))
    return zone, day


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(zone_and_day(), st.integers(-3_600_000, 2 * 86_400_000)), min_size=1, max_size=40))
@example([((ZoneInfo("Australia/Lord_Howe"), date(2026, 4, 5)), t) for t in range(0, 86_400_000, 1_800_000)])
def test_the_hour_kept_per_zone_answers_as_the_hour_found_afresh(
    picks: list[tuple[tuple[ZoneInfo, date], int]],
) -> None:
    """The last hour kept per zone (found whole: no offset change in it) answers every instant as the search would,
    whatever the zones and instants before it: in any order, across DST changes, in zones of 30- and 45-min offsets."""
    for (zone, day), offset_ms in picks:
        t = day_start_ms(day, zone) + offset_ms
        assert local_hour_start_ms(t, zone) == _local_hour_start_ms(t, zone)
        assert local_hour_start_ms(t + 1, zone) == _local_hour_start_ms(t + 1, zone)  # the next instant, from the kept


@settings(max_examples=300, deadline=None)
@given(zone_and_day(), st.lists(st.integers(0, 2 * 86_400 - 1), min_size=20, max_size=60))
@example((ZoneInfo("Europe/Berlin"), date(2026, 3, 29)), [0])  # 23 hours
@example((ZoneInfo("Europe/Berlin"), date(2026, 10, 25)), [0])  # 25 hours
@example((ZoneInfo("Australia/Lord_Howe"), date(2026, 4, 5)), [0])  # 24.5 hours: clocks back by 30 min
@example((ZoneInfo("America/Santiago"), date(2026, 9, 6)), [0])  # clocks forward at midnight: the day starts at 1:00
def test_every_second_of_a_day_is_in_exactly_one_local_hour_of_that_day(
    zone_day: tuple[ZoneInfo, date], picks: list[int]
) -> None:
    zone, day = zone_day
    start, end = day_start_ms(day, zone), day_start_ms(day + timedelta(1), zone)
    every_quarter = range(start, end, 900_000)  # so that each hour of the day is met, however short
    seconds = sorted({*every_quarter, end - 1000, *(start + (p * 1000) % (end - start) // 1000 * 1000 for p in picks)})
    assert local_hour_start_ms(start, zone) == start  # a day begins with an hour
    hours = [local_hour_start_ms(t, zone) for t in seconds]
    assert hours == sorted(hours)  # monotone ...
    for t, h in zip(seconds, hours, strict=True):
        assert (
            h <= t < h + HOUR_MS and local_hour_start_ms(h, zone) == h
        )  # ... and each hour its own start: a partition
        assert local(h, zone).date() == day  # the hour is in the second's local day
        assert local_hour(h, zone) == local(h, zone).hour
        wall = local(h, zone)
        assert (wall.minute, wall.second) == (0, 0) or utc_offset_ms(h - 1000, zone) != utc_offset_ms(h, zone)
    assert round(day_hours(day, zone) * 3600) == (end - start) // 1000


def thigh(t_ms: int, sitting: bool) -> FeatureFrameV1:
    return FeatureFrameV1(t_ms=t_ms, incl_deg=80.0 if sitting else 5.0, enmo_mg=2.0, sd_mg=10.0, n=50)


@settings(max_examples=40, deadline=None)
@given(zone_and_day(), st.integers(20, 300), st.lists(st.booleans(), min_size=1, max_size=30))
@example((ZoneInfo("Asia/Kolkata"), date(2026, 3, 2)), 60, [True, False])
@example((ZoneInfo("Europe/Berlin"), date(2026, 10, 25)), 45, [True])
def test_daily_totals_are_the_sums_of_their_hours(
    zone_day: tuple[ZoneInfo, date], step_s: int, pattern: list[bool]
) -> None:
    """Seconds fed to a wearer from the day before to the day after: per local day, the hours' posture seconds add up to
    the seconds of that day, each counted in the local hour of its clock."""
    zone, day = zone_day
    w = WearerDetection("thigh", BoutTracker(10, 60))
    device = w.device("thigh", "thigh", lambda: BoutTracker(10, 60))
    start, end = day_start_ms(day - timedelta(1), zone), day_start_ms(day + timedelta(2), zone)
    want: Counter[tuple[date, int, str]] = Counter()
    hours: list[HourSummary] = []
    for i, t in enumerate(range(start, end, step_s * 1000)):
        f = thigh(t, pattern[i % len(pattern)])
        s = w.second(f, device, device.second(f), 10.0, zone, 300)
        want[(local(t, zone).date(), local(t, zone).hour, s.posture)] += 1
        if s.closed_hour is not None:
            hours.append(s.closed_hour)
    last = w.close()[1]
    hours += [last] if last is not None else []
    got: Counter[tuple[date, int, str]] = Counter()
    for h in hours:
        assert h.local_hour == local(h.hour_ms, zone).hour
        for posture, n in h.posture_s.items():
            if n:
                got[(local(h.hour_ms, zone).date(), h.local_hour, posture)] += n
    assert got == want
    per_day = Counter({(d, p): 0 for d, _, p in want})
    for (d, _, p), n in got.items():
        per_day[(d, p)] += n
    for d in (day - timedelta(1), day, day + timedelta(1)):
        seconds_of_day = sum(1 for t in range(start, end, step_s * 1000) if local(t, zone).date() == d)
        assert sum(n for (dd, _), n in per_day.items() if dd == d) == seconds_of_day


def test_a_still_run_found_not_worn_leaves_the_hours_it_was_counted_in() -> None:
    one, two = HourSummary(0), HourSummary(HOUR_MS)
    still = StillSeconds(since_ms=HOUR_MS - 600_000)
    for _ in range(600):
        one.add_posture("sitting")
        still.add(one, "sitting")
    for i in range(300):
        two.add_posture("sitting")
        still.add(two, "sitting")
        two.add_exposure(HOUR_MS + i * 1000, "sitting", 12.0, 25.0)
        still.add_exposure(two, HOUR_MS + i * 1000, "sitting", 12.0, 25.0)
    two.add_exposure(HOUR_MS + 400_000, "standing", 3.0, 5.0)  # a second the run did not count
    still.detach(one)  # an hour the wearer holds no more: the run keeps it; ``two`` it names by its start
    assert [ref for ref, _, _ in still.hours] == [one, HOUR_MS]
    changed = still.not_worn({HOUR_MS: two})
    assert changed[0] is one and changed[1] is two and still.hours == []
    assert (one.posture_s["sitting"], one.posture_s["not_worn"]) == (0, 600)
    m = two.metrics()
    assert (m["sitting_s"], m["not_worn_s"]) == (0, 300)
    assert (m["static_s"], m["forward_20_60_s"], m["forward_0_20_s"], m["lean_above_10deg_s"]) == (1, 0, 1, 0)
    assert (m["lean_right_deg_s"], m["lean_symmetry_index_pct"], m["lean_above_10deg_pct"]) == (1.0, 200.0, 0.0)


class _ChangeAt1020(tzinfo):
    """A zone whose offset goes from 0 to +1 h at 10:20 UTC on 2026-05-01 (no real zone changes inside a wall-clock
    hour in the wire's years; some did before)."""

    CHANGE = datetime(2026, 5, 1, 10, 20, tzinfo=UTC)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        after = dt is not None and dt.replace(tzinfo=None) >= datetime(2026, 5, 1, 11, 20)  # local 10:20-11:20: none
        return timedelta(hours=1) if after else timedelta(0)

    def fromutc(self, dt: datetime) -> datetime:
        return dt + (timedelta(hours=1) if dt.replace(tzinfo=UTC) >= self.CHANGE else timedelta(0))

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)


def test_an_hour_with_an_offset_change_inside_is_not_kept() -> None:
    zone = _ChangeAt1020()
    change = ms(_ChangeAt1020.CHANGE)
    assert utc_offset_ms(change, zone) == HOUR_MS and utc_offset_ms(change - 1000, zone) == 0
    before, after = change - 10 * 60_000, change + 10 * 60_000
    assert local_hour_start_ms(before, zone) == change - 20 * 60_000  # 10:00 UTC, the wall-clock hour at offset 0
    assert local_hour_start_ms(after, zone) == change  # not the hour found before: it begins at the change
