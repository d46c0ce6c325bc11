"""Taking what waits in a client's queue (``ingest.mqtt``): at once, without a task or a wait, but a full batch lets
the event loop run once first, so that a consumer draining a backlog of many batches does not hold every other task
(a web page's events, the timers) until it is done. On real Mosquitto: tests/integration/ingest/test_mqtt_client.py."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, cast

import aiomqtt

from ingest.mqtt import MessageTaker, MqttClient, message_batches
from tests.support.publisher import QueuedClient


def first_step(step: Coroutine[Any, Any, list[aiomqtt.Message]]) -> list[aiomqtt.Message] | None:
    """What a coroutine returns at its first step; None if it suspended there instead (it is closed)."""
    try:
        step.send(None)
    except StopIteration as finished:
        batch: list[aiomqtt.Message] = finished.value
        return batch
    step.close()
    return None


def client_with(n: int) -> MqttClient:
    return cast(MqttClient, QueuedClient([(f"k/{i}", str(i).encode()) for i in range(n)]))


def test_a_take_of_a_full_batch_lets_the_loop_run_first_and_loses_nothing_if_cancelled_there() -> None:
    async def scenario() -> tuple[list[aiomqtt.Message] | None, list[aiomqtt.Message] | None, list[bytes]]:
        client = client_with(5)
        taker = MessageTaker(client, max_batch=3)
        full = first_step(taker.take(None))  # a full batch waits: it suspends once, before taking any
        rest = first_step(taker.take(None))  # the 5 are still queued: the take closed there lost none
        again = await taker.take(1.0)  # [] if the closed takes had lost messages
        return full, rest, [bytes(m.payload) for m in again]  # type: ignore[arg-type]

    full, rest, again = asyncio.run(scenario())
    assert full is None
    assert rest is None  # still 5 waiting: a full batch again
    assert again == [b"0", b"1", b"2"]


def test_what_is_left_after_full_batches_is_taken_at_once_and_in_order() -> None:
    async def scenario() -> tuple[list[bytes], list[aiomqtt.Message] | None]:
        client = client_with(5)
        taker = MessageTaker(client, max_batch=3)
        taken = [bytes(m.payload) for m in await taker.take(1.0)]  # type: ignore[arg-type]
        return taken, first_step(taker.take(None))

    taken, rest = asyncio.run(scenario())
    assert taken == [b"0", b"1", b"2"]
    assert rest is not None and [bytes(m.payload) for m in rest] == [b"3", b"4"]  # type: ignore[arg-type]


def test_message_batches_lets_the_loop_run_between_full_batches() -> None:
    """Another task runs between two full batches of a backlog (before the queued take it ran at every batch, through
    aiomqtt's task and wait; a take without them must not starve it)."""

    async def scenario() -> list[str]:
        client = client_with(7)
        seen: list[str] = []

        async def other() -> None:
            while True:
                seen.append("other")
                await asyncio.sleep(0)

        beside = asyncio.create_task(other())
        batches = message_batches(client, max_batch=3)
        async with asyncio.timeout(5):
            for _ in range(3):
                batch = await anext(batches)
                seen.append(f"batch of {len(batch)}")
        beside.cancel()
        return seen

    seen = asyncio.run(scenario())
    batches = [s for s in seen if s.startswith("batch")]
    assert batches == ["batch of 3", "batch of 3", "batch of 1"]
    assert seen.index("other") < seen.index("batch of 3")
    between = seen[seen.index("batch of 3") + 1 : len(seen) - 1 - seen[::-1].index("batch of 3")]
    assert "other" in between
