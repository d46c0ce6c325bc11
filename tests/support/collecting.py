"""The BLE collector on the virtual radio, running against a real broker with a recorder: the set-up every collector
test shares."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from ingest.ble.bumble_backend import VirtualRadio
from ingest.ble.collector import Collector
from ingest.mqtt import serve
from ingest.settings import CollectorSettings, MqttSettings, WearableConfig
from ingest.store.spool import Spool
from ingest.wire import Topics
from kinetic.settings import KineticSettings
from tests.support.pipeline import Recorder, recording, until


def on_radio(
    radio: VirtualRadio,
    wearables: list[WearableConfig],
    topics: Topics,
    tmp_path: Path,
    *,
    batch_s: int,
    scan_timeout_s: int,
) -> Collector:
    """A collector for these wearables on the virtual radio, with its queue in ``tmp_path``."""
    return Collector(
        CollectorSettings(wearables=wearables, batch_s=batch_s, scan_timeout_s=scan_timeout_s),
        topics,
        Spool(tmp_path / "queue.sqlite", 50_000_000),
        scanner_kwargs=radio.scanner_kwargs(),
        client_kwargs=radio.client_kwargs(),
    )


async def stop_and_drain(
    stop: asyncio.Event, ble: asyncio.Task[None], forward: asyncio.Task[None], received_all: Callable[[], bool]
) -> None:
    """Stop the collector, let it send what it queued while closing, wait until the recorder has it."""
    stop.set()
    await asyncio.wait_for(ble, 20)
    await asyncio.wait_for(forward, 30)
    await until(received_all, 30, "the last messages")


@contextlib.asynccontextmanager
async def collecting(collector: Collector, mqtt: MqttSettings, filters: list[str]) -> AsyncIterator[Recorder]:
    """Record ``filters`` while the collector's BLE side and its forwarder run; on leaving, stop the collector and
    wait until the recorder has every batch it queued (and every dead letter, when ``filters`` has the collector's
    dead-letter topic)."""
    stop = asyncio.Event()
    root = mqtt.topic_root
    async with recording(KineticSettings(mqtt=mqtt), filters, f"{root}-rec") as rec:
        ble = asyncio.create_task(collector.run(stop))
        forward = asyncio.create_task(serve(collector.forward, mqtt, f"{root}-collector", stop))
        try:
            yield rec
        except BaseException:
            stop.set()
            for task in (ble, forward):
                task.cancel()
            await asyncio.gather(ble, forward, return_exceptions=True)
            raise
        # every batch it queued, and every dead letter when they are recorded too (they go through the same queue)
        letters = any(f.endswith("/_deadletter/collector") for f in filters)

        def received_all() -> bool:
            if letters and len(rec.on("/_deadletter/collector")) < collector.dead_letters.count:
                return False
            return len(rec.on("/features")) >= collector.counters.batches_queued

        await stop_and_drain(stop, ble, forward, received_all)
