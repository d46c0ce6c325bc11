"""A phone's motion activity on the wire (issue 17): Sensor Logger's ``activity`` readings mark the seconds from
their time on, ``automotive`` with medium or high confidence only; a bad activity reading is refused naming it."""

from __future__ import annotations

from typing import Any

from ingest.phone.sensorlogger import decode_message, parse_reading
from tests.unit.ingest.phone.test_sensorlogger import T0, G, message, run, still, stream


def activity(t_s: float, what: str, confidence: str = "high") -> dict[str, Any]:
    return {"name": "activity", "time": T0 + round(t_s * 1e9), "values": {"activity": what, "confidence": confidence}}


def test_the_seconds_from_an_automotive_reading_to_the_next_activity_are_marked() -> None:
    payload = [
        *still("totalacceleration", 30, (0.0, 0.0, G)),
        activity(10.5, "automotive"),
        activity(20, "stationary"),
        activity(25, "automotive", "low"),  # not sure enough: not marked
    ]
    frames = run(stream(), [message(0, payload)])
    marked = [round((f.t_ms - T0 // 1_000_000) / 1000) for f in frames if f.activity == "automotive"]
    assert marked == list(range(10, 20))  # second 10 holds the reading at 10.5 s


def test_an_activity_in_an_earlier_message_marks_the_seconds_of_later_ones() -> None:
    s = stream()
    first = [*still("totalacceleration", 10, (0.0, 0.0, G)), activity(5, "automotive", "medium")]
    later = still("totalacceleration", 10, (0.0, 0.0, G), start_ns=T0 + 10 * 10**9)
    frames = run(s, [message(0, first), message(1, later)])
    assert sum(f.activity == "automotive" for f in frames) == 15 and s.counters.unused_readings == 0


def test_a_bad_activity_reading_is_refused_naming_it() -> None:
    assert "is not one of automotive" in str(parse_reading(activity(0, "driving")))
    assert "confidence: sure is not one of" in str(parse_reading(activity(0, "automotive", "sure")))
    decoded = decode_message(message(0, [activity(0, "flying")]))
    assert decoded.refused == 1 and decoded.readings == []
