"""The collector's policy of the long-running services (ingest/heap.py)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from ingest.heap import FULL_EVERY_GEN1, IDLE_COLLECT_S, IdleCollection, collect_when_idle, settle_heap
from tests.support.collector import full_passes, garbage_in_generation_2, only_explicit_passes


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector")
def test_start_ups_objects_are_frozen_and_full_passes_spaced() -> None:
    kept = [[i] for i in range(10_000)]  # lists: tracked by the collector
    settle_heap("test")
    assert gc.get_freeze_count() >= len(kept)
    gen0, gen1, gen2 = gc.get_threshold()
    assert gen2 == FULL_EVERY_GEN1 and (gen0, gen1) == (700, 10)  # young passes as often as CPython's default
    walked = {id(o) for o in gc.get_objects(generation=2)}
    assert all(gc.is_tracked(k) and id(k) not in walked for k in kept)  # tracked, but in no generation walked again


@pytest.fixture
def no_automatic_passes() -> Iterator[None]:
    with only_explicit_passes():
        yield


@pytest.mark.usefixtures("no_automatic_passes")
def test_a_full_pass_comes_once_per_idle_spell_of_a_minute_on_the_callers_clock() -> None:
    idle = IdleCollection()
    assert idle.idle_s == IDLE_COLLECT_S == 60.0
    probe = garbage_in_generation_2()
    passes = full_passes()
    for now_s in range(0, 600, 10):  # a message every 10 s: never idle a minute
        assert not idle.collect(now_s, now_s // 10, "test")
    assert probe() is not None and full_passes() == passes
    assert not idle.collect(649, 59, "test")  # the last message, seen at 590 s: idle for 59 s
    assert idle.collect(650, 59, "test") and probe() is None and full_passes() == passes + 1
    probe = garbage_in_generation_2()
    assert not any(idle.collect(now_s, 59, "test") for now_s in range(660, 3600, 10))  # the same idle spell
    assert probe() is not None and full_passes() == passes + 1
    assert not idle.collect(3600, 60, "test")  # a message: a new spell
    assert not idle.collect(3659, 60, "test") and idle.collect(3660, 60, "test") and probe() is None


@pytest.mark.usefixtures("no_automatic_passes")
def test_collect_when_idle_polls_the_services_activity_on_its_clock() -> None:
    """The bridge's loop (``collect_when_idle``): its message count read at each poll, time from the clock given."""
    polls = []
    probe = garbage_in_generation_2()

    def clock() -> float:
        polls.append(None)
        return 30.0 * len(polls)

    def activity() -> int:  # a message between each of the first ten polls, then none
        return min(len(polls), 10)

    async def run() -> tuple[bool, int]:
        loop = asyncio.create_task(collect_when_idle("test", activity, poll_s=0, clock=clock))
        while len(polls) < 10:
            await asyncio.sleep(0)
        alive_while_busy = probe() is not None
        while probe() is not None and len(polls) < 100:
            await asyncio.sleep(0)
        loop.cancel()
        return alive_while_busy, len(polls)

    alive_while_busy, polled = asyncio.run(run())
    assert alive_while_busy and probe() is None
    assert polled <= 14  # idle from the 11th poll's reading: two minutes of 30-s polls, and one more
