"""The alert service's tick makes a full collection once per idle spell (ingest/heap.py ``IdleCollection``), the
idle time injected (the spell's minute made none)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.service import AlertService
from ingest.heap import IdleCollection
from ingest.wire import Topics
from tests.support.collector import full_passes, garbage_in_generation_2, only_explicit_passes


class Broker:
    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        pass


async def until_freed(probe: object, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while probe() is not None:  # type: ignore[operator]
            await asyncio.sleep(0.005)


def test_the_tick_makes_one_full_pass_per_idle_spell() -> None:
    engine = AlertEngine(EngineConfig(), load_catalog(), PolicyBook(PromptPolicy()))
    service = AlertService(topics=Topics("k"), engine=engine, idle_checkpoint_s=0.01)  # a tick every 10 ms
    service._idle_heap = IdleCollection(idle_s=0.0)  # idle once a tick has seen no message since the one before

    async def run() -> tuple[int, int, bool, int]:
        tick = asyncio.create_task(service._tick(Broker()))  # type: ignore[arg-type]
        try:
            before = full_passes()
            await until_freed(garbage_in_generation_2())
            first = full_passes() - before
            probe = garbage_in_generation_2()
            for _ in range(20):  # some ticks of the same idle spell
                await asyncio.sleep(0.01)
            kept = probe() is not None
            same_spell = full_passes() - before
            service._last_message = time.monotonic()  # a take: the spell is over, the next one begins
            await until_freed(probe)
            return first, same_spell, kept, full_passes() - before
        finally:
            tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tick

    with only_explicit_passes():
        first, same_spell, kept, after_a_message = asyncio.run(run())
    assert (first, same_spell, kept, after_a_message) == (1, 1, True, 2)
