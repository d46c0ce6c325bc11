"""Store-and-forward for Kinetic's senders (``kinetic collect``, ``kinetic phone``): every message goes through an
on-disk queue first and is removed only once the broker acknowledged it (QoS 1), so a broker outage, a lost link or
a crash loses nothing already queued, and messages leave in the order they happened.

One queue entry is one MQTT message: ``topic\\nretain\\npayload`` (``retain`` is ``0`` or ``1``); ``kinetic data``
reads and erases a wearer's entries in that form (ingest/rights.py). When the queue is full the **oldest** entries
are dropped (a sensor's stream cannot be paused): counted, and said once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from ingest.mqtt import Publisher
from ingest.store.spool import Spool, SpoolFull

_LOGGER = logging.getLogger(__name__)
SHUTDOWN_FLUSH_S = 10.0  # after a stop, how long what is still queued may take to go out


class ForwardCounters(Protocol):
    batches_published: int  # entries sent and acknowledged
    dropped_batches: int  # the oldest entries dropped from a full queue


def entry(topic: str, payload: bytes, retain: bool) -> bytes:
    """One queue entry: ``topic\\nretain\\npayload``."""
    return topic.encode() + (b"\n1\n" if retain else b"\n0\n") + payload


def parse_entry(body: bytes) -> tuple[str, bool, bytes]:
    """``entry``'s inverse: (topic, retain, payload)."""
    topic, retain, payload = body.split(b"\n", 2)
    return topic.decode(), retain == b"1", payload


class Forwarder:
    """A sender's queue (``spool``) and the loop that sends it. ``put`` from the sensor side, ``send`` on the MQTT
    side; ``counters`` are the sender's own (``batches_published``, ``dropped_batches``)."""

    def __init__(self, spool: Spool, counters: ForwardCounters, name: str) -> None:
        self.spool = spool
        self.counters = counters
        self.name = name
        self.queued = asyncio.Event()  # set whenever something was put (or the producer is done)

    def put(self, topic: str, payload: bytes, retain: bool, points: int) -> None:
        body = entry(topic, payload, retain)
        while True:
            try:
                self.spool.append(body, points)
                break
            except SpoolFull:
                oldest = self.spool.peek(1)[:1]
                if not oldest:  # full by counts the file no longer holds (another process erased entries)
                    self.spool.recount()
                    continue
                if self.counters.dropped_batches == 0:
                    _LOGGER.warning("%s: queue %s is full; dropping the oldest batches", self.name, self.spool.path)
                self.spool.remove(oldest)
                self.counters.dropped_batches += 1
        self.queued.set()

    async def send(
        self,
        publisher: Publisher,
        stop: asyncio.Event,
        *,
        tick: Callable[[bool], None] | None = None,
        producer_done: Callable[[], bool] = lambda: True,
    ) -> None:
        """Send the queue in order, an entry removed once acknowledged; a lost connection raises and the entry
        stays, to be sent after reconnecting. ``tick(stopping)`` runs before each entry (a sender flushing what it
        holds back). After ``stop``: once ``producer_done()`` and the queue is empty, or after ``SHUTDOWN_FLUSH_S``,
        it returns."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while True:
            stopping = stop.is_set()
            if tick is not None:
                tick(stopping)
            if stopping:
                deadline = deadline or loop.time() + SHUTDOWN_FLUSH_S
                if (producer_done() and not self.spool.batches) or loop.time() > deadline:
                    return
            entries = self.spool.peek(1)[:1]  # exactly one entry (peek may add zero-point entries such as statuses)
            if not entries:
                if self.spool.batches:  # counted but gone: erased by another process (kinetic data delete)
                    self.spool.recount()
                self.queued.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self.queued.wait()
                continue
            topic, retain, payload = parse_entry(entries[0].body)
            await publisher.publish(topic, payload, qos=1, retain=retain)
            self.spool.remove(entries)
            self.counters.batches_published += 1
