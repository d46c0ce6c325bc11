"""A publisher port that keeps what a service publishes (the services take any object with ``publish``), and a
client whose messages wait in a queue (for a service's consumer)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import aiomqtt

if TYPE_CHECKING:
    from alerts.service import AlertService


class PublishedMessages:
    """Every ``publish`` call as ``(topic, payload)``, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.sent.append((topic, payload))

    def last(self, topic: str) -> str | None:
        """The last payload published on ``topic``, as text."""
        values = [p.decode() for t, p in self.sent if t == topic]
        return values[-1] if values else None

    def dead_letters(self) -> list[str]:
        """The reasons of the dead letters published, in order."""
        return [json.loads(p)["reason"] for t, p in self.sent if "/_deadletter/" in t]


class QueuedClient:
    """A client whose messages wait in its queue (``incoming``, as aiomqtt's: the consumer takes what is waiting in
    one go), numbered 1, 2, ... as given; notes publications and acknowledgements."""

    def __init__(self, messages: list[tuple[str, bytes]]) -> None:
        self.incoming: asyncio.Queue[aiomqtt.Message] = asyncio.Queue()
        for mid, (topic, payload) in enumerate(messages, 1):
            self.deliver(mid, topic, payload)
        self.published: list[tuple[str, bytes]] = []
        self.acked: list[int] = []

    def deliver(self, mid: int, topic: str, payload: bytes) -> None:
        """One more message waiting (QoS 1, message id ``mid``), as the broker delivers it."""
        self.incoming.put_nowait(aiomqtt.Message(topic, payload, 1, False, mid, None))

    @property
    def messages(self) -> AsyncIterator[aiomqtt.Message]:
        async def waiting() -> AsyncIterator[aiomqtt.Message]:
            while True:
                yield await self.incoming.get()

        return waiting()

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.published.append((topic, payload))

    def ack(self, mid: int, qos: int) -> None:
        self.acked.append(mid)


async def until_handled(service: AlertService, count: int, consumer: asyncio.Task[None]) -> None:
    """Until ``service``'s consumer has taken ``count`` messages since the service began and handled every one: none
    left in its intake and none under its lock. An empty client queue is not enough: the consumer handles what it
    took ``CHUNK_S`` at a time and lets go of the lock between chunks, while the rest waits in its intake. Raises
    what ended ``consumer`` (the consumer's task) if it ends first, rather than waiting for the test's time-out."""
    while sum(service.paths.taken) < count or service._intake:
        if consumer.done():
            consumer.result()  # its exception
            raise AssertionError(f"the consumer ended having taken {sum(service.paths.taken)} of {count} messages")
        await asyncio.sleep(0.001)
    async with service._lock:  # held while messages are handled
        pass
