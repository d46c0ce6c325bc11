"""Waiting for a server, as pure functions: the reconnect backoff, when a failed attempt gets a log line, and what
the lines say. The loop (ingest/retry.py) only counts attempts, reads its clock and sleeps."""

from __future__ import annotations

import random
from dataclasses import dataclass


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


RETRY_LINE_EVERY_S = 30.0
"""A loop waiting for a server logs its first failed attempt, then at most one line per this many seconds."""


def retry_line_due(now_s: float, last_line_s: float | None, *, every_s: float = RETRY_LINE_EVERY_S) -> bool:
    """Whether a failed attempt at ``now_s`` gets its own log line: the first always (``last_line_s`` None), later
    ones once ``every_s`` has passed since the last line. Seconds on any monotonic clock.

    Attempts come often at first (full-jitter backoff starts below a second); a line per attempt would bury the
    one line that says what is wrong, and a silent loop looks hung.
    """
    return last_line_s is None or now_s - last_line_s >= every_s


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A server a loop waits for: what it is, where, and the settings that say where.

    ``Endpoint("MQTT broker", "127.0.0.1:1883", "KINETIC_MQTT__HOST / KINETIC_MQTT__PORT")``.
    """

    kind: str
    address: str
    settings: str

    def __str__(self) -> str:
        return f"{self.kind} at {self.address}"


def waiting_line(who: str, endpoint: Endpoint, reason: str) -> str:
    """The first line of a wait: what ``who`` waits for, the setting that names it and why the attempt failed."""
    return (
        f"{who}: waiting for {endpoint} (set by {endpoint.settings}): {reason}; retrying with backoff, "
        f"a line every {RETRY_LINE_EVERY_S:.0f} s at most"
    )


def still_waiting_line(
    who: str, endpoint: Endpoint, attempts: int, waited_s: float, reason: str, delay_s: float
) -> str:
    return (
        f"{who}: {endpoint} still unreachable after {attempts} attempts in {waited_s:.0f} s ({reason}); "
        f"next attempt in {delay_s:.1f} s"
    )


def reached_line(who: str, endpoint: Endpoint, attempts: int, waited_s: float) -> str:
    return f"{who}: {endpoint} reached after {attempts} attempts in {waited_s:.0f} s"
