from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.backoff import (
    RETRY_LINE_EVERY_S,
    Endpoint,
    backoff_delay_s,
    reached_line,
    retry_line_due,
    still_waiting_line,
    waiting_line,
)


def test_full_jitter_stays_within_the_exponential_ceiling_and_the_cap() -> None:
    rng = random.Random(1)
    for attempt in range(40):
        ceiling = min(30.0, 0.5 * 2**attempt)
        delays = [backoff_delay_s(attempt, rng=rng) for _ in range(200)]
        assert all(0.05 <= d <= ceiling for d in delays)
    assert max(backoff_delay_s(10, rng=rng) for _ in range(200)) > 15  # really grows to the cap


def test_negative_attempt_is_a_bug() -> None:
    with pytest.raises(ValueError):
        backoff_delay_s(-1)


# --- when a failed attempt gets a log line -----------------------------------------------------------------------


def lines_for(attempts_s: list[float]) -> list[float]:
    """The attempts (times in s) that get a line, as a waiting loop applies the policy."""
    last: float | None = None
    said: list[float] = []
    for now in attempts_s:
        if retry_line_due(now, last):
            said.append(now)
            last = now
    return said


def test_the_first_failure_is_said_then_at_most_one_line_per_30_s() -> None:
    assert retry_line_due(0.0, None)
    assert retry_line_due(123.4, None)  # whenever the first failure comes
    assert not retry_line_due(29.9, 0.0)
    assert retry_line_due(30.0, 0.0)
    assert RETRY_LINE_EVERY_S == 30.0
    # frequent attempts: one a second for two minutes -> a line at 0, 30, 60, 90, 120 s, not 121
    assert lines_for([float(s) for s in range(121)]) == [0.0, 30.0, 60.0, 90.0, 120.0]
    # rare attempts (each slower than the interval, e.g. connect timeouts): every one is said
    assert lines_for([0.0, 45.0, 90.0]) == [0.0, 45.0, 90.0]


def test_a_real_backoff_schedule_gives_few_lines() -> None:
    # the times a loop tries over 10 minutes with the default full-jitter backoff
    rng = random.Random(7)
    times, now, attempt = [], 0.0, 0
    while now < 600:
        times.append(now)
        now += backoff_delay_s(attempt, rng=rng)
        attempt += 1
    said = lines_for(times)
    assert len(times) > 30  # the loop really tried often ...
    assert len(said) <= 600 // 30 + 1  # ... and said so at most every 30 s
    assert said[0] == 0.0


@given(st.lists(st.floats(min_value=0, max_value=10_000, allow_nan=False), min_size=1, max_size=200))
def test_lines_are_30_s_apart_and_none_is_skipped_that_is_due(raw: list[float]) -> None:
    attempts = sorted(raw)
    said = lines_for(attempts)
    assert said[0] == attempts[0]
    assert all(b - a >= RETRY_LINE_EVERY_S for a, b in itertools.pairwise(said))
    # maximal: an attempt without a line came less than 30 s after the line before it
    for now in attempts:
        if now not in said:
            assert now - max(s for s in said if s <= now) < RETRY_LINE_EVERY_S


def test_the_lines_name_the_server_the_setting_and_the_error() -> None:
    broker = Endpoint("MQTT broker", "mqtt.example:1883", "KINETIC_MQTT__HOST / KINETIC_MQTT__PORT")
    first = waiting_line("bridge", broker, "[Errno 111] Connection refused")
    assert first.startswith("bridge: waiting for MQTT broker at mqtt.example:1883 ")
    assert "KINETIC_MQTT__HOST / KINETIC_MQTT__PORT" in first and "Connection refused" in first
    later = still_waiting_line("bridge", broker, 9, 61.2, "timed out", 12.34)
    assert later == (
        "bridge: MQTT broker at mqtt.example:1883 still unreachable after 9 attempts in 61 s (timed out); "
        "next attempt in 12.3 s"
    )
    assert (
        reached_line("bridge", broker, 10, 75.0)
        == "bridge: MQTT broker at mqtt.example:1883 reached after 10 attempts in 75 s"
    )
