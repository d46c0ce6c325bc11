"""Daily readiness decisions over a simulated fortnight with known inputs (alerts/readiness.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerts.detect.posture import Posture
from alerts.readiness import CheckIn, ReadinessDecision, ReadinessTracker, night_of

ZONE = ZoneInfo("Europe/Berlin")
FIRST = date(2026, 1, 5)  # a Monday; no DST change in the fortnight


def ms(day: date, hour: int, minute: int = 0) -> int:
    return round(datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).timestamp() * 1000)


def live_night(
    tracker: ReadinessTracker, day: date, *, rmssd_ms: float | None, lying_h: float = 8.0, worn: bool = True
) -> None:
    """The evening before ``day`` from 18:00 and the morning until 08:00: up until bed time, lying ``lying_h``
    hours until 07:00, then up. The last 10 min of lying carry RR intervals alternating 1000 and 1000 + RMSSD."""
    start = ms(day - timedelta(days=1), 18)
    wake = ms(day, 7)
    bed = wake - round(lying_h * 3_600_000)
    end = ms(day, 8)
    for t in range(start, end, 1000):
        posture: Posture = ("lying" if bed <= t < wake else "sitting") if worn else "not_worn"
        tracker.second(datetime.fromtimestamp(t / 1000, ZONE), posture)
        if rmssd_ms is not None and posture == "lying" and t >= wake - 600_000:
            tracker.beats(t, [1000 if (t // 1000) % 2 else round(1000 + rmssd_ms)])


# day -> (RMSSD of the night or None, lying hours, worn at night, check-in that morning, expected type, reason part)
FORTNIGHT: list[tuple[float | None, float, bool, CheckIn | None, str | None, str]] = [
    (40, 8.0, True, None, "capacity", "HRV baseline not known yet (0 of 3 nights)"),
    (44, 8.0, True, None, "capacity", "8.0 h lying last night"),
    (36, 7.5, True, None, "capacity", "7.5 h lying last night"),
    (40, 8.0, True, None, "capacity", "HRV within your normal range"),
    (25, 8.0, True, None, "relief", "HRV below your normal range"),
    (40, 5.2, True, None, "relief", "5.2 h lying last night"),
    (40, 8.0, True, CheckIn(0, pain=6), "relief", "pain 6/10"),
    (40, 8.0, True, CheckIn(0, stress="high"), "relief", "stress high"),
    (None, 8.0, False, None, None, ""),  # not worn that night, no check-in for a day: the weekly plan
    (60, 8.0, True, None, "capacity", "HRV above your normal range"),
    (40, 8.0, True, CheckIn(0, pain=2, stress="low"), "capacity", "pain 2/10"),
    (25, 5.0, True, CheckIn(0, pain=8), "relief", "HRV below your normal range, 5.0 h lying last night, pain 8/10"),
    (40, 8.0, True, None, "capacity", "HRV within your normal range"),
    (None, 9.0, True, None, "capacity", "9.0 h lying last night"),  # no strap that night: lying alone decides
]


def test_a_fortnight_of_known_inputs_gives_the_expected_days() -> None:
    tracker = ReadinessTracker()
    got: list[ReadinessDecision | None] = []
    for i, (rmssd_ms, lying_h, worn, checkin, _, _) in enumerate(FORTNIGHT):
        day = FIRST + timedelta(days=i)
        live_night(tracker, day, rmssd_ms=rmssd_ms, lying_h=lying_h, worn=worn)
        if checkin is not None:
            tracker.checkin(CheckIn(ms(day, 7, 30), checkin.pain, checkin.stress))
        got.append(tracker.decide_day(ms(day, 8), day))
        assert tracker.decide_day(ms(day, 9), day) is None  # once per day
    for i, (decision, (_, _, _, _, expected, reason)) in enumerate(zip(got, FORTNIGHT, strict=True)):
        day = FIRST + timedelta(days=i)
        if expected is None:
            assert decision is None, f"day {i + 1}"
            assert tracker.day_type(day) is None or i != len(FORTNIGHT) - 1
            continue
        assert decision is not None, f"day {i + 1}"
        assert (decision.day, decision.day_type) == (day, expected), f"day {i + 1}: {decision.words}"
        assert reason in decision.words, f"day {i + 1}: {decision.words}"
    assert got[4] is not None and got[4].metrics["rmssd_ms"] == pytest.approx(25.0, abs=0.5)
    assert got[4].metrics["relief"] == 1.0 and got[3] is not None and got[3].metrics["relief"] == 0.0
    assert got[5] is not None and got[5].metrics["lying_h"] == pytest.approx(5.2, abs=0.01)
    assert tracker.day_type(FIRST + timedelta(days=13)) == "capacity"
    assert len(tracker.history) == 12  # nights with a reading


def test_a_night_full_of_artefacts_says_so_and_lying_time_still_decides() -> None:
    tracker = ReadinessTracker()
    day = FIRST
    start, wake = ms(day, 0), ms(day, 7)
    for k, t in enumerate(range(start, ms(day, 8), 1000)):
        tracker.second(datetime.fromtimestamp(t / 1000, ZONE), "lying" if t < wake else "sitting")
        if t >= wake - 600_000 and t < wake:
            tracker.beats(t, [(400, 1900, 700, 2300, 1100)[k % 5]])
    decision = tracker.decide_day(ms(day, 8), day)
    assert decision is not None and decision.day_type == "capacity"
    assert "no HRV reading" in decision.words and "artefacts" in decision.words
    assert "rmssd_ms" not in decision.metrics


def test_old_check_ins_expire_after_a_day() -> None:
    tracker = ReadinessTracker()
    tracker.checkin(CheckIn(ms(FIRST, 7), pain=9))  # 25 h before
    assert tracker.decide_day(ms(FIRST + timedelta(days=1), 8), FIRST + timedelta(days=1)) is None
    tracker.checkin(CheckIn(ms(FIRST + timedelta(days=2), 7), pain=9))
    later = tracker.decide_day(ms(FIRST + timedelta(days=2), 8), FIRST + timedelta(days=2))
    assert later is not None and later.day_type == "relief"


def test_night_of() -> None:
    assert night_of(datetime(2026, 1, 5, 23, 0, tzinfo=ZONE)) == date(2026, 1, 6)
    assert night_of(datetime(2026, 1, 6, 6, 0, tzinfo=ZONE)) == date(2026, 1, 6)
    assert night_of(datetime(2026, 1, 6, 15, 0, tzinfo=ZONE)) is None


def test_a_sensor_put_on_in_the_morning_says_nothing_about_the_night() -> None:
    tracker = ReadinessTracker()
    for t in range(ms(FIRST, 7), ms(FIRST, 9), 1000):  # worn from 07:00, sitting: no night seen
        tracker.second(datetime.fromtimestamp(t / 1000, ZONE), "sitting")
    assert tracker.decide_day(ms(FIRST, 9), FIRST) is None


def test_an_afternoon_nap_is_not_the_nights_hrv() -> None:
    tracker = ReadinessTracker()
    start, wake = ms(FIRST - timedelta(days=1), 22), ms(FIRST, 7)
    for t in range(start, wake, 1000):  # the night: RMSSD 40 ms in its last 10 min
        tracker.second(datetime.fromtimestamp(t / 1000, ZONE), "lying")
        if t >= wake - 600_000:
            tracker.beats(t, [1000 if (t // 1000) % 2 else 1040])
    for t in range(ms(FIRST, 14), ms(FIRST, 14, 10), 1000):  # the sensor back on at 14:00, a nap: RMSSD 100 ms
        tracker.second(datetime.fromtimestamp(t / 1000, ZONE), "lying")
        tracker.beats(t, [1000 if (t // 1000) % 2 else 1100])
    decision = tracker.decide_day(ms(FIRST, 14, 10), FIRST)
    assert decision is not None and decision.metrics["rmssd_ms"] == pytest.approx(40.0)
