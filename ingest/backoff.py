"""Reconnect backoff as one pure function; loops only count attempts and sleep."""

from __future__ import annotations

import random


def backoff_delay_s(
    attempt: int, *, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None
) -> float:
    """Full-jitter exponential backoff (AWS architecture blog): uniform in [0, min(cap, base * 2**attempt)].

    ``attempt`` counts from 0. Jitter keeps a fleet of collectors from reconnecting in lock-step after a
    broker restart. A floor of a tenth of ``base_s`` avoids a hot loop when the draw is near zero.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    ceiling = min(cap_s, base_s * (2 ** min(attempt, 32)))
    draw = (rng or random).uniform(0.0, ceiling)
    return max(base_s / 10.0, draw)
