"""Waiting for a server: the one retry loop behind every command and service that needs the broker or the database.

The loop only counts attempts, reads the monotonic clock and sleeps; the backoff, when a failed attempt gets a log
line and what the lines say are the pure functions of ingest/backoff.py. A service waits until ``stop`` is set and
says what it waits for once, then at most a line every ``RETRY_LINE_EVERY_S``, then that the server was reached; a
command gives up after ``max_attempts`` with one ``Unreachable`` that names the setting to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

from ingest.backoff import (
    Endpoint,
    backoff_delay_s,
    reached_line,
    retry_line_due,
    still_waiting_line,
    waiting_line,
)
from ingest.errors import Unreachable

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")


@overload
async def retry_until_reached(
    attempt: Callable[[], Awaitable[T]],
    endpoint: Endpoint,
    who: str,
    *,
    retry_on: tuple[type[Exception], ...] = ...,
    stop: None = None,
    max_attempts: int | None = None,
    backoff: Callable[[int], float] = ...,
) -> T: ...


@overload
async def retry_until_reached(
    attempt: Callable[[], Awaitable[T]],
    endpoint: Endpoint,
    who: str,
    *,
    retry_on: tuple[type[Exception], ...] = ...,
    stop: asyncio.Event,
    max_attempts: int | None = None,
    backoff: Callable[[int], float] = ...,
) -> T | None: ...


async def retry_until_reached(
    attempt: Callable[[], Awaitable[T]],
    endpoint: Endpoint,
    who: str,
    *,
    retry_on: tuple[type[Exception], ...] = (Unreachable,),
    stop: asyncio.Event | None = None,
    max_attempts: int | None = None,
    backoff: Callable[[int], float] = backoff_delay_s,
) -> T | None:
    """``await attempt()`` until it returns, and return its result.

    ``attempt`` raises one of ``retry_on`` while ``endpoint`` cannot be used (an ``Unreachable`` lends its
    ``reason`` to the lines); ``backoff(failed attempts - 1)`` seconds pass between attempts (full jitter).
    ``who`` starts every line (the client or service). Returns None as soon as ``stop`` is set (check ``stop``
    when ``attempt`` itself returns None).

    With ``max_attempts`` (a command a person waits for) the loop logs nothing above DEBUG and, after that many
    failed attempts, raises ``Unreachable`` naming the server, the attempts, the last error and the setting to
    check. Any error not in ``retry_on`` propagates at once (refused credentials: retrying will not help).
    """
    loud = max_attempts is None
    attempts = 0
    started_s = time.monotonic()
    last_line_s: float | None = None
    while stop is None or not stop.is_set():
        try:
            result = await attempt()
        except retry_on as exc:
            attempts += 1
            reason = exc.reason if isinstance(exc, Unreachable) else str(exc)
            if max_attempts is not None and attempts >= max_attempts:
                raise Unreachable(str(endpoint), reason, endpoint.settings, attempts) from exc
            delay_s = backoff(attempts - 1)
            waited_s = time.monotonic() - started_s
            if not loud:
                _LOGGER.debug("%s: %s: attempt %d failed (%s)", who, endpoint, attempts, reason)
            elif retry_line_due(waited_s, last_line_s):
                first = last_line_s is None
                line = (
                    waiting_line(who, endpoint, reason)
                    if first
                    else still_waiting_line(who, endpoint, attempts, waited_s, reason, delay_s)
                )
                _LOGGER.warning("%s", line)
                last_line_s = waited_s
            await _sleep(delay_s, stop)
            continue
        if attempts and loud:
            # at the waiting lines' level: whoever saw that it waits sees that the wait is over
            _LOGGER.warning("%s", reached_line(who, endpoint, attempts + 1, time.monotonic() - started_s))
        return result
    return None


async def _sleep(delay_s: float, stop: asyncio.Event | None) -> None:
    """Sleep ``delay_s``, or less when ``stop`` is set meanwhile."""
    if stop is None:
        await asyncio.sleep(delay_s)
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(delay_s):
            await stop.wait()
