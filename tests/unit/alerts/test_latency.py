"""The alert service's account of where a prompt's time goes (alerts/latency.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time

import pytest

import alerts.latency
from alerts.latency import KEEP, GcPauses, MessageTrace, PromptPaths, loop_lag, percentiles_ms


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    assert percentiles_ms([]) == {}
    assert percentiles_ms([0.001 * k for k in range(1, 101)]) == {"p50": 50.5, "p99": 99.0, "max": 100.0}
    assert percentiles_ms([0.002]) == {"p50": 2.0, "p99": 2.0, "max": 2.0}


def test_each_step_is_the_time_from_the_step_before() -> None:
    paths = PromptPaths()
    message = MessageTrace(taken=10.0, age_ms=40.0, locked=10.001, started=10.003, decoded=10.0031, decided=10.0035)
    trace = paths.prompt(message)
    assert trace is not None
    trace.outbox, trace.sending, trace.acked = 10.0036, 10.004, 10.006
    unfinished = paths.prompt(MessageTrace(taken=11.0))  # no PUBACK yet: not counted
    assert unfinished is not None
    paths.checkpoint_store_s.append(0.02)
    summary = paths.summary()
    steps = summary["steps_ms"]
    assert isinstance(steps, dict)
    assert summary["prompts"] == 1
    assert steps["age_at_take"]["p50"] == 40.0
    assert {step: steps[step]["p50"] for step in ("locked", "started", "decoded", "decided", "outbox")} == {
        "locked": 1.0,
        "started": 2.0,
        "decoded": 0.1,
        "decided": 0.4,
        "outbox": 0.1,
    }
    assert (steps["sending"]["p50"], steps["acked"]["p50"], steps["total"]["p50"]) == (0.4, 2.0, 6.0)
    assert summary["checkpoint_store_ms"] == {"p50": 20.0, "p99": 20.0, "max": 20.0}


def test_the_traces_kept_are_bounded() -> None:
    paths = PromptPaths()
    paths.prompts = [paths.prompt(MessageTrace(taken=0.0)) for _ in range(KEEP)]  # type: ignore[misc]
    assert paths.prompt(MessageTrace(taken=0.0)) is None and len(paths.prompts) == KEEP


def test_the_collectors_pauses_are_timed_per_generation_while_installed() -> None:
    paths = PromptPaths()
    with GcPauses(paths):
        gc.collect()  # a full pass
        gc.collect(0)
    gc.collect()  # after: not counted
    assert len(paths.gc_s[2]) == 1 and len(paths.gc_s[0]) >= 1
    assert all(pause >= 0 for pauses in paths.gc_s.values() for pause in pauses)
    assert paths.summary()["gc_ms"]["gen2"]["n"] == 1  # type: ignore[index]


def test_a_blocked_event_loop_shows_as_lag() -> None:
    paths = PromptPaths()

    async def run() -> None:
        probe = asyncio.create_task(loop_lag(paths, every_s=0.005))
        await asyncio.sleep(0.03)
        time.sleep(0.08)  # noqa: ASYNC251 (the loop held on purpose, as by a long take or a collection)
        await asyncio.sleep(0.03)
        probe.cancel()

    asyncio.run(run())
    assert max(paths.loop_lag_s) >= 0.07
    assert paths.summary()["loop_lag_ms"]["max"] >= 70  # type: ignore[index]


def test_the_loop_lag_probe_stops_waking_once_its_samples_are_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``KEEP`` samples the probe sleeps no more (an idle service was woken every 10 ms for good) and does
    not return either (the service stops when one of its tasks ends)."""
    monkeypatch.setattr(alerts.latency, "KEEP", 5)
    paths = PromptPaths()
    every_s = 0.0013  # the probe's sleeps, told apart from this test's own
    sleeps = []
    sleep = asyncio.sleep

    async def counted(delay: float, result: object = None) -> object:
        if delay == every_s:
            sleeps.append(delay)
        return await sleep(delay, result)

    monkeypatch.setattr(asyncio, "sleep", counted)

    async def run() -> bool:
        probe = asyncio.create_task(loop_lag(paths, every_s=every_s))
        while len(paths.loop_lag_s) < 5:
            await sleep(0.001)
        await sleep(0.1)  # some 75 periods of the probe
        running = not probe.done()
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
        return running

    assert asyncio.run(run())
    assert len(paths.loop_lag_s) == 5 and len(sleeps) == 5
