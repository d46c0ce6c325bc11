"""The one retry loop (ingest/retry.py): what it says while it waits, when it gives up, how it stops."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from ingest.backoff import Endpoint
from ingest.errors import SinkUnavailable, Unreachable
from ingest.retry import retry_until_reached

DB = Endpoint("InfluxDB", "http://db.example:8086", "KINETIC_INFLUX__URL")


class Flaky:
    """Fails ``failures`` times with ``error``, then returns "ok"."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def refused() -> Unreachable:
    return Unreachable(str(DB), "[Errno 111] Connection refused", DB.settings)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_frequent_failures_are_said_once_then_the_server_is_reached(caplog: pytest.LogCaptureFixture) -> None:
    attempt = Flaky(5, refused())
    with caplog.at_level(logging.INFO):
        result = asyncio.run(retry_until_reached(attempt, DB, "bridge", backoff=lambda _: 0.0))
    assert result == "ok" and attempt.calls == 6
    assert warnings(caplog) == [
        "bridge: waiting for InfluxDB at http://db.example:8086 (set by KINETIC_INFLUX__URL): "
        "[Errno 111] Connection refused; retrying with backoff, a line every 30 s at most",
        "bridge: InfluxDB at http://db.example:8086 reached after 6 attempts in 0 s",
    ]


def test_reached_at_once_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert asyncio.run(retry_until_reached(Flaky(0, refused()), DB, "bridge")) == "ok"
    assert [r for r in caplog.records if r.name == "ingest.retry"] == []


def test_a_command_gives_up_with_one_error_naming_server_attempts_reason_and_setting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempt = Flaky(10, refused())
    with caplog.at_level(logging.INFO), pytest.raises(Unreachable) as caught:
        asyncio.run(retry_until_reached(attempt, DB, "cli", max_attempts=3, backoff=lambda _: 0.0))
    assert attempt.calls == 3
    assert str(caught.value) == (
        "InfluxDB at http://db.example:8086 unreachable after 3 attempts ([Errno 111] Connection refused): "
        "check KINETIC_INFLUX__URL"
    )
    assert caught.value.__cause__ is attempt.error
    assert warnings(caplog) == []  # the error is the one line a person sees


def test_errors_of_another_kind_are_not_retried() -> None:
    attempt = Flaky(10, ValueError("refused credentials"))
    with pytest.raises(ValueError, match="refused credentials"):
        asyncio.run(retry_until_reached(attempt, DB, "bridge", backoff=lambda _: 0.0))
    assert attempt.calls == 1


def test_any_listed_error_is_retried_and_its_text_is_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    attempt = Flaky(1, SinkUnavailable("InfluxDB /query answered HTTP 503: starting"))
    with caplog.at_level(logging.INFO):
        result = asyncio.run(
            retry_until_reached(attempt, DB, "bridge", retry_on=(SinkUnavailable,), backoff=lambda _: 0.0)
        )
    assert result == "ok"
    assert "(set by KINETIC_INFLUX__URL): InfluxDB /query answered HTTP 503: starting;" in warnings(caplog)[0]


def test_stop_ends_a_long_wait_at_once() -> None:
    async def run() -> tuple[str | None, float]:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.2, stop.set)
        started = time.monotonic()
        result = await retry_until_reached(Flaky(10, refused()), DB, "bridge", stop=stop, backoff=lambda _: 60.0)
        return result, time.monotonic() - started

    result, took_s = asyncio.run(run())
    assert result is None and took_s < 5
