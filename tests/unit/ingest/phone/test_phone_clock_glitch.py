"""One Sensor Logger reading stamped far ahead (a phone's clock glitch) must cost that reading, not the seconds of the
messages after it (issue 13, "one bad frame never poisons a wearer's state"; ``PhoneClock``)."""

from __future__ import annotations

from ingest.phone.sensorlogger import STANDARD_GRAVITY_MS2, PhoneStream, PushMessage, Reading

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
