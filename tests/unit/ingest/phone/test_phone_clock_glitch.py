"""One Sensor Logger reading stamped far ahead (a phone's clock glitch) must cost that reading, not the seconds of the
messages after it (issue 13, "one bad frame never poisons a wearer's state"; ``PhoneClock``)."""

from __future__ import annotations

from ingest.phone.sensorlogger import STANDARD_GRAVITY_MS2, PhoneStream, PushMessage, Reading, time_glitches

G = STANDARD_GRAVITY_MS2
T0_MS = 1_764_230_400_000  # 2025-11-27T08:00:00Z
DAY_MS = 86_400_000


def second(k: int) -> list[Reading]:
    """Second ``k`` of a phone lying still, 50 Hz, with a right clock."""
    return [
        Reading("totalacceleration", (T0_MS + k * 1000 + i * 20) * 1_000_000, {"x": 0.0, "y": -G, "z": 0.0})
        for i in range(50)
    ]


def test_one_reading_a_day_ahead_does_not_move_the_next_messages_a_day_back() -> None:
    """Before: the message's newest reading set the phone-to-receiver offset to minus one day, and the smallest offset
    of the last 32 messages is kept: the seconds of the 32 messages after it were stamped a day early
    (t_ms = T0 - 86,394 s ...), which the bridge stores in yesterday and the alert service skips as stale."""
    s = PhoneStream("ann", "ann-phone", "thigh", batch_s=1)
    frames = []
    for k in range(40):
        readings = second(k)
        if k == 5:  # a glitch: one reading stamped a day ahead
            readings.append(Reading("totalacceleration", (T0_MS + k * 1000 + DAY_MS) * 1_000_000, readings[0].values))
        # each message arrives 1 s after its first reading (the app's push period), by the receiver's right clock
        batches = s.add_message(PushMessage(k, "s1", "d1", readings), received_ms=T0_MS + k * 1000 + 1000)
        frames += [f for b in batches for f in b.frames]
    frames += [f for b in s.flush() for f in b.frames]
    assert all(T0_MS <= f.t_ms < T0_MS + 40_000 for f in frames), sorted({(f.t_ms - T0_MS) // 1000 for f in frames})
    assert sum(f.n for f in frames) >= 39 * 50


def test_a_reading_a_year_back_or_an_odd_battery_time_costs_only_itself() -> None:
    """The same for a reading stamped far back (the aggregator would take it for the phone's clock set back and
    start its seconds again) and for a battery reading with an odd time (not a motion reading: not a clock)."""
    s = PhoneStream("ann", "ann-phone", "thigh", batch_s=1)
    frames = []
    for k in range(20):
        readings = second(k)
        if k == 5:
            readings.insert(10, Reading("totalacceleration", (T0_MS - 365 * DAY_MS) * 1_000_000, readings[0].values))
        if k == 7:
            readings.append(Reading("battery", (T0_MS + DAY_MS) * 1_000_000, {"batteryLevel": 0.5}))
        batches = s.add_message(PushMessage(k, "s1", "d1", readings), received_ms=T0_MS + k * 1000 + 1000)
        frames += [f for b in batches for f in b.frames]
    frames += [f for b in s.flush() for f in b.frames]
    assert [f.t_ms for f in frames] == [T0_MS + k * 1000 for k in range(20)]
    assert sum(f.n for f in frames) == 20 * 50
    assert s.counters.refused_readings == 1 and s.counters.clock_steps == 0 and s.clock.mapped_messages == 0
    assert s.last_refusal is not None and "a clock glitch" in s.last_refusal


def test_time_glitches_keeps_the_message_and_names_what_lies_apart() -> None:
    readings = second(0)
    assert time_glitches(readings) == []
    early = Reading("gravity", (T0_MS - 60_000) * 1_000_000, {"x": 0.0, "y": -G, "z": 0.0})
    late = Reading("accelerometer", (T0_MS + DAY_MS) * 1_000_000, {"x": 0.0, "y": 0.0, "z": 0.0})
    location = Reading("location", (T0_MS - DAY_MS) * 1_000_000, {"x": 0.0})  # not a motion reading: not judged
    assert time_glitches([early, *readings, late, location]) == [0, 51]
    assert time_glitches([]) == [] and time_glitches([location]) == []
