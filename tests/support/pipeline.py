"""Runs the real services in-process against real servers, and records what crosses the broker."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from alerts.engine import engine_from_settings
from alerts.service import AlertService
from ingest.bridge import Bridge
from ingest.mqtt import payload_bytes, serve
from ingest.settings import MqttSettings
from ingest.store.points import PointSink
from ingest.store.spool import open_spool
from ingest.wire import Topics
from kinetic.settings import KineticSettings
from tests.support.servers import Server


def broker_settings(mosquitto: Server, unique: str, **sections: Any) -> KineticSettings:
    """The settings of a test's services over ``mosquitto``: topics and client ids under ``unique`` (each test its
    own, so tests run in any order), ``sections`` (``alerts={...}``, ``store={...}``) as ``KineticSettings`` takes
    them."""
    mqtt = MqttSettings(host=mosquitto.host, port=mosquitto.port, topic_root=unique, client_id_prefix=unique)
    return KineticSettings(mqtt=mqtt, **sections)


async def until(predicate: Callable[[], bool], timeout_s: float = 30.0, what: str = "condition") -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout_s}s waiting for {what}") from None


@dataclass
class Recorder:
    """Collects every message on some topic filters (a subscriber of our own)."""

    messages: list[tuple[str, bytes]] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def on(self, suffix: str) -> list[bytes]:
        return [p for t, p in self.messages if t.endswith(suffix)]


@contextlib.asynccontextmanager
async def recording(
    settings: KineticSettings, filters: list[str], name: str, *, persistent: bool = False
) -> AsyncIterator[Recorder]:
    """Record messages. ``persistent``: a QoS 1 persistent session that reconnects (survives a broker restart)."""
    recorder = Recorder()

    async def consume(client: aiomqtt.Client) -> None:
        async for message in client.messages:
            recorder.messages.append((str(message.topic), payload_bytes(message)))

    async def session(client: aiomqtt.Client, stop: asyncio.Event) -> None:
        for f in filters:
            await client.subscribe(f, qos=1)
        recorder.ready.set()
        task = asyncio.create_task(consume(client))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        task.cancel()
        stopper.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)
        if task in done and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    stop = asyncio.Event()
    runner = asyncio.create_task(serve(session, settings.mqtt, name, stop, clean_session=not persistent))
    await until(recorder.ready.is_set, 20, "the recorder")
    try:
        yield recorder
    finally:
        stop.set()
        await runner


@dataclass
class Pipeline:
    settings: KineticSettings
    topics: Topics
    bridge: Bridge
    alerts: AlertService
    stop: asyncio.Event

    async def settle(self, batches: int, timeout_s: float = 60.0) -> None:
        """Wait until the alert service has processed ``batches`` and the bridge has written all it got."""
        c = self.alerts.engine.counters
        await until(lambda: c.batches >= batches, timeout_s, f"{batches} batches")
        seen = -1
        while seen != self.bridge.counters.messages:
            seen = self.bridge.counters.messages
            await asyncio.sleep(0.3)
            await self.bridge.drain()


@contextlib.asynccontextmanager
async def running_pipeline(
    settings: KineticSettings, sink: PointSink, name: str, spool_path: Path
) -> AsyncIterator[Pipeline]:
    topics = Topics(settings.mqtt.topic_root)
    spool = open_spool(settings.bridge, spool_path)
    engine = engine_from_settings(settings.alerts)
    pipeline = Pipeline(
        settings,
        topics,
        Bridge(
            topics=topics, sink=sink, spool=spool, settings=settings.bridge, max_ahead_ms=settings.clock.max_ahead_ms
        ),
        # a dated scenario replayed as if now (its prompts are sent, not refused as expired)
        AlertService(topics=topics, engine=engine, max_ahead_ms=settings.clock.max_ahead_ms, send_expired=True),
        asyncio.Event(),
    )
    async with asyncio.TaskGroup() as group:
        group.create_task(serve(pipeline.bridge.run, settings.mqtt, f"{name}-bridge", pipeline.stop, manual_ack=True))
        group.create_task(serve(pipeline.alerts.run, settings.mqtt, f"{name}-alerts", pipeline.stop))
        await until(lambda: pipeline.bridge.ready.is_set() and pipeline.alerts.ready.is_set(), 20, "services")
        try:
            yield pipeline
        finally:
            pipeline.stop.set()
    spool.close()


def sync(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test function with asyncio.run (fixtures still resolve: the signature is kept)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper
