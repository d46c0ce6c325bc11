from __future__ import annotations

import random

import pytest

from ingest.backoff import backoff_delay_s


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
