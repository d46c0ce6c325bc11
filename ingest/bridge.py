"""The bridge: MQTT -> point sink (InfluxDB or the embedded store), many points per write.

It subscribes at QoS 1 with a persistent session (messages published while it is down wait in the broker),
decodes every message against the wire contract, turns it into points (ingest.store.model) and hands them
to a writer task through a bounded queue (back-pressure, not memory growth). The writer batches up to
``batch_max_points`` or ``flush_interval_s`` and retries a database that is unreachable with backoff.
Bad messages are dead-lettered, never fatal.

Still to come with the storage issue (#6): acknowledging MQTT messages only after the write, an on-disk
spool for long database outages, and isolating the bad lines of a batch the database rejects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import aiomqtt

from ingest.backoff import backoff_delay_s
from ingest.errors import SinkRejected, SinkUnavailable, WireError
from ingest.mqtt import DeadLetters, Publisher, payload_bytes
from ingest.settings import BridgeSettings
from ingest.store.model import points_for
from ingest.store.points import Point, PointSink, to_line_protocol
from ingest.wire import Topics, decode

_LOGGER = logging.getLogger(__name__)


@dataclass
class BridgeCounters:
    messages: int = 0
    points_written: int = 0
    writes: int = 0
    write_retries: int = 0
    rejected_batches: int = 0


class Bridge:
    def __init__(self, *, topics: Topics, sink: PointSink, settings: BridgeSettings, name: str = "bridge") -> None:
        self.topics = topics
        self.sink = sink
        self.settings = settings
        self.name = name
        self.counters = BridgeCounters()
        self.dead_letters = DeadLetters(name, topics)
        self.ready = asyncio.Event()
        self._queue: asyncio.Queue[list[Point]] = asyncio.Queue(maxsize=settings.queue_max_messages)
        self._in_flight = 0

    def subscriptions(self) -> list[str]:
        t = self.topics
        return [t.all_features(), t.all_status(), t.all_prompts(), t.all_events()]

    async def run(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then write everything already received and return."""
        for topic in self.subscriptions():
            await client.subscribe(topic, qos=1)
        self.ready.set()
        _LOGGER.info("%s: subscribed under %s", self.name, self.topics.base)
        writer = asyncio.create_task(self._writer(client), name=f"{self.name}-writer")
        consumer = asyncio.create_task(self._consume(client), name=f"{self.name}-consume")
        stopper = asyncio.create_task(stop.wait(), name=f"{self.name}-stop")
        try:
            done, _ = await asyncio.wait({consumer, stopper, writer}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopper:
                    task.result()  # a consumer or writer failure propagates (MQTT connection lost)
        finally:
            consumer.cancel()
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            await self._queue.put([])  # sentinel: the writer flushes and returns
            await writer

    async def _consume(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            await self.handle(client, str(message.topic), payload_bytes(message))

    async def handle(self, publisher: Publisher, topic: str, payload: bytes) -> None:
        self.counters.messages += 1
        try:
            _, decoded = decode(self.topics, topic, payload)
        except WireError as exc:
            await self.dead_letters.send(publisher, topic, payload, str(exc))
            return
        points = points_for(decoded, int(time.time() * 1000))
        if points:
            self._in_flight += 1
            await self._queue.put(points)

    async def drain(self) -> None:
        """Wait until everything received so far is written."""
        while self._in_flight or not self._queue.empty():
            await asyncio.sleep(0.02)

    async def _writer(self, publisher: Publisher) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            batch: list[Point] = []
            taken = 0
            first = await self._queue.get()
            if not first:
                break
            batch.extend(first)
            taken += 1
            deadline = loop.time() + self.settings.flush_interval_s
            while len(batch) < self.settings.batch_max_points:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    if loop.time() >= deadline or self._in_flight == taken:
                        break
                    await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))
                    continue
                if not item:
                    stopping = True
                    break
                batch.extend(item)
                taken += 1
            await self._write(publisher, batch)
            self._in_flight -= taken

    async def _write(self, publisher: Publisher, batch: list[Point]) -> None:
        attempt = 0
        while True:
            try:
                await self.sink.write(batch)
            except SinkUnavailable as exc:
                delay = backoff_delay_s(attempt, cap_s=10.0)
                self.counters.write_retries += 1
                _LOGGER.warning(
                    "%s: write of %d points failed (%s), retrying in %.1fs", self.name, len(batch), exc, delay
                )
                attempt += 1
                await asyncio.sleep(delay)
                continue
            except SinkRejected as exc:
                self.counters.rejected_batches += 1
                reason = f"database rejected the batch: {exc}"
                await self.dead_letters.send(publisher, f"{self.topics.base}/_store", to_line_protocol(batch), reason)
                return
            self.counters.writes += 1
            self.counters.points_written += len(batch)
            if attempt:
                _LOGGER.info("%s: database is back, wrote %d points after %d retries", self.name, len(batch), attempt)
            return
